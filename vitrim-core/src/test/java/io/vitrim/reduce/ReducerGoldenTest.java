package io.vitrim.reduce;

import io.vitrim.io.Json;
import io.vitrim.model.StateDict;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Java reducers vs Python versions written from docs/methods.md ({@code scripts/python/tome_ref.py},
 * {@code adaptive_ref.py}): logits within 1e-4 of the logit scale, identical token counts per
 * block, identical source maps, and for PPT identical per-image prune/pool decisions in batches
 * where images decide differently in the same block. The fixtures' seeds keep every decision
 * clear of near-ties (the margin is recorded in each case).
 */
class ReducerGoldenTest {
    @TestFactory
    List<DynamicTest> tomeMatchesPython() {
        return cases("tome/cases.json");
    }

    @TestFactory
    List<DynamicTest> pptAndLgtmMatchPython() {
        return cases("adaptive/cases.json");
    }

    private List<DynamicTest> cases(String file) {
        List<DynamicTest> tests = new ArrayList<>();
        for (Json.Obj f : Fixtures.cases(file)) {
            tests.add(DynamicTest.dynamicTest(f.str("name", "?") + " " + f.str("spec", ""), () -> check(f)));
        }
        return tests;
    }

    @SuppressWarnings("unchecked")
    private void check(Json.Obj f) {
        ViTConfig cfg = Fixtures.config(f.obj("config"));
        int batch = f.intValue("batch", 0);
        StateDict sd = HashInit.stateDict(cfg, f.integer("seed", 0), f.number("qk_gain", 1));
        float[] px = HashInit.pixels(cfg, batch, f.integer("pixel_seed", 0));
        TokenReducer red = Methods.parse(f.str("spec", null), cfg);
        float[] want = Fixtures.floats(f.list("logits"));
        int[] tokens = Fixtures.ints(f.list("tokens"));
        for (int threads : new int[] {1, 2}) {
            try (VisionTransformer m = VisionTransformer.create(cfg, null, null, sd, threads, "fixture")) {
                VisionTransformer.Result r = m.forward(px, batch, red, true);
                double scale = f.number("logit_scale", 1), maxErr = 0;
                assertThat(r.logits()).hasSameSizeAs(want);
                for (int i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs(r.logits()[i] - want[i]));
                assertThat(maxErr / scale).as("max |Δlogit| / scale, threads=%d", threads).isLessThan(1e-4);
                int[][] src = r.trace().finalSource();
                for (int b = 0; b < batch; b++) {
                    assertThat(r.trace().tokensEnteringBlocks(b)).as("tokens entering blocks, image %d", b).containsExactly(tokens);
                    assertThat(r.trace().mlpTokens(b, cfg.depth() - 1)).isEqualTo(f.intValue("final_tokens", 0));
                    int[] wantSrc = Fixtures.ints((List<Object>) f.list("sources").get(b));
                    assertThat(src[b]).as("source map, image %d", b).containsExactly(wantSrc);
                    if (f.has("decisions")) {
                        List<Object> decisions = (List<Object>) f.list("decisions").get(b);
                        assertThat(r.trace().decisions(b)).as("PPT decisions, image %d", b).isEqualTo(decisions);
                    }
                }
            }
        }
    }
}
