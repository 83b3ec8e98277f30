package io.vitrim.model;

/**
 * Resampling a learned position embedding to another patch grid, rows first, then columns;
 * prefix rows (class, registers) are kept as they are. Two kernels, as PyTorch's
 * {@code interpolate(mode="bicubic", align_corners=False)} has them:
 * <ul>
 *   <li>{@link Kernel#ANTIALIAS} ({@code antialias=True}): Pillow's bicubic (Keys, a = −0.5,
 *       support widened by the downscale factor) in floating point — what timm's
 *       {@code resample_abs_pos_embed} uses when a checkpoint is loaded at another image size,
 *       and transformers' DINOv2 with registers;</li>
 *   <li>{@link Kernel#PLAIN} ({@code antialias=False}): four taps with a = −0.75 at
 *       {@code (i + 0.5)·in/out − 0.5}, indices clamped at the border — transformers' DINOv2.</li>
 * </ul>
 */
public final class PosEmbed {
    private PosEmbed() {}

    public enum Kernel { ANTIALIAS, PLAIN }

    /**
     * @param pos    {@code [prefix + oldH·oldW, c]}
     * @param prefix leading rows that are not on the grid
     * @return {@code [prefix + newH·newW, c]}
     */
    public static float[] resample(float[] pos, int prefix, int oldH, int oldW, int newH, int newW, int c) {
        return resample(pos, prefix, oldH, oldW, newH, newW, c, Kernel.ANTIALIAS);
    }

    /** As {@link #resample(float[], int, int, int, int, int, int)} with the given kernel. */
    public static float[] resample(float[] pos, int prefix, int oldH, int oldW, int newH, int newW, int c, Kernel kernel) {
        if (pos.length != (long) (prefix + oldH * oldW) * c) throw new IllegalArgumentException("pos_embed size does not match its grid");
        float[] out = new float[(prefix + newH * newW) * c];
        System.arraycopy(pos, 0, out, 0, prefix * c);
        // horizontal pass: [oldH, newW, c]
        float[] tmp = new float[oldH * newW * c];
        Weights wx = kernel == Kernel.ANTIALIAS ? weights(oldW, newW) : plainWeights(oldW, newW);
        for (int y = 0; y < oldH; y++) {
            for (int x = 0; x < newW; x++) {
                int o = (y * newW + x) * c;
                for (int k = 0; k < wx.size[x]; k++) {
                    float w = wx.w[x * wx.stride + k];
                    int src = (prefix + y * oldW + wx.idx[x * wx.stride + k]) * c;
                    for (int j = 0; j < c; j++) tmp[o + j] += w * pos[src + j];
                }
            }
        }
        // vertical pass into the output grid
        Weights wy = kernel == Kernel.ANTIALIAS ? weights(oldH, newH) : plainWeights(oldH, newH);
        for (int y = 0; y < newH; y++) {
            for (int x = 0; x < newW; x++) {
                int o = (prefix + y * newW + x) * c;
                for (int k = 0; k < wy.size[y]; k++) {
                    float w = wy.w[y * wy.stride + k];
                    int src = (wy.idx[y * wy.stride + k] * newW + x) * c;
                    for (int j = 0; j < c; j++) out[o + j] += w * tmp[src + j];
                }
            }
        }
        return out;
    }

    /** Per output index: its taps' input indices and weights ({@code stride} slots each, {@code size} used). */
    private record Weights(int[] idx, int[] size, float[] w, int stride) {}

    private static Weights plainWeights(int in, int out) {
        final float a = -0.75f, scale = (float) in / out;
        int[] idx = new int[out * 4], size = new int[out];
        float[] w = new float[out * 4];
        for (int i = 0; i < out; i++) {
            float real = scale * (i + 0.5f) - 0.5f; // not clamped: PyTorch's cubic source index
            int x = (int) Math.floor(real);
            float t = real - x;
            float[] tw = {conv2(t + 1f, a), conv1(t, a), conv1(1f - t, a), conv2(2f - t, a)};
            for (int k = 0; k < 4; k++) {
                idx[i * 4 + k] = Math.min(Math.max(x - 1 + k, 0), in - 1);
                w[i * 4 + k] = tw[k];
            }
            size[i] = 4;
        }
        return new Weights(idx, size, w, 4);
    }

    private static float conv1(float x, float a) {
        return ((a + 2f) * x - (a + 3f)) * x * x + 1f;
    }

    private static float conv2(float x, float a) {
        return ((a * x - 5f * a) * x + 8f * a) * x - 4f * a;
    }

    private static Weights weights(int in, int out) {
        float scale = (float) in / out;
        float support = scale >= 1f ? 2f * scale : 2f;
        float invScale = scale >= 1f ? 1f / scale : 1f;
        int stride = (int) Math.ceil(support) * 2 + 1;
        int[] idx = new int[out * stride], size = new int[out];
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
            for (int k = 0; k < n; k++) idx[i * stride + k] = lo + k;
            size[i] = n;
        }
        return new Weights(idx, size, w, stride);
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
