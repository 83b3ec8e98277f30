package io.vitrim.train;

import io.vitrim.engine.Gemm;
import io.vitrim.engine.PackedMatrix;
import io.vitrim.engine.Parallel;

/**
 * A Linear layer {@code y = x·Wᵀ + b} for training: forward, and its backward next to it.
 * Weights change every step, so they are packed per step ({@link #pack}), which costs one pass
 * over the weights — small next to the GEMMs.
 */
final class Linear {
    final Param w, b;
    final int in, out;
    private PackedMatrix forwardPacked; // Wᵀ [in → out], for y = x Wᵀ + b
    private PackedMatrix backwardPacked; // W as [out, in], for dx = dy W

    Linear(Param w, Param b) {
        this.w = w;
        this.b = b;
        this.out = w.shape[0];
        int n = 1;
        for (int i = 1; i < w.shape.length; i++) n *= w.shape[i];
        this.in = n;
    }

    /** Re-packs the current weights for forward and backward GEMMs. */
    void pack() {
        forwardPacked = PackedMatrix.ofLinearWeight(w.value, out, in, b == null ? null : b.value);
        backwardPacked = PackedMatrix.ofRowMajor(w.value, out, in);
    }

    /** y [rows, out] (= | +=) x [rows, in] · Wᵀ + b. */
    void forward(Parallel par, float[] x, int rows, float[] y, Gemm.Mode mode) {
        Gemm.gemm(par, x, 0, in, rows, forwardPacked, y, 0, out, mode);
    }

    /**
     * Given dy [rows, out] and the forward input x [rows, in]: {@code dW += dyᵀ·x},
     * {@code db += Σ_rows dy}, and {@code dx (= | +=) dy·W} when {@code dx} is not null.
     */
    void backward(Parallel par, float[] x, float[] dy, int rows, float[] dx, boolean accumulateDx, Scratch scratch) {
        // dW [out, in] += dyᵀ [out, rows] · x [rows, in]
        PackedMatrix xp = PackedMatrix.ofRowMajor(x, rows, in, scratch.packed);
        scratch.packed = xp.data();
        Gemm.gemm(par, dy, 0, 1, out, out, xp, w.grad, 0, in, Gemm.Mode.ADD);
        if (b != null) columnSums(par, dy, rows, out, b.grad);
        if (dx != null) Gemm.gemm(par, dy, 0, out, rows, backwardPacked, dx, 0, in, accumulateDx ? Gemm.Mode.ADD : Gemm.Mode.SET);
    }

    /** A buffer reused across layers for packing activations. */
    static final class Scratch {
        float[] packed;
    }

    /** Rows per partial sum in {@link #columnSums}: fixed, so the result does not depend on the thread count. */
    static final int SUM_ROWS = 256;

    /**
     * acc[j] += Σ_r a[r·n + j]. Each task sums a block of {@value #SUM_ROWS} whole rows (one
     * sequential stream), then the block sums are added in block order: deterministic for any
     * thread count, and 3× faster than column strips, which read the matrix with a large stride.
     */
    static void columnSums(Parallel par, float[] a, int rows, int n, float[] acc) {
        int blocks = (rows + SUM_ROWS - 1) / SUM_ROWS;
        float[] part = new float[blocks * n];
        par.forEach(blocks, bk -> {
            int r1 = Math.min(rows, (bk + 1) * SUM_ROWS), po = bk * n;
            for (int r = bk * SUM_ROWS; r < r1; r++) {
                int o = r * n;
                for (int j = 0; j < n; j++) part[po + j] += a[o + j];
            }
        });
        for (int bk = 0; bk < blocks; bk++) {
            int po = bk * n;
            for (int j = 0; j < n; j++) acc[j] += part[po + j];
        }
    }
}
