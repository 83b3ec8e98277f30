package io.vitrim.reduce;

import io.vitrim.engine.Parallel;
import io.vitrim.engine.VecMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Applies a {@link Plan} to tokens, sizes and sources alike: for every destination, the
 * size-weighted average {@code Σ s_i x_i / Σ s_i} of the rows sent to it (a single row is copied
 * bit for bit), sizes summed, source maps re-pointed.
 */
public final class PlanApplier {
    private PlanApplier() {}

    /**
     * Rewrites {@code s} in place. {@code spare} must hold the new rows ({@code newT · C}); it
     * becomes {@code s.x()}, and the old row buffer is returned for reuse.
     */
    public static float[] apply(Parallel par, TokenState s, Plan p, float[] spare) {
        return apply(par, s, p, spare, null);
    }

    /**
     * What training keeps of one applied plan: the plan is a linear map of the rows,
     * {@code y_g = Σ_{i ∈ g} coef_i · x_i} (decisions and sizes are constants of the forward
     * pass), so its backward is the transposed gather with the same coefficients.
     */
    public static final class Recording {
        int oldRows, newRows;
        int[] memberStart, memberCount, members;
        float[] coef;

        /** Rows before / after the plan. */
        public int oldRows() {
            return oldRows;
        }

        public int newRows() {
            return newRows;
        }

        /**
         * dL/dx of the rows before the plan ({@code [oldRows, C]}, overwritten) from dL/dy of the rows
         * after it ({@code [newRows, C]}); dropped rows get zeros.
         */
        public void backward(Parallel par, float[] dy, int c, float[] dx) {
            java.util.Arrays.fill(dx, 0, oldRows * c, 0f);
            par.forRange(newRows, 16, (g0, g1) -> {
                for (int g = g0; g < g1; g++) {
                    for (int k = memberStart[g]; k < memberStart[g] + memberCount[g]; k++) {
                        int row = members[k];
                        if (memberCount[g] == 1) System.arraycopy(dy, g * c, dx, row * c, c);
                        else axpy(coef[k], dy, g * c, dx, row * c, c);
                    }
                }
            });
        }
    }

    /** As {@link #apply(Parallel, TokenState, Plan, float[])}; fills {@code rec} when not null. */
    public static float[] apply(Parallel par, TokenState s, Plan p, float[] spare, Recording rec) {
        final int batch = s.batch(), c = s.dim();
        int[] newOff = new int[batch + 1];
        for (int b = 0; b < batch; b++) {
            int n = p.newCounts[b];
            if (n < 1 || n > s.count(b)) {
                throw new IllegalStateException("plan keeps " + n + " of " + s.count(b) + " tokens for image " + b);
            }
            newOff[b + 1] = newOff[b] + n;
        }
        final int newT = newOff[batch];
        if (spare.length < newT * c) throw new IllegalArgumentException("spare buffer too small");
        final float[] x = s.x, size = p.resetsSizes() ? null : s.size;
        final float[] nx = spare;
        final float[] nsize = (size != null || p.merges()) ? new float[newT] : null;
        final float[] weights = p.weights();
        final float[] wsum = weights == null ? nsize : new float[newT];
        // 1. per image: who goes where (members of each destination in row order), sizes, sources
        final int[] memberStart = new int[newT], memberCount = new int[newT], members = new int[s.total()];
        par.forEach(batch, b -> {
            int o = s.offset(b), n = s.count(b), no = newOff[b], nn = p.newCounts[b];
            for (int i = 0; i < n; i++) {
                int d = p.assign[o + i];
                if (d < 0) continue;
                if (d >= nn) throw new IllegalStateException("plan sends a token of image " + b + " to " + d + " of " + nn);
                memberCount[no + d]++;
                float sz = size == null ? 1f : size[o + i];
                if (nsize != null) nsize[no + d] += sz;
                if (weights != null) wsum[no + d] += weights[o + i] * sz;
            }
            int at = o;
            for (int d = 0; d < nn; d++) {
                if (memberCount[no + d] == 0) throw new IllegalStateException("plan leaves token " + d + " of image " + b + " empty");
                memberStart[no + d] = at;
                at += memberCount[no + d];
            }
            int[] fill = new int[nn];
            for (int i = 0; i < n; i++) {
                int d = p.assign[o + i];
                if (d >= 0) members[memberStart[no + d] + fill[d]++] = o + i;
            }
            if (s.source != null) {
                int[] src = s.source[b];
                for (int q = 0; q < src.length; q++) src[q] = src[q] < 0 ? -1 : p.assign[o + src[q]];
            }
        });
        // 2. the rows, split across threads whatever the batch: Σ w·s·x in row order, then ÷ Σ w·s
        par.forRange(newT, 16, (g0, g1) -> {
            for (int g = g0; g < g1; g++) {
                int m = memberCount[g], first = memberStart[g];
                if (m == 1) {
                    System.arraycopy(x, members[first] * c, nx, g * c, c);
                    continue;
                }
                java.util.Arrays.fill(nx, g * c, (g + 1) * c, 0f);
                for (int k = first; k < first + m; k++) {
                    int row = members[k];
                    float sz = size == null ? 1f : size[row];
                    axpy(weights == null ? sz : weights[row] * sz, x, row * c, nx, g * c, c);
                }
                divide(wsum[g], nx, g * c, c);
            }
        });
        if (rec != null) {
            rec.oldRows = s.total();
            rec.newRows = newT;
            rec.memberStart = memberStart;
            rec.memberCount = memberCount;
            rec.members = members;
            rec.coef = new float[s.total()];
            for (int g = 0; g < newT; g++) {
                for (int k = memberStart[g]; k < memberStart[g] + memberCount[g]; k++) {
                    int row = members[k];
                    float sz = size == null ? 1f : size[row];
                    rec.coef[k] = memberCount[g] == 1 ? 1f : (weights == null ? sz : weights[row] * sz) / wsum[g];
                }
            }
        }
        float[] old = s.x;
        s.x = nx;
        s.offsets = newOff;
        s.size = nsize;
        return old;
    }

    private static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        FloatVector va = FloatVector.broadcast(VecMath.F, a);
        int i = 0;
        for (int bound = VecMath.F.loopBound(n); i < bound; i += VecMath.VLEN) {
            FloatVector.fromArray(VecMath.F, x, xo + i).fma(va, FloatVector.fromArray(VecMath.F, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] = Math.fma(x[xo + i], a, y[yo + i]);
    }

    private static void divide(float a, float[] y, int yo, int n) {
        FloatVector va = FloatVector.broadcast(VecMath.F, a);
        int i = 0;
        for (int bound = VecMath.F.loopBound(n); i < bound; i += VecMath.VLEN) {
            FloatVector.fromArray(VecMath.F, y, yo + i).lanewise(VectorOperators.DIV, va).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] /= a;
    }
}
