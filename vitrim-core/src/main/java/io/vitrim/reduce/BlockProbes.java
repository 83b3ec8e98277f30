package io.vitrim.reduce;

import io.vitrim.engine.Parallel;
import io.vitrim.engine.VecMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * What the attention layer of one block exposed, row-aligned with the {@link TokenState} the
 * attention saw. Only the requested fields are filled; the others are null.
 */
public final class BlockProbes {
    /** Width of the mean-key rows (the head dimension). */
    public int headDim;
    /** [T, 3C] the block's q/k/v rows, the source of {@link #meanKeys}; null unless MEAN_KEY was asked for. */
    float[] qkv;
    int heads;
    /** [T] Σ_h P[h, 0, j]. */
    public float[] clsAttention;
    /** [T] mean attention received. */
    public float[] attentionReceived;
    /** [T] ‖v_j‖₂. */
    public float[] valueNorm;

    /**
     * ToMe's metric for rows {@code [from, to)}: keys averaged over heads (summed in head order,
     * then divided, as torch's {@code mean}), {@code [(to − from), headDim]}. Computed on demand so
     * a reducer working per image reads each row once, in parallel.
     */
    public float[] meanKeys(int from, int to) {
        return meanKeys(Parallel.serial(), from, to);
    }

    /** {@link #meanKeys(int, int)} with the rows split across {@code par} (when it is free). */
    public float[] meanKeys(Parallel par, int from, int to) {
        if (qkv == null) throw new IllegalStateException("MEAN_KEY was not requested");
        final int c = heads * headDim, ld = 3 * c;
        final float[] out = new float[(to - from) * headDim];
        par.forRange(to - from, 64, (r0, r1) -> {
            for (int r = from + r0; r < from + r1; r++) meanOverHeads(qkv, r * ld + c, heads, headDim, out, (r - from) * headDim);
        });
        return out;
    }

    private static void meanOverHeads(float[] src, int off, int heads, int hd, float[] dst, int dOff) {
        float inv = heads;
        FloatVector vInv = FloatVector.broadcast(VecMath.F, inv);
        int e = 0;
        for (int bound = VecMath.F.loopBound(hd); e < bound; e += VecMath.VLEN) {
            FloatVector acc = FloatVector.fromArray(VecMath.F, src, off + e);
            for (int h = 1; h < heads; h++) acc = acc.add(FloatVector.fromArray(VecMath.F, src, off + h * hd + e));
            acc.lanewise(VectorOperators.DIV, vInv).intoArray(dst, dOff + e);
        }
        for (; e < hd; e++) {
            float acc = src[off + e];
            for (int h = 1; h < heads; h++) acc += src[off + h * hd + e];
            dst[dOff + e] = acc / inv;
        }
    }
}
