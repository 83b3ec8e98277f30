package io.vitrim.reduce;

import io.vitrim.VitrimException;
import io.vitrim.config.ViTConfig;
import io.vitrim.io.Json;
import io.vitrim.model.StateDict;
import io.vitrim.model.VisionTransformer;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Cropr inference vs the reference model itself (benbergner/cropr's VisionTransformer and Cropr
 * modules on timm, {@code make_fixtures.py cropr}): with and without last-layer fusion, one and
 * several queries, token and average pooling — logits within 1e-4 of the logit scale, the token
 * count entering every block identical, a batch equal to its images run alone.
 */
class CroprGoldenTest {
    static List<Json.Obj> cases() {
        return Fixtures.cases("cropr/cases.json");
    }

    /** The case's hash weights, Cropr's keys included (their scales are listed in the fixture). */
    static StateDict weights(Json.Obj f, ViTConfig cfg) {
        long seed = f.integer("seed", 0);
        return Fixtures.withListedKeys(HashInit.stateDict(cfg, seed, f.number("qk_gain", 1)), seed, f.list("cropr_keys"));
    }

    @TestFactory
    List<DynamicTest> matchesTheReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Json.Obj c : cases()) tests.add(DynamicTest.dynamicTest(c.str("name", "?") + " " + c.str("spec", ""), () -> check(c)));
        return tests;
    }

    private void check(Json.Obj f) {
        ViTConfig cfg = Fixtures.config(f.obj("config"));
        int batch = f.intValue("batch", 0);
        StateDict sd = weights(f, cfg);
        float[] px = HashInit.pixels(cfg, batch, f.integer("pixel_seed", 0));
        float[] want = Fixtures.floats(f.list("logits"));
        int[] tokens = Fixtures.ints(f.list("tokens_entering_blocks"));
        int per = px.length / batch;
        for (int threads : new int[] {1, 2}) {
            try (VisionTransformer m = VisionTransformer.create(cfg, null, null, sd, threads, "fixture")) {
                assertThat(m.weights().trainingOnly()).as("auxiliary keys load, marked training-only").isNotEmpty();
                TokenReducer red = m.reducer(f.str("spec", null));
                VisionTransformer.Result r = m.forward(px, batch, red, false);
                double maxErr = 0;
                assertThat(r.logits()).hasSameSizeAs(want);
                for (int i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs(r.logits()[i] - want[i]));
                assertThat(maxErr / f.number("logit_scale", 1)).as("max |Δlogit| / scale, threads=%d", threads).isLessThan(1e-4);
                for (int b = 0; b < batch; b++) {
                    assertThat(r.trace().tokensEnteringBlocks(b)).as("tokens entering blocks, image %d", b).containsExactly(tokens);
                    VisionTransformer.Result one = m.forward(Arrays.copyOfRange(px, b * per, (b + 1) * per), 1, red, false);
                    assertThat(one.logits()).as("image %d alone vs in the batch", b).containsExactly(r.logits(b));
                }
            }
        }
    }

    @Test
    void rateAndFusionComeFromTheModelFolderWhenTheSpecLeavesThemOut() {
        Json.Obj f = cases().get(0);
        ViTConfig cfg = Fixtures.config(f.obj("config"));
        StateDict sd = weights(f, cfg);
        float[] px = HashInit.pixels(cfg, 2, 5);
        try (VisionTransformer m = VisionTransformer.create(cfg, null, null, sd, 2, "fixture")) {
            assertThatThrownBy(() -> m.reducer("cropr")).isInstanceOf(VitrimException.class).hasMessageContaining("give rate=R");
            m.methodDefaults(Map.of("cropr", "rate=" + f.intValue("rate", 0) + ",llf=" + (f.bool("llf", false) ? 1 : 0)));
            TokenReducer fromFolder = m.reducer("cropr");
            assertThat(fromFolder.spec()).isEqualTo(f.str("spec", null));
            assertThat(m.forward(px, 2, fromFolder, false).logits()).containsExactly(m.forward(px, 2, m.reducer(f.str("spec", null)), false).logits());
            // a knob the spec gives wins over the folder's
            assertThat(((Cropr) m.reducer("cropr:llf=0,scorer=random")).llf()).isFalse();
            // without fusion one more module needs queries this checkpoint (trained with fusion) lacks
            assertThatThrownBy(() -> m.reducer("cropr:llf=0")).hasMessageContaining("no cropr.4.cross_attn.queries");
            assertThat(((Cropr) m.reducer("cropr:rate=2")).rate()).isEqualTo(2);
        }
    }

    @Test
    void randomScorerFollowsTheSameScheduleWithoutQueries() {
        Json.Obj f = cases().get(1);
        ViTConfig cfg = Fixtures.config(f.obj("config"));
        StateDict plain = HashInit.stateDict(cfg, 3, 1.0);
        float[] px = HashInit.pixels(cfg, 3, 4);
        try (VisionTransformer m = VisionTransformer.create(cfg, null, null, plain, 2, "fixture")) {
            VisionTransformer.Result r = m.forward(px, 3, m.reducer("cropr:rate=6,llf=0,scorer=random,seed=3"), false);
            assertThat(r.trace().tokensEnteringBlocks(2)).containsExactly(Fixtures.ints(f.list("tokens_entering_blocks")));
            VisionTransformer.Result again = m.forward(px, 3, m.reducer("cropr:rate=6,llf=0,scorer=random,seed=3"), false);
            assertThat(again.logits()).containsExactly(r.logits());
            assertThat(m.forward(px, 3, m.reducer("cropr:rate=6,llf=0,scorer=random,seed=4"), false).logits()).isNotEqualTo(r.logits());
        }
    }

    @Test
    void fusionWithRateZeroOnlyReordersSoLogitsEqualTheDenseModelWithCroprsHead() {
        // rate 0 still prunes one token in module 0 (R0 = R + 1), which fusion brings back: with
        // token pooling the class token sees every token again in the last block
        Json.Obj f = cases().get(0);
        ViTConfig cfg = Fixtures.config(f.obj("config"));
        StateDict sd = weights(f, cfg);
        float[] px = HashInit.pixels(cfg, 2, 6);
        try (VisionTransformer m = VisionTransformer.create(cfg, null, null, sd, 1, "fixture")) {
            VisionTransformer.Result r = m.forward(px, 2, m.reducer("cropr:rate=0,llf=1"), false);
            assertThat(r.trace().tokensEnteringBlocks(0)).containsExactly(65, 64, 64, 64, 64, 65);
        }
    }

    @Test
    void badInputIsAOneLineError() {
        Json.Obj f = cases().get(0);
        ViTConfig cfg = Fixtures.config(f.obj("config"));
        try (VisionTransformer m = VisionTransformer.create(cfg, null, null, HashInit.stateDict(cfg, 1, 1.0), 1, "m.safetensors")) {
            assertThatThrownBy(() -> m.reducer("cropr:rate=4,llf=1")).isInstanceOf(VitrimException.class)
                    .hasMessageStartingWith("m.safetensors").hasMessageContaining("no cropr.0.cross_attn.queries");
            assertThatThrownBy(() -> m.reducer("cropr:rate=16,llf=1,scorer=random")).hasMessageContaining("leaving 0")
                    .hasMessageContaining("at most rate=15");
            assertThatThrownBy(() -> m.reducer("cropr:rate=-1,llf=1,scorer=random")).hasMessageContaining("rate must be >= 0");
            assertThatThrownBy(() -> m.reducer("cropr:rate=2,llf=maybe,scorer=random")).hasMessageContaining("llf must be true or false");
            assertThatThrownBy(() -> m.reducer("cropr:rate=2,llf=1,scorer=best")).hasMessageContaining("scorer must be learned or random");
        }
        StateDict sd = weights(f, cfg);
        sd.put("cropr.0.cross_attn.queries", new float[2 * cfg.embedDim()], 2, cfg.embedDim());
        assertThatThrownBy(() -> VisionTransformer.create(cfg, null, null, sd, 1, "m.safetensors")).hasMessageContaining("wrong shape")
                .hasMessageContaining("cropr.0.cross_attn.queries");
    }
}
