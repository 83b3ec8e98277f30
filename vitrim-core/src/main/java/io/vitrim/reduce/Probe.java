package io.vitrim.reduce;

/** Statistics a reducer can ask the attention layer of a block to expose. */
public enum Probe {
    /** ToMe's metric: keys averaged over heads, [T, head_dim]. */
    MEAN_KEY,
    /** Class-token attention summed over heads: Σ_h P[h, 0, j], [T]. */
    CLS_ATTENTION,
    /** Attention received, averaged over heads and query rows: (1/(H·N)) Σ_h Σ_i P[h, i, j], [T]. */
    ATTENTION_RECEIVED,
    /** L2 norm of each token's value vector over all heads, [T]. */
    VALUE_NORM
}
