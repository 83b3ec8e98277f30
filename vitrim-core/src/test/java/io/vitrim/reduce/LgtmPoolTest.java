package io.vitrim.reduce;

import io.vitrim.VitrimException;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.StateDict;
import io.vitrim.model.VisionTransformer;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** LGTM's {@code pool=wavg}: an average-pooled head weights each final token by the patches it stands for (docs/encoders.md). */
class LgtmPoolTest {
    /** 8×8 patches, class token, average pooling into fc_norm (EVA02's MIM towers pool this way). */
    private static final ViTConfig AVG = new ViTConfig("avg", 32, 32, 4, 3, 24, 5, 2, 48, true, true, false, ViTConfig.Pool.AVG, true, 4,
            1e-6f, 0, false, false, false, ViTConfig.Act.GELU);

    @Test
    void theKnobParsesAndIsChecked() {
        assertThat(Methods.parse("lgtm:r=4", AVG).sizeWeightedPool()).isFalse();
        assertThat(Methods.parse("lgtm:r=4,pool=wavg", AVG).sizeWeightedPool()).isTrue();
        assertThatThrownBy(() -> Methods.parse("lgtm:r=4,pool=max", AVG)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("pool must be mean or wavg");
    }

    /** With the local phase off, LGTM merges as ToMe does from block {@code dense} on: the pooled outputs agree in both modes. */
    @Test
    void sizeWeightedPoolingMatchesToMesAndChangesTheOutput() {
        StateDict sd = HashInit.stateDict(AVG, 91, 2.0);
        float[] px = HashInit.pixels(AVG, 2, 92);
        try (VisionTransformer m = VisionTransformer.create(AVG, null, null, sd, 1, "avg")) {
            float[] lw = m.forward(px, 2, Methods.parse("lgtm:r=6,dense=0,switch=0,pool=wavg", AVG), false).logits();
            float[] tw = m.forward(px, 2, Methods.parse("tome:r=6,pool=wavg", AVG), false).logits();
            float[] lm = m.forward(px, 2, Methods.parse("lgtm:r=6,dense=0,switch=0", AVG), false).logits();
            float[] tm = m.forward(px, 2, Methods.parse("tome:r=6", AVG), false).logits();
            assertThat(lw).containsExactly(tw);
            assertThat(lm).containsExactly(tm);
            assertThat(lw).isNotEqualTo(lm);    // merged tokens of several patches weigh more
        }
    }
}
