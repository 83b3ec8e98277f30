package io.vitrim.train;

import io.vitrim.config.SegmentationConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.io.Json;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.Param;
import io.vitrim.model.StateDict;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Dense;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One segmentation training step vs PyTorch autograd ({@code make_fixtures.py seg_train}):
 * Segmenter's loss on the bilinearly upsampled patch logits with the ignore label and class
 * weights, backward through the decoder, the unmerge (ToMe), parking and restoring (PPT, LLF)
 * and every block. Loss within 1e-5 relative, every parameter gradient within 1e-4, pixel
 * counts and token counts exact; 1 and 2 threads.
 */
class SegmentationTrainGoldenTest {
    static List<Json.Obj> cases() {
        return Fixtures.cases("seg/train_cases.json");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    @SuppressWarnings("unchecked")
    void lossAndEveryGradientMatchPyTorch(Json.Obj c) {
        ViTConfig cfg = Fixtures.config(c.obj("config"));
        int batch = c.intValue("batch", 0), k = c.intValue("classes", 0);
        long seed = c.integer("seed", 0);
        StateDict grads = ModelLoader.readTensors(Fixtures.path("seg/" + c.str("grads", null)));
        int[] labelInts = Fixtures.ints(c.list("labels"));
        byte[] labels = new byte[labelInts.length];
        for (int i = 0; i < labels.length; i++) labels[i] = (byte) labelInts[i];
        float[] weights = c.has("class_weights") && c.get("class_weights") != null ? Fixtures.floats(c.list("class_weights")) : null;
        Dense.Restore restore = Dense.Restore.valueOf(c.str("restore", "output").toUpperCase(java.util.Locale.ROOT));
        SegmentationConfig seg = new SegmentationConfig(k, c.intValue("ignore", 0), null);
        SegmentationTask task = new SegmentationTask(seg, null, null, null, new SegmentationTask.Settings(1, 1, weights, restore));
        for (int threads : new int[] {1, 2}) {
            StateDict sd = HashInit.stateDict(cfg, seed, c.number("qk_gain", 1));
            sd.put("decoder.head.weight", HashInit.uniform(seed, "decoder.head.weight", k * cfg.embedDim(), Math.sqrt(3.0 / cfg.embedDim()), 0),
                    new int[] {k, cfg.embedDim()});
            sd.put("decoder.head.bias", HashInit.uniform(seed, "decoder.head.bias", k, 0.1, 0), new int[] {k});
            try (VisionTransformer m = task.build(cfg, null, sd, threads, "fixture")) {
                List<Param> params = m.weights().all();
                TrainTask.Stepper step = task.stepper(m, m.reducer(c.str("spec", null)), params, List.of(LossTerm.CROSS_ENTROPY), null);
                Tape tape = m.newTape(batch);
                float[] px = HashInit.pixels(cfg, batch, c.integer("pixel_seed", 0));
                // run twice: the second step must not see the first one's gradients
                step.run(tape, new BatchStream.Batch(px, null, labels));
                TrainTask.StepResult r = step.run(tape, new BatchStream.Batch(px, null, labels));
                double want = c.number("loss", 0);
                assertThat(r.loss()).as("loss").isCloseTo(want, org.assertj.core.data.Offset.offset(1e-5 * Math.abs(want)));
                assertThat(r.counted()).as("counted pixels").isEqualTo(c.integer("counted", 0));
                assertThat(r.correct()).as("right pixels").isEqualTo(c.integer("correct", 0));
                for (int b = 0; b < batch; b++) {
                    assertThat(tape.trace().tokensEnteringBlocks(b)).as("tokens of image %d", b)
                            .containsExactly(Fixtures.ints((List<Object>) c.list("tokens").get(b)));
                }
                for (Param p : params) {
                    assertThat(Fixtures.relErr(p.grad, grads.get(p.name).data()))
                            .as("gradient of %s (%d threads)", p.name, threads).isLessThan(1e-4);
                }
            }
        }
    }
}
