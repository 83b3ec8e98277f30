package io.vitrim.train;

import io.vitrim.engine.Parallel;
import io.vitrim.engine.Resize;

/**
 * Segmenter's loss: the per-patch logits {@code [B, K, gh, gw]} upsampled bilinearly to the
 * label size ({@code F.interpolate(mode="bilinear", align_corners=False)}), then softmax
 * cross-entropy per pixel, pixels labelled {@code ignore} left out, averaged over the counted
 * pixels of the whole batch — PyTorch's {@code cross_entropy(ignore_index=…)}; with class
 * weights the average is weighted as PyTorch does (divided by the sum of the counted pixels'
 * weights).
 */
public final class PixelCrossEntropy {
    private final int classes, ignore;
    private final float[] weights; // per class, or null

    /** Loss value, its gradient w.r.t. the grid logits, and pixels right / counted. */
    public record Result(double loss, float[] dgrid, long correct, long counted) {}

    /** @param weights per-class weights (null = all 1) */
    public PixelCrossEntropy(int classes, int ignore, float[] weights) {
        if (weights != null && weights.length != classes) throw new IllegalArgumentException(weights.length + " class weights for " + classes + " classes");
        this.classes = classes;
        this.ignore = ignore;
        this.weights = weights == null ? null : weights.clone();
    }

    public int classes() {
        return classes;
    }

    public int ignore() {
        return ignore;
    }

    /**
     * @param grid   logits {@code [B, K, gh, gw]}
     * @param labels class ids {@code [B, h, w]} (or {@code ignore})
     */
    public Result compute(Parallel par, float[] grid, int batch, int gh, int gw, byte[] labels, int h, int w) {
        final int k = classes, g = gh * gw;
        float[][] up = new float[batch][];
        par.forEach(batch, b -> up[b] = Resize.bilinear(grid, b * k * g, k, gh, gw, h, w));
        return perPixel(par, up, batch, labels, h, w, (d, b, dgrid) -> Resize.bilinearBackward(d, k, gh, gw, h, w, dgrid, b * k * g), g);
    }

    /**
     * The same loss on logits already at the labels' size ({@code [B, K, h, w]}, no resize) —
     * Cropr's auxiliary predictions on its grid against the labels downsampled to it.
     */
    public Result computeAt(Parallel par, float[] logits, int batch, byte[] labels, int h, int w) {
        final int k = classes, hw = h * w;
        float[][] per = new float[batch][];
        for (int b = 0; b < batch; b++) per[b] = java.util.Arrays.copyOfRange(logits, b * k * hw, (b + 1) * k * hw);
        return perPixel(par, per, batch, labels, h, w, (d, b, dl) -> System.arraycopy(d, 0, dl, b * k * hw, k * hw), hw);
    }

    /**
     * Labels {@code [B, h, w]} nearest-downsampled to {@code [B, oh, ow]} as PyTorch's
     * {@code F.interpolate(mode="nearest")} with a size: source index {@code min(⌊dst·(in/out)⌋, in − 1)}
     * with the ratio and the product in float, as its kernel computes them (so the cells picked
     * are PyTorch's also where the ratio is not exact); the ignore label is kept like any value.
     */
    public static byte[] nearest(byte[] labels, int batch, int h, int w, int oh, int ow) {
        int[] rows = nearestIndex(h, oh), cols = nearestIndex(w, ow);
        byte[] out = new byte[batch * oh * ow];
        for (int b = 0; b < batch; b++) {
            for (int y = 0; y < oh; y++) {
                for (int x = 0; x < ow; x++) out[(b * oh + y) * ow + x] = labels[(b * h + rows[y]) * w + cols[x]];
            }
        }
        return out;
    }

    private static int[] nearestIndex(int in, int out) {
        float scale = (float) in / out;
        int[] idx = new int[out];
        for (int d = 0; d < out; d++) idx[d] = Math.min((int) Math.floor(d * scale), in - 1);
        return idx;
    }

    /** Where a per-image gradient at the labels' size goes (the resize's backward, or a copy). */
    private interface Back {
        void to(float[] d, int b, float[] dst);
    }

    private Result perPixel(Parallel par, float[][] up, int batch, byte[] labels, int h, int w, Back back, int perImage) {
        final int k = classes, hw = h * w;
        float[] dgrid = new float[batch * k * perImage];
        double[] lossPart = new double[batch], weightPart = new double[batch];
        long[] correct = new long[batch], counted = new long[batch];
        par.forEach(batch, b -> {
            float[] u = up[b];
            float[] d = u; // overwritten in place with dL/d(up) · (sum of weights), scaled below
            double loss = 0, wsum = 0;
            long ok = 0, n = 0;
            for (int i = 0; i < hw; i++) {
                int y = labels[b * hw + i] & 0xFF;
                double max = Double.NEGATIVE_INFINITY;
                int best = 0;
                for (int c = 0; c < k; c++) {
                    float v = u[c * hw + i];
                    if (v > max) {
                        max = v;
                        best = c;
                    }
                }
                if (y == ignore) {
                    for (int c = 0; c < k; c++) d[c * hw + i] = 0f;
                    continue;
                }
                double sum = 0;
                for (int c = 0; c < k; c++) sum += Math.exp(u[c * hw + i] - max);
                double logZ = max + Math.log(sum), wy = weights == null ? 1.0 : weights[y];
                loss -= wy * (u[y * hw + i] - logZ);
                wsum += wy;
                n++;
                if (best == y) ok++;
                for (int c = 0; c < k; c++) d[c * hw + i] = (float) (wy * Math.exp(u[c * hw + i] - logZ));
                d[y * hw + i] -= (float) wy;
            }
            lossPart[b] = loss;
            weightPart[b] = wsum;
            correct[b] = ok;
            counted[b] = n;
        });
        double loss = 0, wsum = 0;
        long ok = 0, n = 0;
        for (int b = 0; b < batch; b++) {
            loss += lossPart[b];
            wsum += weightPart[b];
            ok += correct[b];
            n += counted[b];
        }
        if (wsum == 0) return new Result(0, dgrid, 0, 0); // every pixel ignored: no loss, no gradient
        final float scale = (float) (1 / wsum);
        par.forEach(batch, b -> {
            float[] d = up[b];
            for (int i = 0; i < d.length; i++) d[i] *= scale;
            back.to(d, b, dgrid);
        });
        return new Result(loss / wsum, dgrid, ok, n);
    }
}
