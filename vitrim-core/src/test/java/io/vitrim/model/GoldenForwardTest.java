package io.vitrim.model;

import io.vitrim.config.ViTConfig;
import io.vitrim.io.Json;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

/** Java logits vs the PyTorch reference ({@code scripts/python/vit_ref.py}) on hash-initialised models. */
class GoldenForwardTest {

    @ParameterizedTest
    @ValueSource(strings = {"tiny_token", "tiny_distilled", "tiny_avg", "tiny_avg_nocls", "tiny_avg_norm", "odd_nonsquare", "not_multiple", "deit_s_sized"})
    void logitsMatchPyTorch(String name) {
        Json.Obj f = Fixtures.load("core/" + name + ".json");
        ViTConfig cfg = Fixtures.config(f.obj("config"));
        int batch = f.intValue("batch", 0);
        StateDict sd = HashInit.stateDict(cfg, f.integer("seed", 0), f.number("qk_gain", 1));
        float[] px = HashInit.pixels(cfg, batch, f.integer("pixel_seed", 0));
        float[] expected = Fixtures.floats(f.list("logits"));
        double scale = f.number("logit_scale", 1);
        for (int threads : new int[] {1, 2}) {
            try (VisionTransformer m = VisionTransformer.create(cfg, null, null, sd, threads, name)) {
                float[] got = m.forward(px, batch, TokenReducer.NONE, false).logits();
                assertThat(got).hasSameSizeAs(expected);
                double maxErr = 0;
                for (int i = 0; i < got.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - expected[i]));
                assertThat(maxErr / scale).as("%s threads=%d: max |Δlogit| %.3g (scale %.3g)", name, threads, maxErr, scale)
                        .isLessThan(1e-4);
            }
        }
    }
}
