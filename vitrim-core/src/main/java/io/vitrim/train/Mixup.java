package io.vitrim.train;

import java.util.SplittableRandom;

/**
 * Mixup (Zhang et al., 2018) and CutMix (Yun et al., 2019) on a normalised batch [B, C, H, W],
 * as timm's {@code Mixup(mode='batch', correct_lam=True)}: image b is mixed with image B−1−b.
 * Mixup: x ← λ·x + (1−λ)·x_rev. CutMix: a box of sides int(√(1−λ)·H) × int(√(1−λ)·W) centred
 * uniformly (clipped at the borders) is pasted from x_rev, and λ becomes the share of the image left uncovered.
 * The targets are λ·t(y) + (1−λ)·t(y_rev) with t the label-smoothed one-hot.
 */
final class Mixup {
    private Mixup() {}

    /** What was done to one batch: the weight λ of the batch's own labels (1 = not mixed). */
    record Mix(float lam, boolean cutmix, int y0, int y1, int x0, int x1) {
        static final Mix NONE = new Mix(1f, false, 0, 0, 0, 0);
    }

    /** Draws this batch's mix (timm's {@code _params_per_batch}, then the box for CutMix). */
    static Mix draw(MixConfig cfg, int h, int w, SplittableRandom r) {
        boolean cut = cfg.mixupAlpha() > 0 && cfg.cutmixAlpha() > 0 ? r.nextDouble() < cfg.switchProb() : cfg.cutmixAlpha() > 0;
        double lam = beta(cut ? cfg.cutmixAlpha() : cfg.mixupAlpha(), r);
        if (r.nextDouble() >= cfg.prob()) return Mix.NONE;
        if (!cut) return new Mix((float) lam, false, 0, 0, 0, 0);
        return box(h, w, lam, r.nextInt(h), r.nextInt(w));
    }

    /**
     * timm 1.0.29's {@code rand_bbox}: sides int(H·√(1−λ)) and int(W·√(1−λ)) centred at (cy, cx),
     * [c − cut/2, c + (cut+1)/2) clipped to the image; λ corrected to the uncovered share.
     */
    static Mix box(int h, int w, double lam, int cy, int cx) {
        double ratio = Math.sqrt(1 - lam);
        int ch = (int) (h * ratio), cw = (int) (w * ratio);
        int y0 = clamp(cy - ch / 2, h), y1 = clamp(cy + (ch + 1) / 2, h), x0 = clamp(cx - cw / 2, w), x1 = clamp(cx + (cw + 1) / 2, w);
        float corrected = 1f - (float) ((y1 - y0) * (x1 - x0)) / (h * w);
        return new Mix(corrected, true, y0, y1, x0, x1);
    }

    /** Mixes {@code px} [B, C, H, W] in place with its reverse along the batch. */
    static void apply(Mix m, float[] px, int batch, int channels, int h, int w) {
        if (m.lam() == 1f && !m.cutmix()) return;
        float[] rev = px.clone();
        int per = channels * h * w;
        for (int b = 0; b < batch; b++) {
            int o = b * per, ro = (batch - 1 - b) * per;
            if (!m.cutmix()) {
                float l = m.lam(), k = 1f - l;
                for (int i = 0; i < per; i++) px[o + i] = l * rev[o + i] + k * rev[ro + i];
                continue;
            }
            for (int c = 0; c < channels; c++) {
                for (int y = m.y0(); y < m.y1(); y++) {
                    int row = c * h * w + y * w;
                    System.arraycopy(rev, ro + row + m.x0(), px, o + row + m.x0(), m.x1() - m.x0());
                }
            }
        }
    }

    /** λ·t(labels) + (1−λ)·t(labels reversed), t the label-smoothed one-hot over {@code k} classes. */
    static float[] targets(int[] labels, float lam, int k, float smoothing) {
        float[] t = SoftmaxCrossEntropy.smoothed(labels, k, smoothing);
        if (lam == 1f) return t;
        int n = labels.length;
        float[] out = new float[t.length];
        for (int b = 0; b < n; b++) {
            int rb = n - 1 - b;
            for (int i = 0; i < k; i++) out[b * k + i] = lam * t[b * k + i] + (1f - lam) * t[rb * k + i];
        }
        return out;
    }

    /** Beta(α, α) from two Gamma(α) draws, X / (X + Y), in logs: for small α both draws underflow a double. */
    static double beta(double a, SplittableRandom r) {
        double lx = logGamma(a, r), ly = logGamma(a, r);
        return 1 / (1 + Math.exp(ly - lx));
    }

    /** log of a Gamma(α, 1) draw: Marsaglia and Tsang (2000), boosted by U^(1/α) for α < 1. */
    static double logGamma(double a, SplittableRandom r) {
        if (a < 1) return logGamma(a + 1, r) + Math.log(1 - r.nextDouble()) / a; // 1-U in (0, 1]
        double d = a - 1.0 / 3, c = 1 / Math.sqrt(9 * d);
        while (true) {
            double x = gaussian(r), v = 1 + c * x;
            if (v <= 0) continue;
            v = v * v * v;
            double u = 1 - r.nextDouble();
            if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return Math.log(d * v);
        }
    }

    private static double gaussian(SplittableRandom r) { // Box–Muller: SplittableRandom has no nextGaussian on JDK 17
        double u1 = 1 - r.nextDouble(), u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    private static int clamp(int v, int hi) {
        return Math.max(0, Math.min(hi, v));
    }
}
