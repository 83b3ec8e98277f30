package io.vitrim.train;

import io.vitrim.model.Param;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.io.Json;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.StateDict;
import io.vitrim.config.ViTConfig;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.Test;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A full training step on a tiny model vs PyTorch autograd ({@code make_fixtures.py train}): loss
 * and every parameter gradient within 1e-4 relative, clipped gradient norms; and AdamW on given
 * gradients vs {@code torch.optim.AdamW}. (AdamW is checked on given gradients because on
 * computed ones, coordinates whose true gradient is ~0 — e.g. the key bias, which softmax
 * ignores — hold rounding noise that Adam's m/√v turns into full steps of either sign.)
 */
class TrainStepGoldenTest {
    static Path res(String name) {
        try {
            return Path.of(TrainStepGoldenTest.class.getResource("/fixtures/train/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void adamWMatchesTorchOnGivenGradients() {
        StateDict want = ModelLoader.readTensors(res("adamw.safetensors"));
        Param w = new Param("blocks.0.mlp.fc1.weight", new int[] {7, 5}, io.vitrim.testing.HashInit.uniform(7, "w", 35, 0.5, 0)).requireGrad();
        Param b = new Param("blocks.0.mlp.fc1.bias", new int[] {5}, io.vitrim.testing.HashInit.uniform(7, "b", 5, 0.5, 0)).requireGrad();
        assertThat(w.decay).isTrue();
        assertThat(b.decay).isFalse();
        AdamW opt = new AdamW(List.of(w, b), 0.9f, 0.999f, 1e-8f, 0.05f);
        float[] lrs = {2e-3f, 1e-3f};
        for (int s = 0; s < 2; s++) {
            System.arraycopy(io.vitrim.testing.HashInit.uniform(8 + s, "gw", 35, 1e-3, 0), 0, w.grad, 0, 35);
            System.arraycopy(io.vitrim.testing.HashInit.uniform(8 + s, "gb", 5, 1.0, 0), 0, b.grad, 0, 5);
            opt.step(lrs[s]);
        }
        assertThat(Fixtures.relErr(w.value, want.get("w").data())).isLessThan(1e-6);
        assertThat(Fixtures.relErr(b.value, want.get("b").data())).isLessThan(1e-6);
    }

    @Test
    void lossAndGradientsMatchPyTorch() {
        Json.Obj f = Fixtures.load("train/step.json");
        ViTConfig cfg = Fixtures.config(f.obj("config"));
        int batch = f.intValue("batch", 0);
        float eps = (float) f.number("label_smoothing", 0);
        StateDict init = HashInit.stateDict(cfg, f.integer("seed", 0), f.number("qk_gain", 1));
        StateDict grads = ModelLoader.readTensors(res("grads.safetensors"));
        int[] seeds = Fixtures.ints(f.list("pixel_seeds"));
        List<Object> labels = f.list("labels");
        double[] loss = f.numbers("loss"), norms = f.numbers("grad_norm"), lr = f.numbers("lr");
        for (int threads : new int[] {1, 2}) {
            try (VisionTransformer m = VisionTransformer.create(cfg, null, null, init.copy(), threads, "fixture")) {
                List<Param> params = m.weights().all();
                TrainingStep step = new TrainingStep(m, TokenReducer.NONE, params, List.of(LossTerm.CROSS_ENTROPY));
                Tape tape = m.newTape(batch);
                AdamW opt = new AdamW(params, 0.9f, 0.999f, 1e-8f, (float) f.number("weight_decay", 0));
                for (int s = 0; s < 2; s++) {
                    float[] px = HashInit.pixels(cfg, batch, seeds[s]);
                    float[] t = SoftmaxCrossEntropy.smoothed(Fixtures.ints((List<Object>) labels.get(s)), cfg.numClasses(), eps);
                    TrainingStep.Result r = step.run(tape, px, t);
                    assertThat(r.loss()).as("loss of step %d", s).isCloseTo(loss[s], org.assertj.core.data.Offset.offset(1e-5 * Math.abs(loss[s])));
                    if (s == 0) {
                        for (Param p : params) {
                            assertThat(Fixtures.relErr(p.grad, grads.get(p.name).data())).as("gradient of %s", p.name).isLessThan(1e-4);
                        }
                    }
                    double norm = AdamW.clipGradNorm(params, f.number("clip", 0));
                    assertThat(norm).isCloseTo(norms[s], org.assertj.core.data.Offset.offset(1e-4 * norms[s]));
                    opt.step((float) lr[s]);
                    m.weightsChanged();
                    assertThat(opt.steps()).isEqualTo(s + 1);
                }
            }
        }
    }
}
