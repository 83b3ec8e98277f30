package io.vitrim.reduce;

import java.util.EnumSet;
import java.util.Set;

/**
 * A token-reduction method for one forward pass. Two hook points (docs/design.md §4):
 * {@link #inBlock} between the attention residual and the MLP (ToMe, PPT, LTMP, LGTM) and
 * {@link #afterBlock} between blocks (Cropr). Returning null leaves the tokens unchanged.
 *
 * <p>Implementations are immutable and thread-safe: one instance serves concurrent forwards.
 */
public interface TokenReducer {
    /** The spec string that recreates this reducer, e.g. {@code tome:r=13}. */
    String spec();

    /** Statistics block {@code block}'s attention must expose for {@link #inBlock}. */
    default Set<Probe> probes(int block) {
        return EnumSet.noneOf(Probe.class);
    }

    /** Add {@code ln(size)} to attention logits once sizes exist (ToMe's proportional attention). */
    default boolean proportionalAttention() {
        return false;
    }

    /** The reducer reads {@link TokenState#source()} (the model then tracks it). */
    default boolean needsSource() {
        return false;
    }

    /** Average-pool heads weight tokens by size (ToMe's MAE patch). */
    default boolean sizeWeightedPool() {
        return false;
    }

    /**
     * Average pooling means every final token, prefix tokens included (Cropr's head), instead of
     * timm's patch tokens only.
     */
    default boolean poolIncludesPrefix() {
        return false;
    }

    /** Inside block {@code block}, after the attention residual, before the MLP. */
    default Plan inBlock(int block, TokenState tokens, BlockProbes probes, Trace trace) {
        return null;
    }

    /** After block {@code block}. */
    default Plan afterBlock(int block, TokenState tokens, Trace trace) {
        return null;
    }

    /**
     * Before block {@code block}, append every parked token back to its image (after its live
     * tokens, in park order) — Cropr's last-layer fusion.
     */
    default boolean restoreBefore(int block) {
        return false;
    }

    /** After the last block, append every parked token back before the head (dense outputs). */
    default boolean restoreAtOutput() {
        return false;
    }

    /**
     * A training graph that keeps every token in place and masks merged and pruned ones out of
     * attention instead of applying plans (LTMP's training model), or null. Only training
     * forwards use it.
     */
    default MaskedTraining maskedTraining() {
        return null;
    }

    /** No reduction. */
    TokenReducer NONE = () -> "none";
}
