package io.vitrim.train;

import io.vitrim.config.ViTConfig;
import io.vitrim.io.Json;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.Param;
import io.vitrim.model.StateDict;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A training step with ToMe merging inside the graph vs PyTorch autograd through the reference
 * merge ({@code make_fixtures.py train_reduce}): decisions fixed by the forward (no_grad
 * matching), gradients through the size-weighted merges, proportional attention and
 * size-weighted pooling. Loss and every parameter gradient within 1e-4 relative; token counts
 * identical; 1 and 2 threads.
 */
class TrainWithReductionGoldenTest {
    static List<Json.Obj> cases() {
        return Fixtures.cases("train/reduce_cases.json");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void lossAndEveryGradientMatchPyTorch(Json.Obj c) {
        ViTConfig cfg = Fixtures.config(c.obj("config"));
        int batch = c.intValue("batch", 0);
        StateDict grads = ModelLoader.readTensors(TrainStepGoldenTest.res(c.str("name", null) + "_grads.safetensors"));
        int[] labels = Fixtures.ints(c.list("labels"));
        float[] targets = SoftmaxCrossEntropy.smoothed(labels, cfg.numClasses(), (float) c.number("label_smoothing", 0));
        List<Object> tokens = c.list("tokens");
        for (int threads : new int[] {1, 2}) {
            StateDict init = HashInit.stateDict(cfg, c.integer("seed", 0), c.number("qk_gain", 1));
            try (VisionTransformer m = VisionTransformer.create(cfg, null, null, init, threads, "fixture")) {
                List<Param> params = m.weights().all();
                TrainingStep step = new TrainingStep(m, m.reducer(c.str("spec", null)), params, List.of(LossTerm.CROSS_ENTROPY));
                Tape tape = m.newTape(batch);
                TrainingStep.Result r = step.run(tape, HashInit.pixels(cfg, batch, c.integer("pixel_seed", 0)), targets);
                double want = c.number("loss", 0);
                assertThat(r.loss()).as("loss").isCloseTo(want, org.assertj.core.data.Offset.offset(1e-5 * Math.abs(want)));
                for (int b = 0; b < batch; b++) {
                    assertThat(tape.trace().tokensEnteringBlocks(b)).as("tokens of image %d", b)
                            .containsExactly(Fixtures.ints((List<Object>) tokens.get(b)));
                }
                for (Param p : params) {
                    assertThat(Fixtures.relErr(p.grad, grads.get(p.name).data()))
                            .as("gradient of %s (%d threads)", p.name, threads).isLessThan(1e-4);
                }
            }
        }
    }
}
