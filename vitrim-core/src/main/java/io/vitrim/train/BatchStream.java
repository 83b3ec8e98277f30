package io.vitrim.train;

import io.vitrim.data.LabelledImages;

import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.IntFunction;

/**
 * Produces the batches of one epoch on a background thread (augmentation included), a few ahead
 * of the training loop, so the loop never waits on data. The last partial batch is dropped.
 */
final class BatchStream implements AutoCloseable {
    /**
     * One batch: normalised pixels [B, 3, H, W] and its targets — class labels [B] for a
     * classifier, or class ids per pixel [B, H, W] ({@code pixelLabels}) for segmentation.
     */
    record Batch(float[] pixels, int[] labels, byte[] pixelLabels, Mixup.Mix mix) {
        Batch(float[] pixels, int[] labels, byte[] pixelLabels) {
            this(pixels, labels, pixelLabels, Mixup.Mix.NONE);
        }
    }

    private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(3);
    private final Thread thread;
    private volatile boolean stop;
    private long waitNanos;

    /** Batches {@code startStep..steps-1}, batch {@code s} made by {@code make.apply(s)}. */
    BatchStream(int steps, int startStep, IntFunction<Batch> make) {
        thread = new Thread(() -> {
            try {
                for (int s = startStep; s < steps && !stop; s++) queue.put(make.apply(s));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException | Error e) {
                try {
                    queue.put(e); // put, not offer: a full queue must not swallow the failure
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                }
            }
        }, "vitrim-batches");
        thread.setDaemon(true);
        thread.start();
    }

    /** A labelled set's augmented batches of one epoch (crop, flip, RandAugment, random erasing, mixup/CutMix as {@code cfg} says). */
    BatchStream(LabelledImages data, TrainConfig cfg, int epoch, int startStep, float[] mean, float[] std) {
        this(data.size() / cfg.batch(), startStep, classification(data, cfg, epoch, mean, std));
    }

    private static IntFunction<Batch> classification(LabelledImages data, TrainConfig cfg, int epoch, float[] mean, float[] std) {
        int b = cfg.batch(), per = 3 * data.height() * data.width();
        int[] order = Augment.order(data.size(), cfg.seed(), epoch);
        return s -> {
            float[] px = new float[b * per];
            int[] labels = new int[b];
            for (int k = 0; k < b; k++) {
                int idx = order[s * b + k];
                Augment.sample(data, idx, cfg.seed(), epoch, cfg.cropPad(), cfg.flip(), cfg.randOps(), cfg.randMagnitude(), cfg.erase(),
                        mean, std, px, k * per);
                labels[k] = data.label(idx);
            }
            if (cfg.mix() == null) return new Batch(px, labels, null);
            Mixup.Mix m = Mixup.draw(cfg.mix(), data.height(), data.width(), new SplittableRandom(Augment.mix(Augment.mix(cfg.seed() ^ 0x3A1BL, epoch + 1), s)));
            Mixup.apply(m, px, b, 3, data.height(), data.width());
            return new Batch(px, labels, null, m);
        };
    }

    Batch next() throws InterruptedException {
        long t0 = System.nanoTime();
        Object o = queue.take();
        waitNanos += System.nanoTime() - t0;
        if (o instanceof RuntimeException e) throw e;
        if (o instanceof Error e) throw e;
        return (Batch) o;
    }

    /** Seconds the training loop has spent blocked in {@link #next()}: ≈ 0 when data keeps up. */
    double waitSeconds() {
        return waitNanos / 1e9;
    }

    @Override
    public void close() {
        stop = true;
        thread.interrupt();
    }
}
