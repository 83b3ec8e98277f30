package io.vitrim.reduce;

import io.vitrim.engine.VecMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * The rank and argmax helpers every reducer uses, with the tie rules the references' results
 * depend on: argmax takes the first maximum (PyTorch's {@code max(dim)}), orderings are stable
 * (equal values keep index order). Values are ordered as {@link Float#compare} orders them.
 */
public final class Ranking {
    private Ranking() {}

    /**
     * Index of the first maximum of {@code v[from..to)} (strict {@code >} scan order, so ties go to
     * the lowest index), or {@code -1} when no element is greater than −∞ (empty, all −∞, or NaN).
     */
    public static int argmax(float[] v, int from, int to) {
        int j = from;
        FloatVector vmax = FloatVector.broadcast(VecMath.F, Float.NEGATIVE_INFINITY);
        for (int bound = from + VecMath.F.loopBound(to - from); j < bound; j += VecMath.VLEN) {
            vmax = vmax.lanewise(VectorOperators.MAX, FloatVector.fromArray(VecMath.F, v, j));
        }
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (; j < to; j++) max = Math.max(max, v[j]);
        if (Float.isNaN(max)) return argmaxScalar(v, from, to);
        if (!(max > Float.NEGATIVE_INFINITY)) return -1;
        FloatVector target = FloatVector.broadcast(VecMath.F, max);
        j = from;
        for (int bound = from + VecMath.F.loopBound(to - from); j < bound; j += VecMath.VLEN) {
            VectorMask<Float> hit = FloatVector.fromArray(VecMath.F, v, j).compare(VectorOperators.EQ, target);
            if (hit.anyTrue()) return j + hit.firstTrue();
        }
        for (; j < to; j++) if (v[j] == max) return j;
        throw new AssertionError("maximum not found");
    }

    private static int argmaxScalar(float[] v, int from, int to) {
        float best = Float.NEGATIVE_INFINITY;
        int arg = -1;
        for (int j = from; j < to; j++) {
            if (v[j] > best) {
                best = v[j];
                arg = j;
            }
        }
        return arg;
    }

    /**
     * Indices {@code 0..n-1} ordered by {@code v} descending, equal values by index ascending
     * (the deterministic rule for the references' unstable {@code argsort}). Sorts primitive
     * keys: the value's order-preserving bits above the index.
     */
    public static int[] descendingStable(float[] v, int n, long[] keys) {
        for (int i = 0; i < n; i++) {
            long desc = -(long) orderedBits(v[i]); // negated for descending order
            keys[i] = (desc << 32) | i;
        }
        java.util.Arrays.sort(keys, 0, n);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = (int) keys[i];
        return out;
    }

    /**
     * Indices {@code from..from+n-1} ordered by {@code v[i]} ascending, equal values by index
     * ascending.
     */
    public static int[] ascendingStable(float[] v, int from, int n) {
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) keys[i] = ((long) orderedBits(v[from + i]) << 32) | i;
        java.util.Arrays.sort(keys);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = from + (int) keys[i];
        return out;
    }

    /** An int whose signed order is the float's {@link Float#compare} order. */
    static int orderedBits(float f) {
        int bits = Float.floatToIntBits(f);
        return bits >= 0 ? bits : bits ^ 0x7fffffff;
    }
}
