package io.vitrim.model;

/**
 * Resampling a learned position embedding to another patch grid, as timm does when a checkpoint
 * is loaded at another image size ({@code resample_abs_pos_embed}: PyTorch's
 * {@code interpolate(mode="bicubic", antialias=True)}). That is Pillow's separable bicubic
 * (Keys, a = −0.5, support widened by the downscale factor) in floating point: rows first, then
 * columns. Prefix rows (class, registers) are kept as they are.
 */
public final class PosEmbed {
    private PosEmbed() {}

    /**
     * @param pos    {@code [prefix + oldH·oldW, c]}
     * @param prefix leading rows that are not on the grid
     * @return {@code [prefix + newH·newW, c]}
     */
    public static float[] resample(float[] pos, int prefix, int oldH, int oldW, int newH, int newW, int c) {
        if (pos.length != (long) (prefix + oldH * oldW) * c) throw new IllegalArgumentException("pos_embed size does not match its grid");
        float[] out = new float[(prefix + newH * newW) * c];
        System.arraycopy(pos, 0, out, 0, prefix * c);
        // horizontal pass: [oldH, newW, c]
        float[] tmp = new float[oldH * newW * c];
        Weights wx = weights(oldW, newW);
        for (int y = 0; y < oldH; y++) {
            for (int x = 0; x < newW; x++) {
                int o = (y * newW + x) * c;
                for (int k = 0; k < wx.size[x]; k++) {
                    float w = wx.w[x * wx.stride + k];
                    int src = (prefix + y * oldW + wx.min[x] + k) * c;
                    for (int j = 0; j < c; j++) tmp[o + j] += w * pos[src + j];
                }
            }
        }
        // vertical pass into the output grid
        Weights wy = weights(oldH, newH);
        for (int y = 0; y < newH; y++) {
            for (int x = 0; x < newW; x++) {
                int o = (prefix + y * newW + x) * c;
                for (int k = 0; k < wy.size[y]; k++) {
                    float w = wy.w[y * wy.stride + k];
                    int src = ((wy.min[y] + k) * newW + x) * c;
                    for (int j = 0; j < c; j++) out[o + j] += w * tmp[src + j];
                }
            }
        }
        return out;
    }

    /** Per output index: the first input index, the tap count and the normalised tap weights. */
    private record Weights(int[] min, int[] size, float[] w, int stride) {}

    private static Weights weights(int in, int out) {
        float scale = (float) in / out;
        float support = scale >= 1f ? 2f * scale : 2f;
        float invScale = scale >= 1f ? 1f / scale : 1f;
        int stride = (int) Math.ceil(support) * 2 + 1;
        int[] min = new int[out], size = new int[out];
        float[] w = new float[out * stride];
        for (int i = 0; i < out; i++) {
            float center = scale * (i + 0.5f);
            int lo = Math.max((int) (center - support + 0.5f), 0);
            int n = Math.min((int) (center + support + 0.5f), in) - lo;
            float total = 0f;
            for (int k = 0; k < n; k++) {
                float v = cubic((k + lo - center + 0.5f) * invScale);
                w[i * stride + k] = v;
                total += v;
            }
            if (total != 0f) for (int k = 0; k < n; k++) w[i * stride + k] /= total;
            min[i] = lo;
            size[i] = n;
        }
        return new Weights(min, size, w, stride);
    }

    /** Keys' cubic with a = −0.5 (PyTorch's antialiased bicubic, as Pillow). */
    private static float cubic(float x) {
        final float a = -0.5f;
        x = Math.abs(x);
        if (x < 1f) return ((a + 2f) * x - (a + 3f)) * x * x + 1f;
        if (x < 2f) return (((x - 5f) * x + 8f) * x - 4f) * a;
        return 0f;
    }
}
