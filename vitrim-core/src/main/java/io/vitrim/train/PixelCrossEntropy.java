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

    /**
     * @param grid   logits {@code [B, K, gh, gw]}
     * @param labels class ids {@code [B, h, w]} (or {@code ignore})
     */
    public Result compute(Parallel par, float[] grid, int batch, int gh, int gw, byte[] labels, int h, int w) {
        final int k = classes, hw = h * w, g = gh * gw;
        float[] dgrid = new float[batch * k * g];
        double[] lossPart = new double[batch], weightPart = new double[batch];
        long[] correct = new long[batch], counted = new long[batch];
        float[][] dup = new float[batch][];
        par.forEach(batch, b -> {
            float[] up = Resize.bilinear(grid, b * k * g, k, gh, gw, h, w);
            float[] d = up; // overwritten in place with dL/d(up) · (sum of weights), scaled below
            double loss = 0, wsum = 0;
            long ok = 0, n = 0;
            for (int i = 0; i < hw; i++) {
                int y = labels[b * hw + i] & 0xFF;
                double max = Double.NEGATIVE_INFINITY;
                int best = 0;
                for (int c = 0; c < k; c++) {
                    float v = up[c * hw + i];
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
                for (int c = 0; c < k; c++) sum += Math.exp(up[c * hw + i] - max);
                double logZ = max + Math.log(sum), wy = weights == null ? 1.0 : weights[y];
                loss -= wy * (up[y * hw + i] - logZ);
                wsum += wy;
                n++;
                if (best == y) ok++;
                for (int c = 0; c < k; c++) d[c * hw + i] = (float) (wy * Math.exp(up[c * hw + i] - logZ));
                d[y * hw + i] -= (float) wy;
            }
            lossPart[b] = loss;
            weightPart[b] = wsum;
            correct[b] = ok;
            counted[b] = n;
            dup[b] = d;
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
            float[] d = dup[b];
            for (int i = 0; i < d.length; i++) d[i] *= scale;
            Resize.bilinearBackward(d, k, gh, gw, h, w, dgrid, b * k * g);
        });
        return new Result(loss / wsum, dgrid, ok, n);
    }
}
