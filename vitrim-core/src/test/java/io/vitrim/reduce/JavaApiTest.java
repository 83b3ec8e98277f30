package io.vitrim.reduce;

import io.vitrim.image.RgbImage;
import io.vitrim.model.Architectures;
import io.vitrim.model.Prediction;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class JavaApiTest {
    @Test
    void classifyWithReductionSpecs() {
        ViTConfig cfg = new ViTConfig("t", 32, 32, 4, 3, 32, 4, 2, 64, true, true, false, ViTConfig.Pool.TOKEN, false, 4, 1e-6f);
        PreprocessConfig pre = Architectures.get("deit_tiny_patch16_224").preprocess().withInputSize(32, 32);
        byte[] rgb = new byte[40 * 50 * 3];
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * 31);
        RgbImage img = new RgbImage(40, 50, rgb);
        try (VisionTransformer m = VisionTransformer.create(cfg, pre, null, HashInit.stateDict(cfg, 1, 2.0), 2, "t")) {
            Prediction dense = m.classify(img, Spec.none());
            Prediction tome = m.classify(img, Spec.tome(8));
            assertThat(dense.tokens()).containsExactly(65, 65, 65, 65);
            assertThat(tome.tokens()).containsExactly(65, 57, 49, 41);
            assertThat(tome.top(2)).hasSize(2);
            assertThat(m.classify(img, Spec.of("random:r=8")).tokens()).containsExactly(65, 57, 49, 41);
        }
    }
}
