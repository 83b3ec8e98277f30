package io.vitrim.cli;

import io.vitrim.image.ImageDecoder;
import io.vitrim.image.Preprocessor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/** Decodes and preprocesses batches of input images on background threads into pixel tensors. */
final class BatchDecoder implements AutoCloseable {
    private final Preprocessor pre;
    private final int perImage;
    private final ExecutorService pool;

    BatchDecoder(Preprocessor pre, int perImage, int threads) {
        this.pre = pre;
        this.perImage = perImage;
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "vitrim-decode");
            t.setDaemon(true);
            return t;
        });
    }

    /** Pixels {@code [n, 3, H, W]} of {@code items[from, from + n)}; a bad image fails with its one-line error. */
    float[] decode(List<Inputs.Item> items, int from, int n) {
        float[] px = new float[n * perImage];
        List<Future<?>> jobs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Inputs.Item it = items.get(from + i);
            int slot = i;
            jobs.add(pool.submit(() -> pre.toTensor(ImageDecoder.decode(it.bytes(), it.name()), px, slot * perImage)));
        }
        for (Future<?> f : jobs) Futures.await(f);
        return px;
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
