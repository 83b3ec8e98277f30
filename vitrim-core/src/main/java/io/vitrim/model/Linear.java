package io.vitrim.model;

import io.vitrim.engine.Gemm;
import io.vitrim.engine.PackedMatrix;
import io.vitrim.engine.Parallel;

/**
 * A Linear layer {@code y = x·Wᵀ + b} (timm's {@code nn.Linear}, or the patch-embedding conv
 * flattened to {@code [C, 3·P·P]}), with its backward next to its forward. Inference packs the
 * weights once; training re-packs them after every optimiser step ({@link #pack}), one pass
 * over the weights — small next to the GEMMs.
 */
public final class Linear {
    public final Param w, b;
    public final int in, out;
    private PackedMatrix forwardPacked;  // Wᵀ [in → out] with bias, for y = x Wᵀ + b
    private PackedMatrix backwardPacked; // W as [out, in], for dx = dy W (training only)

    public Linear(Param w, Param b) {
        this.w = w;
        this.b = b;
        this.out = w.shape[0];
        int n = 1;
        for (int i = 1; i < w.shape.length; i++) n *= w.shape[i];
        this.in = n;
        pack();
    }

    /** Packs the current weights for the forward GEMM (and, once trained, the backward one). */
    public void pack() {
        forwardPacked = PackedMatrix.ofLinearWeight(w.value, out, in, b == null ? null : b.value);
        backwardPacked = null;
    }

    /** {@link #pack} when the weights or the bias are trained (a frozen layer keeps its packing). */
    public void repackIfTrained() {
        if (w.trained() || (b != null && b.trained())) pack();
    }

    PackedMatrix packed() {
        return forwardPacked;
    }

    /** y [rows, out] (= | += | = GELU of) x [rows, in] · Wᵀ + b. */
    public void forward(Parallel par, float[] x, int rows, float[] y, Gemm.Mode mode) {
        Gemm.gemm(par, x, 0, in, rows, forwardPacked, y, 0, out, mode);
    }

    /**
     * Given dy [rows, out] and the forward input x [rows, in]: {@code dW += dyᵀ·x} and
     * {@code db += Σ_rows dy} when the weights are trained, and {@code dx (= | +=) dy·W} when
     * {@code dx} is not null.
     */
    public void backward(Parallel par, float[] x, float[] dy, int rows, float[] dx, boolean accumulateDx, Scratch scratch) {
        if (w.grad != null) {
            // dW [out, in] += dyᵀ [out, rows] · x [rows, in]
            PackedMatrix xp = PackedMatrix.ofRowMajor(par, x, rows, in, scratch.packed);
            scratch.packed = xp.data();
            Gemm.gemm(par, dy, 0, 1, out, out, xp, w.grad, 0, in, Gemm.Mode.ADD);
        }
        if (b != null && b.grad != null) columnSums(par, dy, rows, out, b.grad);
        if (dx != null) {
            if (backwardPacked == null) backwardPacked = PackedMatrix.ofRowMajor(w.value, out, in);
            Gemm.gemm(par, dy, 0, out, rows, backwardPacked, dx, 0, in, accumulateDx ? Gemm.Mode.ADD : Gemm.Mode.SET);
        }
    }

    /** A buffer reused across layers for packing activations. */
    public static final class Scratch {
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
