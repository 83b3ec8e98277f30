package io.vitrim.engine;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Row-wise LayerNorm {@code y = γ·(x − μ)/sqrt(σ² + ε) + β} with the biased variance (divide by
 * C), as {@code torch.nn.LayerNorm}. Two passes over each row (mean, then centred squares) for
 * accuracy.
 */
public final class LayerNorm {
    private LayerNorm() {}

    private static final int V = VecMath.VLEN;

    /**
     * x [rows, C] at {@code xOff} with row stride {@code ldx} → y [rows, C] at {@code yOff} with
     * stride {@code ldy}. May run in place. {@code meanOut}/{@code rstdOut} (nullable) receive
     * μ and 1/σ per row (kept for the backward pass).
     */
    public static void forward(Parallel par, float[] x, int xOff, int ldx, int rows, int c,
                               float[] gamma, float[] beta, float eps, float[] y, int yOff, int ldy,
                               float[] meanOut, float[] rstdOut) {
        par.forRange(rows, 64, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                float[] ms = row(x, xOff + r * ldx, c, gamma, beta, eps, y, yOff + r * ldy);
                if (meanOut != null) meanOut[r] = ms[0];
                if (rstdOut != null) rstdOut[r] = ms[1];
            }
        });
    }

    /** Normalises one row; returns {mean, rstd}. */
    static float[] row(float[] x, int xo, int c, float[] gamma, float[] beta, float eps, float[] y, int yo) {
        float mean = sum(x, xo, c) / c;
        FloatVector vm = FloatVector.broadcast(VecMath.F, mean);
        FloatVector acc = FloatVector.zero(VecMath.F);
        int i = 0;
        int bound = VecMath.F.loopBound(c);
        for (; i < bound; i += V) {
            FloatVector d = FloatVector.fromArray(VecMath.F, x, xo + i).sub(vm);
            acc = d.fma(d, acc);
        }
        float sq = acc.reduceLanes(VectorOperators.ADD);
        for (; i < c; i++) {
            float d = x[xo + i] - mean;
            sq += d * d;
        }
        float rstd = (float) (1.0 / Math.sqrt(sq / c + eps));
        FloatVector vr = FloatVector.broadcast(VecMath.F, rstd);
        i = 0;
        for (; i < bound; i += V) {
            FloatVector d = FloatVector.fromArray(VecMath.F, x, xo + i).sub(vm).mul(vr);
            FloatVector g = FloatVector.fromArray(VecMath.F, gamma, i);
            FloatVector b = FloatVector.fromArray(VecMath.F, beta, i);
            d.fma(g, b).intoArray(y, yo + i);
        }
        for (; i < c; i++) y[yo + i] = Math.fma((x[xo + i] - mean) * rstd, gamma[i], beta[i]);
        return new float[] {mean, rstd};
    }

    /** Vectorised sum of {@code a[off, off+n)}. */
    public static float sum(float[] a, int off, int n) {
        FloatVector acc = FloatVector.zero(VecMath.F);
        int i = 0;
        for (int bound = VecMath.F.loopBound(n); i < bound; i += V) {
            acc = acc.add(FloatVector.fromArray(VecMath.F, a, off + i));
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[off + i];
        return s;
    }
}
