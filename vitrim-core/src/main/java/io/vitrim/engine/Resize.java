package io.vitrim.engine;

/** Resampling of channel-first maps (segmentation logits from the patch grid to pixels). */
public final class Resize {
    private Resize() {}

    /**
     * Bilinear resize of {@code [ch, h, w]} (at {@code off} in {@code src}) to {@code [ch, oh, ow]}, as
     * PyTorch's {@code F.interpolate(mode="bilinear", align_corners=False)}: output pixel centres
     * map to {@code (i + 0.5)·h/oh − 0.5}, clamped at 0 below, and the last row/column is repeated
     * past the edge.
     */
    public static float[] bilinear(float[] src, int off, int ch, int h, int w, int oh, int ow) {
        if (ch < 1 || h < 1 || w < 1 || oh < 1 || ow < 1) throw new IllegalArgumentException("empty map");
        Axis y = new Axis(h, oh), x = new Axis(w, ow);
        float[] out = new float[ch * oh * ow];
        for (int k = 0; k < ch; k++) {
            int base = off + k * h * w, ob = k * oh * ow;
            for (int i = 0; i < oh; i++) {
                int r0 = base + y.i0[i] * w, r1 = base + y.i1[i] * w;
                float a = y.lambda[i], a0 = 1 - a;
                for (int j = 0; j < ow; j++) {
                    float b = x.lambda[j], b0 = 1 - b;
                    out[ob + i * ow + j] = a0 * (b0 * src[r0 + x.i0[j]] + b * src[r0 + x.i1[j]]) + a * (b0 * src[r1 + x.i0[j]] + b * src[r1 + x.i1[j]]);
                }
            }
        }
        return out;
    }

    /**
     * Backward of {@link #bilinear}: adds {@code dOut [ch, oh, ow]} into {@code dSrc [ch, h, w]}
     * (at {@code off}) with the same four weights per output pixel (the transposed resize).
     */
    public static void bilinearBackward(float[] dOut, int ch, int h, int w, int oh, int ow, float[] dSrc, int off) {
        Axis y = new Axis(h, oh), x = new Axis(w, ow);
        for (int k = 0; k < ch; k++) {
            int base = off + k * h * w, ob = k * oh * ow;
            for (int i = 0; i < oh; i++) {
                int r0 = base + y.i0[i] * w, r1 = base + y.i1[i] * w;
                float a = y.lambda[i], a0 = 1 - a;
                for (int j = 0; j < ow; j++) {
                    float g = dOut[ob + i * ow + j], b = x.lambda[j], b0 = 1 - b;
                    dSrc[r0 + x.i0[j]] += a0 * b0 * g;
                    dSrc[r0 + x.i1[j]] += a0 * b * g;
                    dSrc[r1 + x.i0[j]] += a * b0 * g;
                    dSrc[r1 + x.i1[j]] += a * b * g;
                }
            }
        }
    }

    /** PyTorch's two source indices and the weight of the second, per output position along one axis. */
    private static final class Axis {
        final int[] i0, i1;
        final float[] lambda;

        Axis(int in, int out) {
            i0 = new int[out];
            i1 = new int[out];
            lambda = new float[out];
            float scale = (float) in / out;
            for (int o = 0; o < out; o++) {
                float s = Math.max(scale * (o + 0.5f) - 0.5f, 0f);
                int a = Math.min((int) s, in - 1);
                i0[o] = a;
                i1[o] = a < in - 1 ? a + 1 : a;
                lambda[o] = s - a;
            }
        }
    }
}
