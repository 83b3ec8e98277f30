package io.vitrim.train;

import io.vitrim.data.LabelledImages;

import java.util.SplittableRandom;

/**
 * Training-time augmentation on the decoded 8-bit images: random crop with zero padding
 * ({@code torchvision RandomCrop(size, padding)}), horizontal flip, optionally
 * {@link RandAugment}, then normalisation and optionally {@link RandomErasing}.
 * Each sample's randomness comes from (seed, epoch, index) only, so a run is reproducible and
 * independent of thread timing.
 */
final class Augment {
    private Augment() {}

    static long mix(long a, long b) {
        long z = a * 0x9E3779B97F4A7C15L + b;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * Writes augmented, normalised image {@code i} into {@code dst[off..]} as [3, H, W]: random
     * crop with zero padding, horizontal flip, then {@code randOps} RandAugment operations at
     * magnitude {@code randMagnitude}, normalisation, then random erasing with probability
     * {@code erase} (timm's order: crop, flip, RandAugment, normalise, erase).
     */
    static void sample(LabelledImages data, int i, long seed, int epoch, int pad, boolean flip, int randOps, int randMagnitude,
                       double erase, float[] mean, float[] std, float[] dst, int off) {
        SplittableRandom rnd = new SplittableRandom(mix(mix(seed, epoch + 1), i));
        int h = data.height(), w = data.width(), hw = h * w;
        int dy = pad > 0 ? rnd.nextInt(2 * pad + 1) - pad : 0;
        int dx = pad > 0 ? rnd.nextInt(2 * pad + 1) - pad : 0;
        boolean mirror = flip && rnd.nextBoolean();
        byte[] px = data.pixels();
        int base = i * hw * 3;
        byte[] img = new byte[hw * 3]; // zero: the padding's fill
        for (int y = 0; y < h; y++) {
            int sy = y + dy;
            if (sy < 0 || sy >= h) continue;
            for (int x = 0; x < w; x++) {
                int sx = (mirror ? w - 1 - x : x) + dx;
                if (sx < 0 || sx >= w) continue;
                System.arraycopy(px, base + (sy * w + sx) * 3, img, (y * w + x) * 3, 3);
            }
        }
        if (randOps > 0) RandAugment.apply(img, h, w, randOps, randMagnitude, rnd, new byte[hw * 3]);
        for (int o = 0; o < hw; o++) {
            for (int c = 0; c < 3; c++) dst[off + c * hw + o] = ((img[o * 3 + c] & 0xff) / 255f - mean[c]) / std[c];
        }
        RandomErasing.apply(dst, off, 3, h, w, erase, rnd);
    }

    /** The epoch's sample order: a seeded Fisher–Yates shuffle. */
    static int[] order(int n, long seed, int epoch) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        SplittableRandom rnd = new SplittableRandom(mix(seed ^ 0x5DEECE66DL, epoch + 1));
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
