package io.vitrim.train;

import io.vitrim.data.LabelledImages;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Produces the batches of one epoch on a background thread (augmentation included), a few ahead
 * of the training loop, so the loop never waits on data. The last partial batch is dropped.
 */
final class BatchStream implements AutoCloseable {
    /** One batch: normalised pixels [B, 3, H, W] and labels [B]. */
    record Batch(float[] pixels, int[] labels) {}

    private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(3);
    private final Thread thread;
    private volatile boolean stop;

    BatchStream(LabelledImages data, TrainConfig cfg, int epoch, int startStep, float[] mean, float[] std) {
        int n = data.size(), b = cfg.batch(), steps = n / b, per = 3 * data.height() * data.width();
        int[] order = Augment.order(n, cfg.seed(), epoch);
        thread = new Thread(() -> {
            try {
                for (int s = startStep; s < steps && !stop; s++) {
                    float[] px = new float[b * per];
                    int[] labels = new int[b];
                    for (int k = 0; k < b; k++) {
                        int idx = order[s * b + k];
                        Augment.sample(data, idx, cfg.seed(), epoch, cfg.cropPad(), cfg.flip(), cfg.randOps(), cfg.randMagnitude(), mean, std, px, k * per);
                        labels[k] = data.label(idx);
                    }
                    queue.put(new Batch(px, labels));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                queue.offer(e);
            }
        }, "vitrim-batches");
        thread.setDaemon(true);
        thread.start();
    }

    Batch next() throws InterruptedException {
        Object o = queue.take();
        if (o instanceof RuntimeException) throw (RuntimeException) o;
        return (Batch) o;
    }

    @Override
    public void close() {
        stop = true;
        thread.interrupt();
    }
}
