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

    /** Rows per chunk of the parameter-gradient reductions: fixed, so sums do not depend on the thread count. */
    static final int GRAD_CHUNK = 128;

    /**
     * Backward of {@link #forward} (saved {@code mean}/{@code rstd} per row):
     * {@code dx (+)= rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))} with {@code dx̂ = dy·γ};
     * {@code dγ += Σ dy·x̂}, {@code dβ += Σ dy} (summed in fixed row chunks, then in chunk order).
     *
     * @param accumulate add into {@code dx} (a residual branch) instead of overwriting it
     * @param dgamma     null when γ is frozen (likewise {@code dbeta})
     */
    public static void backward(Parallel par, float[] x, int ldx, int rows, int c, float[] gamma,
                                float[] mean, float[] rstd, float[] dy, int ldy, float[] dx, int lddx, boolean accumulate,
                                float[] dgamma, float[] dbeta) {
        int chunks = (rows + GRAD_CHUNK - 1) / GRAD_CHUNK;
        float[] pg = new float[chunks * c], pb = new float[chunks * c];
        par.forEach(chunks, ch -> {
            int r0 = ch * GRAD_CHUNK, r1 = Math.min(rows, r0 + GRAD_CHUNK);
            float[] dxh = new float[c];
            int bound = VecMath.F.loopBound(c), go = ch * c;
            for (int r = r0; r < r1; r++) {
                int xo = r * ldx, yo = r * ldy, dxo = r * lddx;
                float mu = mean[r], rs = rstd[r];
                FloatVector vmu = FloatVector.broadcast(VecMath.F, mu), vrs = FloatVector.broadcast(VecMath.F, rs);
                FloatVector a1 = FloatVector.zero(VecMath.F), a2 = FloatVector.zero(VecMath.F);
                int i = 0;
                for (; i < bound; i += V) {
                    FloatVector xh = FloatVector.fromArray(VecMath.F, x, xo + i).sub(vmu).mul(vrs);
                    FloatVector g = FloatVector.fromArray(VecMath.F, dy, yo + i);
                    g.fma(xh, FloatVector.fromArray(VecMath.F, pg, go + i)).intoArray(pg, go + i);
                    g.add(FloatVector.fromArray(VecMath.F, pb, go + i)).intoArray(pb, go + i);
                    FloatVector d = g.mul(FloatVector.fromArray(VecMath.F, gamma, i));
                    d.intoArray(dxh, i);
                    a1 = a1.add(d);
                    a2 = d.fma(xh, a2);
                }
                float s1 = a1.reduceLanes(VectorOperators.ADD), s2 = a2.reduceLanes(VectorOperators.ADD);
                for (; i < c; i++) {
                    float xh = (x[xo + i] - mu) * rs, g = dy[yo + i];
                    pg[go + i] += g * xh;
                    pb[go + i] += g;
                    dxh[i] = g * gamma[i];
                    s1 += dxh[i];
                    s2 += dxh[i] * xh;
                }
                float m1 = s1 / c, m2 = s2 / c;
                FloatVector vm1 = FloatVector.broadcast(VecMath.F, m1), vm2 = FloatVector.broadcast(VecMath.F, m2);
                for (i = 0; i < bound; i += V) {
                    FloatVector xh = FloatVector.fromArray(VecMath.F, x, xo + i).sub(vmu).mul(vrs);
                    FloatVector v = FloatVector.fromArray(VecMath.F, dxh, i).sub(vm1).sub(xh.mul(vm2)).mul(vrs);
                    if (accumulate) v = v.add(FloatVector.fromArray(VecMath.F, dx, dxo + i));
                    v.intoArray(dx, dxo + i);
                }
                for (; i < c; i++) {
                    float xh = (x[xo + i] - mu) * rs;
                    float v = rs * (dxh[i] - m1 - xh * m2);
                    if (accumulate) dx[dxo + i] += v;
                    else dx[dxo + i] = v;
                }
            }
        });
        for (int ch = 0; ch < chunks; ch++) {
            for (int i = 0; i < c; i++) {
                if (dgamma != null) dgamma[i] += pg[ch * c + i];
                if (dbeta != null) dbeta[i] += pb[ch * c + i];
            }
        }
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
