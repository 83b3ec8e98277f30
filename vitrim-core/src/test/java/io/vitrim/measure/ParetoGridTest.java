package io.vitrim.measure;

import io.vitrim.model.Architectures;
import io.vitrim.config.ViTConfig;
import io.vitrim.reduce.Methods;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class ParetoGridTest {
    /** The embedded CIFAR-10 model's shape: 32×32, patch 4, depth 4. */
    static final ViTConfig CIFAR = new ViTConfig("vit_tiny_patch16_224", 32, 32, 4, 3, 256, 4, 4, 1024, true, true, false,
            ViTConfig.Pool.TOKEN, false, 10, 1e-6f);

    @Test
    void everyMethodGetsAtLeastFourValidPointsOnDeitSmallAndTheCifarModel() {
        for (ViTConfig c : List.of(Architectures.get("deit_small_patch16_224").config(), CIFAR)) {
            for (String method : Methods.methods().keySet()) {
                if (method.equals("none")) continue;
                List<String> grid = Pareto.defaultGrid(method, c);
                if (method.equals("cropr")) {
                    // needs its fine-tuned weights: points come from model folders, never from the grid
                    assertThat(grid).as("cropr's grid").isEmpty();
                    continue;
                }
                assertThat(grid).as(method + " on depth " + c.depth()).hasSizeGreaterThanOrEqualTo(4).doesNotHaveDuplicates();
                for (String spec : grid) Methods.parse(spec, c); // throws if the model rejects it
            }
        }
        assertThat(Pareto.defaultGrid("ppt", Architectures.get("deit_small_patch16_224").config()))
                .contains("ppt:r=49,layers=3/6/9,threshold=7.00e-05");
    }
}
