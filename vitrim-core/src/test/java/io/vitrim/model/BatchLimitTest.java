package io.vitrim.model;

import io.vitrim.VitrimException;
import io.vitrim.config.ViTConfig;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A batch whose widest activation buffer would pass Java's array limit is a one-line error, not an index exception. */
class BatchLimitTest {
    @Test
    void aBatchPastTheArrayLimitNamesTheLargestThatFits() {
        // 255×255 patches of 1 pixel + class token = 65,026 tokens; fc1 of 24,576: 1.6e9 floats per image
        ViTConfig c = new ViTConfig("wide", 255, 255, 1, 3, 8, 1, 1, 24576, true, true, false, ViTConfig.Pool.TOKEN, false, 2, 1e-6f);
        try (VisionTransformer m = VisionTransformer.create(c, null, null, HashInit.stateDict(c, 1, 1.0), 1, "wide")) {
            float[] px = new float[2 * 3 * 255 * 255];
            assertThatThrownBy(() -> m.forward(px, 2, TokenReducer.NONE, false)).isInstanceOf(VitrimException.class)
                    .hasMessage("wide: batch 2 is too large for this model (65026 tokens, MLP width 24576): use a batch of at most 1");
        }
    }
}
