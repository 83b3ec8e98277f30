package io.vitrim.reduce;

/**
 * What the attention layer of one block exposed, row-aligned with the {@link TokenState} the
 * attention saw. Only the requested fields are filled; the others are null.
 */
public final class BlockProbes {
    /** [T, headDim] mean key over heads. */
    public float[] meanKey;
    /** Width of {@link #meanKey} rows. */
    public int headDim;
    /** [T] Σ_h P[h, 0, j]. */
    public float[] clsAttention;
    /** [T] mean attention received. */
    public float[] attentionReceived;
    /** [T] ‖v_j‖₂. */
    public float[] valueNorm;
}
