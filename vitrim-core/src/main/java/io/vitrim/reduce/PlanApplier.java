package io.vitrim.reduce;

import io.vitrim.engine.Parallel;
import io.vitrim.engine.VecMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Applies a {@link Plan} to tokens, sizes and sources alike: for every destination, the
 * size-weighted average {@code Σ s_i x_i / Σ s_i} of the rows sent to it (a single row is copied
 * bit for bit), sizes summed, source maps re-pointed. Positions (RoPE models) are averaged with
 * the same weights as the rows, so a merged token sits at the size-weighted mean of its members'
 * positions (docs/methods.md, "Rotary position embedding under reduction").
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
        // parking: slots [firstSlot, firstSlot + parkedRows.length) hold these old rows
        int firstSlot;
        int[] parkedRows = new int[0];
        // a restore: new row → old row (≥ 0) or −1 − slot
        int[] restoredFrom;

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
            backward(par, dy, c, dx, null);
        }

        /**
         * As above, with parked tokens: a restore's backward writes the gradients of restored slots
         * into {@code slotGrad} ([slots, C]); a parking plan's adds them to the parked rows.
         */
        public void backward(Parallel par, float[] dy, int c, float[] dx, SlotGrads slotGrad) {
            java.util.Arrays.fill(dx, 0, oldRows * c, 0f);
            if (restoredFrom != null) {
                for (int g = 0; g < newRows; g++) {
                    int from = restoredFrom[g];
                    if (from >= 0) System.arraycopy(dy, g * c, dx, from * c, c);
                    else System.arraycopy(dy, g * c, slotGrad.ensure(-1 - from + 1, c), (-1 - from) * c, c);
                }
                return;
            }
            for (int k = 0; k < parkedRows.length; k++) {
                if (slotGrad != null && slotGrad.slots > firstSlot + k) {
                    System.arraycopy(slotGrad.grad, (firstSlot + k) * c, dx, parkedRows[k] * c, c);
                }
            }
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

    /** Gradients of park slots during one backward pass (zero for slots never restored). */
    public static final class SlotGrads {
        float[] grad = new float[0];
        int slots;

        /** Clears for a new backward pass. */
        public void reset() {
            java.util.Arrays.fill(grad, 0f);
            slots = 0;
        }

        float[] ensure(int n, int c) {
            if (grad.length < n * c) grad = java.util.Arrays.copyOf(grad, Math.max(n * c, 2 * grad.length));
            slots = Math.max(slots, n);
            return grad;
        }
    }

    /**
     * Appends every waiting parked token to its image, after the live tokens, in park order
     * (sizes and source maps follow). Returns the spare buffer as {@link #apply} does; with no
     * waiting tokens nothing changes and {@code spare} is returned.
     */
    public static float[] restore(Parallel par, TokenState s, float[] spare, Recording rec) {
        final int batch = s.batch(), c = s.dim();
        if (s.waiting() == 0) {
            if (rec != null) {
                rec.oldRows = rec.newRows = s.total();
                rec.restoredFrom = new int[s.total()];
                for (int i = 0; i < s.total(); i++) rec.restoredFrom[i] = i;
            }
            return spare;
        }
        int[] extra = new int[batch];
        for (int k = s.restored; k < s.parked; k++) extra[s.parkImage[k]]++;
        int[] newOff = new int[batch + 1];
        for (int b = 0; b < batch; b++) newOff[b + 1] = newOff[b] + s.count(b) + extra[b];
        int newT = newOff[batch];
        if (spare.length < newT * c) throw new IllegalArgumentException("spare buffer too small");
        int[] from = new int[newT];
        int[] fill = new int[batch];
        for (int b = 0; b < batch; b++) {
            int o = s.offset(b), n = s.count(b);
            for (int i = 0; i < n; i++) from[newOff[b] + i] = o + i;
            fill[b] = n;
        }
        int[] slotRow = new int[s.parked];
        for (int k = s.restored; k < s.parked; k++) {
            int b = s.parkImage[k];
            slotRow[k] = fill[b]++;
            from[newOff[b] + slotRow[k]] = -1 - k;
        }
        boolean sized = s.size != null;
        for (int k = s.restored; k < s.parked && !sized; k++) sized = s.parkSize[k] != 1f;
        float[] nsize = sized ? new float[newT] : null;
        float[] npos = s.pos == null ? null : new float[2 * newT];
        float[] x = s.x;
        par.forRange(newT, 64, (g0, g1) -> {
            for (int g = g0; g < g1; g++) {
                int f = from[g];
                if (f >= 0) System.arraycopy(x, f * c, spare, g * c, c);
                else System.arraycopy(s.parkX, (-1 - f) * c, spare, g * c, c);
            }
        });
        if (nsize != null) {
            for (int g = 0; g < newT; g++) {
                int f = from[g];
                nsize[g] = f >= 0 ? s.size(f) : s.parkSize[-1 - f];
            }
        }
        if (npos != null) {
            for (int g = 0; g < newT; g++) {
                int f = from[g];
                float[] src = f >= 0 ? s.pos : s.parkPos;
                int k = f >= 0 ? f : -1 - f;
                npos[2 * g] = src[2 * k];
                npos[2 * g + 1] = src[2 * k + 1];
            }
        }
        if (s.source != null) {
            for (int b = 0; b < batch; b++) {
                int[] src = s.source[b];
                for (int q = 0; q < src.length; q++) if (src[q] <= -2) src[q] = slotRow[-2 - src[q]];
            }
        }
        if (rec != null) {
            rec.oldRows = s.total();
            rec.newRows = newT;
            rec.restoredFrom = from;
        }
        s.restored = s.parked;
        s.x = spare;
        s.offsets = newOff;
        s.size = nsize;
        if (npos != null) s.pos = npos;
        return x;
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
        // 0. parked rows go to park slots, in row order (the plan's counts were checked above)
        final int firstSlot = s.parked;
        int nParked = 0;
        for (int t = 0; t < s.total(); t++) if (p.assign[t] == Plan.PARK) nParked++;
        int[] parkedRows = new int[nParked];
        for (int b = 0, k = 0; b < batch; b++) {
            for (int t = s.offsets[b]; t < s.offsets[b + 1]; t++) {
                if (p.assign[t] != Plan.PARK) continue;
                s.park(b, x, t, size == null ? 1f : size[t]);
                parkedRows[k++] = t;
            }
        }
        final int[] slotOf = new int[parkedRows.length == 0 ? 0 : s.total()];
        for (int k = 0; k < parkedRows.length; k++) slotOf[parkedRows[k]] = firstSlot + k;
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
                for (int q = 0; q < src.length; q++) {
                    if (src[q] <= -2) continue; // waiting in a park slot
                    int d = src[q] < 0 ? -1 : p.assign[o + src[q]];
                    src[q] = d == Plan.PARK ? -2 - slotOf[o + src[q]] : d < 0 ? -1 : d;
                }
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
        if (s.pos != null) s.pos = applyToPositions(par, s.pos, size, weights, wsum, memberStart, memberCount, members, newT);
        if (rec != null) {
            rec.firstSlot = firstSlot;
            rec.parkedRows = parkedRows;
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

    /**
     * New positions: a lone row keeps its own; a merged one gets {@code Σ w·s·p / Σ w·s}, the
     * weights its features were averaged with (in double: positions feed sines of up to ~100 radians).
     */
    private static float[] applyToPositions(Parallel par, float[] pos, float[] size, float[] weights, float[] wsum,
                                            int[] memberStart, int[] memberCount, int[] members, int newT) {
        float[] np = new float[2 * newT];
        par.forRange(newT, 64, (g0, g1) -> {
            for (int g = g0; g < g1; g++) {
                int m = memberCount[g], first = memberStart[g];
                if (m == 1) {
                    np[2 * g] = pos[2 * members[first]];
                    np[2 * g + 1] = pos[2 * members[first] + 1];
                    continue;
                }
                double y = 0, x = 0;
                for (int k = first; k < first + m; k++) {
                    int row = members[k];
                    double sz = size == null ? 1f : size[row], w = weights == null ? sz : weights[row] * sz;
                    y += w * pos[2 * row];
                    x += w * pos[2 * row + 1];
                }
                np[2 * g] = (float) (y / wsum[g]);
                np[2 * g + 1] = (float) (x / wsum[g]);
            }
        });
        return np;
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
