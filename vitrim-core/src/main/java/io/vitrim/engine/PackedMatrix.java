package io.vitrim.engine;

/**
 * The right-hand operand B [K, N] of {@link Gemm}, packed once into column panels of
 * {@link Gemm#NR} so that the micro-kernel reads it with unit stride: element {@code B[k][n]}
 * lives at {@code (n / NR)·K·NR + k·NR + n % NR}; columns past N are zero. An optional bias
 * [N] is kept zero-padded to a whole panel.
 *
 * <p>Model weights are packed at load time; for {@code y = x·Wᵀ + b} with {@code W [N, K]}
 * (PyTorch's Linear layout) use {@link #ofLinearWeight}.
 */
public final class PackedMatrix {
    final int k;
    final int n;
    final float[] data;
    final float[] bias;

    private PackedMatrix(int k, int n, float[] data, float[] bias) {
        this.k = k;
        this.n = n;
        this.data = data;
        this.bias = bias;
    }

    /** Rows of B (the reduction length K). */
    public int rows() {
        return k;
    }

    /** Columns of B (the output width N). */
    public int cols() {
        return n;
    }

    public boolean hasBias() {
        return bias != null;
    }

    /**
     * Packs {@code B[k][n] = src[off + k·rowStride + n·colStride]} with an optional bias [N]
     * (null for none).
     */
    public static PackedMatrix pack(float[] src, int off, int rowStride, int colStride, int k, int n, float[] bias) {
        if (k <= 0 || n <= 0) throw new IllegalArgumentException("empty matrix " + k + "x" + n);
        int panels = (n + Gemm.NR - 1) / Gemm.NR;
        float[] data = new float[Gemm.packedSize(k, n)];
        Gemm.packB(src, off, rowStride, colStride, k, n, data);
        float[] paddedBias = null;
        if (bias != null) {
            if (bias.length < n) throw new IllegalArgumentException("bias has " + bias.length + " values, need " + n);
            paddedBias = new float[panels * Gemm.NR];
            System.arraycopy(bias, 0, paddedBias, 0, n);
        }
        return new PackedMatrix(k, n, data, paddedBias);
    }

    /** Packs a Linear weight {@code W [out, in]} (row-major) as {@code B = Wᵀ [in, out]}. */
    public static PackedMatrix ofLinearWeight(float[] w, int out, int in, float[] bias) {
        if (w.length != out * in) throw new IllegalArgumentException("weight has " + w.length + " values, need " + out + "x" + in);
        return pack(w, 0, 1, in, in, out, bias);
    }

    /**
     * Packs a row-major {@code B [k, n]} into {@code reuse} when it is large enough (training
     * packs activations every step), else into a new array.
     */
    public static PackedMatrix ofRowMajor(Parallel par, float[] b, int k, int n, float[] reuse) {
        int size = Gemm.packedSize(k, n);
        float[] data = reuse != null && reuse.length >= size ? reuse : new float[size];
        Gemm.packB(par, b, 0, n, 1, k, n, data);
        return new PackedMatrix(k, n, data, null);
    }

    /** The packed array (for reuse as scratch). */
    public float[] data() {
        return data;
    }

    /** Packs a row-major {@code B [k, n]}. */
    public static PackedMatrix ofRowMajor(float[] b, int k, int n) {
        return pack(b, 0, n, 1, k, n, null);
    }

    /** Bytes held by the packed data. */
    public long bytes() {
        return 4L * data.length + (bias == null ? 0 : 4L * bias.length);
    }
}
