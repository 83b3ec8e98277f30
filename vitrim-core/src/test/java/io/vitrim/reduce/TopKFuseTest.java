package io.vitrim.reduce;

import io.vitrim.config.ViTConfig;
import io.vitrim.engine.Parallel;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Top-K's fused token is the attention-weighted mean of the dropped tokens, also when a saturated
 * softmax leaves them with subnormal or zero attention (post-norm towers do): weights relative to
 * the largest keep every digit, and all-zero weights fall back to the plain mean instead of 0/0.
 */
class TopKFuseTest {
    /** Class token + 7 patches (a 1×7 grid), width 2, one block. */
    private static final ViTConfig C = new ViTConfig("t", 4, 28, 4, 3, 2, 1, 1, 4, true, true, false, ViTConfig.Pool.TOKEN, false, 3, 1e-6f);

    /** The three lowest-attention patches (rows 1-3) are fused; returns the fused row (the last one). */
    private static float[] fused(float[] attention) {
        float[] x = new float[8 * 2];
        for (int t = 0; t < 8; t++) {
            x[2 * t] = t;
            x[2 * t + 1] = t * t;
        }
        TokenState s = new TokenState(1, 2, 1, 8, 7, x, new int[] {0, 8}, false, Parallel.create(1));
        BlockProbes probes = new BlockProbes();
        probes.clsAttention = attention;
        Plan p = Methods.parse("topk:r=2,fuse=true", C).inBlock(0, s, probes, new io.vitrim.reduce.Trace(1, 1));
        PlanApplier.apply(Parallel.create(1), s, p, new float[8 * 2]);
        assertThat(s.count(0)).isEqualTo(6); // class, 4 kept, 1 fused
        return new float[] {s.x()[5 * 2], s.x()[5 * 2 + 1]};
    }

    @Test
    void zeroAttentionFusesThePlainMean() {
        float[] f = fused(new float[] {1f, 0f, 0f, 0f, 0.5f, 0.6f, 0.7f, 0.8f});
        assertThat(f[0]).isEqualTo(2f);             // (1 + 2 + 3) / 3
        assertThat(f[1]).isCloseTo(14f / 3, within(1e-6f)); // (1 + 4 + 9) / 3
    }

    @Test
    void subnormalAttentionKeepsItsProportions() {
        float m = Float.MIN_VALUE; // 1.4e-45: weights 1 : 2 : 3 exactly
        float[] f = fused(new float[] {1f, m, 2 * m, 3 * m, 0.5f, 0.6f, 0.7f, 0.8f});
        assertThat(f[0]).isCloseTo((1 + 2 * 2 + 3 * 3) / 6f, within(1e-6f));
        assertThat(f[1]).isCloseTo((1 + 2 * 4 + 3 * 9) / 6f, within(1e-5f));
    }

    @Test
    void ordinaryAttentionWeightsAsBefore() {
        float[] f = fused(new float[] {1f, 0.1f, 0.2f, 0.3f, 0.5f, 0.6f, 0.7f, 0.8f});
        assertThat(f[0]).isCloseTo((0.1f + 0.2f * 2 + 0.3f * 3) / 0.6f, within(1e-5f));
    }
}
