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
import org.assertj.core.data.Offset;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One Cropr training step vs the reference model in train mode ({@code make_fixtures.py
 * cropr_train}: benbergner/cropr's VisionTransformer, its auxiliary aggregators and heads, the
 * main loss plus every auxiliary loss, unweighted, label smoothing 0.1): the main logits, each
 * loss, and the gradient of every parameter — backbone, queries, aggregator MLPs and heads —
 * within 1e-4 relative. The backbone's gradients come from the main loss only: the reference
 * detaches the aggregators' input, so a leak of the auxiliary losses into the backbone fails
 * here. With and without last-layer fusion; 1 and 2 threads.
 */
class CroprTrainingGoldenTest {
    static List<Json.Obj> cases() {
        return Fixtures.cases("cropr/train_cases.json");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void lossesAndEveryGradientMatchTheReference(Json.Obj c) {
        ViTConfig cfg = Fixtures.config(c.obj("config"));
        int batch = c.intValue("batch", 0);
        long seed = c.integer("seed", 0);
        StateDict grads = ModelLoader.readTensors(TrainStepGoldenTest.res("../cropr/" + c.str("grads", null)));
        float[] targets = SoftmaxCrossEntropy.smoothed(Fixtures.ints(c.list("labels")), cfg.numClasses(), 0.1f);
        double[] losses = c.numbers("losses");
        float[] wantLogits = Fixtures.floats(c.list("logits"));
        for (int threads : new int[] {1, 2}) {
            StateDict init = Fixtures.withListedKeys(HashInit.stateDict(cfg, seed, c.number("qk_gain", 1)), seed, c.list("cropr_keys"));
            try (VisionTransformer m = VisionTransformer.create(cfg, null, null, init, threads, "fixture")) {
                List<Param> params = m.weights().all();
                CroprTraining graph = new CroprTraining(m, c.str("spec", null));
                TrainingStep step = new TrainingStep(m, graph, params, List.of(LossTerm.CROSS_ENTROPY, graph));
                Tape tape = m.newTape(batch);
                TrainingStep.Result r = step.run(tape, HashInit.pixels(cfg, batch, c.integer("pixel_seed", 0)), targets);
                double maxErr = 0;
                assertThat(tape.logits()).hasSameSizeAs(wantLogits);
                for (int i = 0; i < wantLogits.length; i++) maxErr = Math.max(maxErr, Math.abs(tape.logits()[i] - wantLogits[i]));
                assertThat(maxErr / c.number("logit_scale", 1)).as("main logits").isLessThan(1e-4);
                double[] aux = graph.lastAuxLosses();
                assertThat(aux).hasSize(losses.length - 1);
                for (int k = 0; k < aux.length; k++) {
                    assertThat(aux[k]).as("auxiliary loss %d", k).isCloseTo(losses[k + 1], Offset.offset(1e-5 * losses[k + 1]));
                }
                assertThat(r.loss()).as("total loss").isCloseTo(c.number("loss", 0), Offset.offset(1e-5 * c.number("loss", 0)));
                assertThat(grads.tensors().keySet()).as("every parameter has a reference gradient")
                        .containsExactlyInAnyOrderElementsOf(params.stream().map(p -> p.name).toList());
                for (Param p : params) {
                    assertThat(Fixtures.relErr(p.grad, grads.get(p.name).data()))
                            .as("gradient of %s (%d threads)", p.name, threads).isLessThan(1e-4);
                }
            }
        }
    }
}
