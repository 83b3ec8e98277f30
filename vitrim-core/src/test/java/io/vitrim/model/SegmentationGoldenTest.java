package io.vitrim.model;

import io.vitrim.config.SegmentationConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.io.Json;
import io.vitrim.reduce.Dense;
import io.vitrim.reduce.Methods;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Segmentation against {@code scripts/python/seg_ref.py}: Segmenter's linear decoder after the
 * final norm, ToMe's merged tokens unmerged through the source map, PPT's pruned tokens parked
 * and restored after the last block and before it (LLF); per-patch logits and the bilinear
 * resize (to the input and to another size) within 1e-4 of the logit scale, token counts equal.
 */
class SegmentationGoldenTest {
    @TestFactory
    List<DynamicTest> segmentationMatchesPython() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Json.Obj f : Fixtures.cases("seg/cases.json")) {
            tests.add(DynamicTest.dynamicTest(f.str("name", "?") + " " + f.str("spec", "") + " " + f.str("restore", ""), () -> check(f)));
        }
        return tests;
    }

    @SuppressWarnings("unchecked")
    private void check(Json.Obj f) {
        ViTConfig cfg = Fixtures.config(f.obj("config"));
        int batch = f.intValue("batch", 0), k = f.intValue("classes", 0);
        long seed = f.integer("seed", 0);
        StateDict sd = HashInit.stateDict(cfg, seed, f.number("qk_gain", 1));
        sd.put("decoder.head.weight", HashInit.uniform(seed, "decoder.head.weight", k * cfg.embedDim(), Math.sqrt(3.0 / cfg.embedDim()), 0),
                new int[] {k, cfg.embedDim()});
        sd.put("decoder.head.bias", HashInit.uniform(seed, "decoder.head.bias", k, 0.1, 0), new int[] {k});
        float[] px = HashInit.pixels(cfg, batch, f.integer("pixel_seed", 0));
        TokenReducer red = Methods.parse(f.str("spec", null), cfg);
        Dense.Restore restore = Dense.Restore.valueOf(f.str("restore", "output").toUpperCase(java.util.Locale.ROOT));
        double scale = f.number("scale", 1);
        for (int threads : new int[] {1, 2}) {
            try (VisionTransformer m = VisionTransformer.createSegmenter(cfg, null, new SegmentationConfig(k, -1, null), null, sd, threads, "fixture")) {
                VisionTransformer.Segmentation s = m.segment(px, batch, red, restore);
                assertThat(maxErr(s.gridLogits(), Fixtures.floats(f.list("grid"))) / scale).as("grid logits, threads=%d", threads).isLessThan(1e-4);
                for (int b = 0; b < batch; b++) {
                    int[] tokens = Fixtures.ints((List<Object>) f.list("tokens").get(b));
                    assertThat(s.trace().tokensEnteringBlocks(b)).as("tokens entering blocks, image %d", b).containsExactly(tokens);
                }
                if (!f.has("full")) continue;
                float[] got = s.resized(0, cfg.imgHeight(), cfg.imgWidth());
                assertThat(maxErr(got, Fixtures.floats(f.list("full"))) / scale).as("resized to the input size").isLessThan(1e-4);
                List<Object> size = f.list("other_size");
                int oh = ((Number) size.get(0)).intValue(), ow = ((Number) size.get(1)).intValue();
                got = s.resized(1, oh, ow);
                assertThat(maxErr(got, Fixtures.floats(f.list("other"))) / scale).as("resized to %dx%d", oh, ow).isLessThan(1e-4);
                int[] mask = s.mask(1, oh, ow);
                for (int i = 0; i < mask.length; i++) {
                    int best = 0;
                    for (int c = 1; c < k; c++) if (got[c * oh * ow + i] > got[best * oh * ow + i]) best = c;
                    assertThat(mask[i]).as("mask pixel %d", i).isEqualTo(best);
                }
            }
        }
    }

    private static double maxErr(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double e = 0;
        for (int i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
        return e;
    }
}
