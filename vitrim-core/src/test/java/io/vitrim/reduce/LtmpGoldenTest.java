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

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * LTMP inference vs a Python port of the reference's inference block run one image at a time
 * ({@code make_fixtures.py ltmp}): logits within 1e-4 of the logit scale and every image's token
 * count per block identical, with batches whose images end with different counts; a batch gives
 * exactly the per-image results; thresholds bound from checkpoint keys give the same as the spec.
 */
class LtmpGoldenTest {
    static List<Json.Obj> cases() {
        return Fixtures.cases("ltmp/cases.json");
    }

    @TestFactory
    List<DynamicTest> matchesThePythonReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Json.Obj c : cases()) tests.add(DynamicTest.dynamicTest(c.str("name", "?") + " " + c.str("spec", ""), () -> check(c)));
        return tests;
    }

    @SuppressWarnings("unchecked")
    private void check(Json.Obj f) {
        ViTConfig cfg = Fixtures.config(f.obj("config"));
        int batch = f.intValue("batch", 0);
        StateDict sd = HashInit.stateDict(cfg, f.integer("seed", 0), f.number("qk_gain", 1));
        float[] px = HashInit.pixels(cfg, batch, f.integer("pixel_seed", 0));
        float[] want = Fixtures.floats(f.list("logits"));
        int k = cfg.numClasses(), per = px.length / batch;
        for (int threads : new int[] {1, 2}) {
            try (VisionTransformer m = VisionTransformer.create(cfg, null, null, sd, threads, "fixture")) {
                TokenReducer red = m.reducer(f.str("spec", null));
                VisionTransformer.Result r = m.forward(px, batch, red, false);
                double maxErr = 0;
                assertThat(r.logits()).hasSameSizeAs(want);
                for (int i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs(r.logits()[i] - want[i]));
                assertThat(maxErr / f.number("logit_scale", 1)).as("max |Δlogit| / scale, threads=%d", threads).isLessThan(1e-4);
                for (int b = 0; b < batch; b++) {
                    int[] tokens = Fixtures.ints((List<Object>) f.list("tokens").get(b));
                    assertThat(r.trace().tokensEnteringBlocks(b)).as("tokens entering blocks, image %d", b).containsExactly(tokens);
                    // the image alone: the same bits
                    VisionTransformer.Result one = m.forward(Arrays.copyOfRange(px, b * per, (b + 1) * per), 1, red, false);
                    assertThat(one.logits()).as("image %d alone vs in the batch", b).containsExactly(r.logits(b));
                }
            }
        }
    }

    @Test
    void thresholdsFromTheCheckpointKeys() {
        Json.Obj f = cases().get(1); // per-block thresholds
        ViTConfig cfg = Fixtures.config(f.obj("config"));
        int batch = f.intValue("batch", 0);
        StateDict sd = HashInit.stateDict(cfg, f.integer("seed", 0), f.number("qk_gain", 1));
        double[] merge = f.numbers("merge"), prune = f.numbers("prune");
        for (int i = 0; i < cfg.depth(); i++) {
            sd.put(Ltmp.mergeKey(i), new float[] {(float) merge[i]}, 1);
            sd.put(Ltmp.pruneKey(i), new float[] {(float) prune[i]}, 1);
        }
        float[] px = HashInit.pixels(cfg, batch, f.integer("pixel_seed", 0));
        try (VisionTransformer m = VisionTransformer.create(cfg, null, null, sd, 2, "fixture")) {
            assertThat(m.weights().method()).hasSize(2 * cfg.depth());
            float[] fromSpec = m.forward(px, batch, m.reducer(f.str("spec", null)), false).logits();
            float[] fromKeys = m.forward(px, batch, m.reducer("ltmp"), false).logits();
            assertThat(fromKeys).containsExactly(fromSpec);
            // the spec overrides one kind, the checkpoint gives the other
            Ltmp mixed = (Ltmp) m.reducer("ltmp:prune=off");
            assertThat(mixed.pruneThresholds()).isNull();
            assertThat(mixed.mergeThresholds()[2]).isEqualTo((float) merge[2]);
            // other methods load the same checkpoint
            assertThat(m.forward(px, batch, m.reducer("tome:r=4"), false).trace().tokensEnteringBlocks(0)[1]).isEqualTo(61);
        }
    }

    @Test
    void badThresholdsAreOneLineErrors() {
        ViTConfig cfg = Fixtures.config(cases().get(0).obj("config"));
        StateDict sd = HashInit.stateDict(cfg, 1, 1.0);
        try (VisionTransformer m = VisionTransformer.create(cfg, null, null, sd, 1, "fixture")) {
            assertThatThrownBy(() -> m.reducer("ltmp")).isInstanceOf(VitrimException.class).hasMessageContaining("no blocks.0.merge_masker.threshold");
            assertThatThrownBy(() -> m.reducer("ltmp:merge=1.5,prune=0")).hasMessageContaining("outside [0, 1]");
            assertThatThrownBy(() -> m.reducer("ltmp:merge=NaN,prune=0")).hasMessageContaining("outside [0, 1]");
            assertThatThrownBy(() -> m.reducer("ltmp:merge=high,prune=0")).hasMessageContaining("numbers in [0, 1] or off");
            assertThatThrownBy(() -> m.reducer("ltmp:merge=0.9/0.8,prune=0")).hasMessageContaining("2 values for 6 blocks");
            assertThatThrownBy(() -> m.reducer("ltmp:merge=off,prune=off")).hasMessageContaining("nothing to do");
        }
        sd.put(Ltmp.pruneKey(3), new float[] {Float.NaN}, 1);
        assertThatThrownBy(() -> VisionTransformer.create(cfg, null, null, sd, 1, "m.safetensors")).isInstanceOf(VitrimException.class)
                .hasMessageStartingWith("m.safetensors").hasMessageContaining("blocks.3.prune_masker.threshold is NaN, outside [0, 1]");
        sd.put(Ltmp.pruneKey(3), new float[] {0.1f, 0.2f}, 2);
        assertThatThrownBy(() -> VisionTransformer.create(cfg, null, null, sd, 1, "m.safetensors")).hasMessageContaining("wrong shape");
    }
}
