package io.vitrim.train;

import io.vitrim.config.ViTConfig;
import io.vitrim.io.Json;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.Param;
import io.vitrim.model.StateDict;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

/**
 * A SAM step, an ASAM step and a SAM step without ascent on 1-D parameters on a tiny model vs
 * PyTorch ({@code scripts/python/sam_fixtures.py}): the ascent e, the gradient at w + e and
 * AdamW's update with it (after clipping) within 1e-4 relative; the weights restored exactly.
 * Then, Java only: ρ = 0 reproduces plain AdamW bit for bit (with drop path and merging in the
 * graph), and ρ > 0 does not.
 */
class SamStepGoldenTest {
    @Test
    void samAndAsamStepsMatchPyTorch() {
        Json.Obj f = Fixtures.load("train/sam_cases.json");
        ViTConfig cfg = Fixtures.config(f.obj("config"));
        int batch = f.intValue("batch", 0);
        float[] px = HashInit.pixels(cfg, batch, f.integer("pixel_seed", 0));
        float[] targets = SoftmaxCrossEntropy.smoothed(Fixtures.ints(f.list("labels")), cfg.numClasses(), (float) f.number("label_smoothing", 0));
        float lr = (float) f.number("lr", 0);
        for (Object o : f.list("cases")) {
            Json.Obj c = Fixtures.obj(o, "case");
            String name = c.str("name", "?");
            StateDict want = ModelLoader.readTensors(TrainStepGoldenTest.res(c.str("tensors", null)));
            SamConfig sc = new SamConfig(c.number("rho", 0), c.bool("adaptive", false), c.number("eta", 0), c.bool("skip_1d", false));
            float[][] finals = null;
            for (int threads : new int[] {1, 2}) {
                try (VisionTransformer m = VisionTransformer.create(cfg, null, null, HashInit.stateDict(cfg, f.integer("seed", 0),
                        f.number("qk_gain", 1)), threads, "fixture")) {
                    List<Param> params = m.weights().all();
                    AdamW opt = new AdamW(params, 0.9f, 0.999f, 1e-8f, (float) f.number("weight_decay", 0));
                    // the fixture's first step: AdamW on given gradients, so the moments are not zero
                    for (Param p : params) {
                        p.requireGrad();
                        System.arraycopy(HashInit.uniform(f.integer("g0_seed", 0), "g0." + p.name, p.size(), f.number("g0_scale", 0),
                                f.number("g0_center", 0)),
                                0, p.grad, 0, p.size());
                    }
                    opt.step(lr);
                    m.weightsChanged();
                    TrainingStep step = new TrainingStep(m, TokenReducer.NONE, params, List.of(LossTerm.CROSS_ENTROPY));
                    Tape tape = m.newTape(batch);
                    Sam sam = new Sam(sc, params, m::weightsChanged);
                    float[][] w = new float[params.size()][];
                    for (int i = 0; i < w.length; i++) w[i] = params.get(i).value.clone();
                    if (threads == 1) {
                        // the two passes one by one, checking what lies between them
                        TrainingStep.Result r = step.run(tape, px, targets);
                        assertThat(r.loss()).as("%s: loss at w", name).isCloseTo(c.number("loss", 0), offset(1e-5));
                        double norm = sam.ascend();
                        assertThat(norm).as("%s: ‖T g‖", name).isCloseTo(c.number("ascent_norm", 0), offset(1e-4 * c.number("ascent_norm", 0)));
                        for (Param p : params) {
                            float[] e = want.get("e." + p.name).data();
                            if (sc.skip1d() && p.shape.length == 1) {
                                assertThat(p.grad).as("%s: no ascent on %s", name, p.name).containsOnly(0f);
                                continue;
                            }
                            assertThat(Fixtures.relErr(p.grad, e)).as("%s: ascent e of %s", name, p.name).isLessThan(1e-4);
                        }
                        TrainingStep.Result r2 = step.run(tape, px, targets);
                        assertThat(r2.loss()).as("%s: loss at w + e", name).isCloseTo(c.number("loss_perturbed", 0), offset(1e-5));
                        for (Param p : params) {
                            assertThat(Fixtures.relErr(p.grad, want.get("g2." + p.name).data())).as("%s: gradient at w + e of %s", name, p.name)
                                    .isLessThan(1e-4);
                        }
                        sam.restore();
                        assertThat(r2.loss()).isGreaterThan(r.loss());
                    } else {
                        TrainingStep.Result r = sam.gradient(() -> step.run(tape, px, targets));
                        assertThat(r.loss()).as("%s: gradient() reports the loss at w", name).isCloseTo(c.number("loss", 0), offset(1e-5));
                    }
                    for (int i = 0; i < w.length; i++) assertThat(params.get(i).value).as("restored exactly").isEqualTo(w[i]);
                    double clipped = AdamW.clipGradNorm(params, f.number("clip", 0));
                    assertThat(clipped).as("%s: norm of the second gradient", name).isCloseTo(c.number("grad_norm", 0), offset(1e-4 * c.number("grad_norm", 0)));
                    opt.step(lr);
                    m.weightsChanged();
                    for (int i = 0; i < w.length; i++) {
                        Param p = params.get(i);
                        float[] got = new float[p.size()], exp = new float[p.size()];
                        float[] after = want.get("w." + p.name).data();
                        for (int j = 0; j < got.length; j++) {
                            got[j] = p.value[j] - w[i][j];
                            exp[j] = after[j] - w[i][j];
                        }
                        assertThat(Fixtures.relErr(got, exp)).as("%s: AdamW update of %s", name, p.name).isLessThan(1e-4);
                    }
                    float[][] now = new float[params.size()][];
                    for (int i = 0; i < now.length; i++) now[i] = params.get(i).value.clone();
                    if (finals == null) finals = now;
                    else for (int i = 0; i < now.length; i++) assertThat(now[i]).as("1 and 2 threads agree bit for bit").isEqualTo(finals[i]);
                }
            }
        }
    }

    /** Three steps of plain AdamW, or of SAM with {@code sam} around it; returns every weight after them. */
    static float[][] threeSteps(SamConfig sam) {
        ViTConfig cfg = Fixtures.config(Fixtures.load("train/sam_cases.json").obj("config"));
        int batch = 4;
        try (VisionTransformer m = VisionTransformer.create(cfg, null, null, HashInit.stateDict(cfg, 5, 2.0), 2, "rho0")) {
            List<Param> params = m.weights().all();
            TokenReducer tome = m.reducer("tome:r=3");
            TrainingStep step = new TrainingStep(m, tome, params, List.of(LossTerm.CROSS_ENTROPY));
            Tape tape = m.newTape(batch);
            AdamW opt = new AdamW(params, 0.9f, 0.999f, 1e-8f, 0.05f);
            Sam s = sam == null ? null : new Sam(sam, params, m::weightsChanged);
            for (int k = 0; k < 3; k++) {
                float[] px = HashInit.pixels(cfg, batch, 100 + k);
                float[] t = SoftmaxCrossEntropy.smoothed(new int[] {k % 5, 2, 4, (k + 3) % 5}, cfg.numClasses(), 0.1f);
                tape.dropPath(new double[] {0.0, 0.5}, 77 + k);
                if (s == null) step.run(tape, px, t);
                else s.gradient(() -> step.run(tape, px, t));
                AdamW.clipGradNorm(params, 0.5);
                opt.step(1e-2f);
                m.weightsChanged();
            }
            float[][] w = new float[params.size()][];
            for (int i = 0; i < w.length; i++) w[i] = params.get(i).value.clone();
            return w;
        }
    }

    @Test
    void rhoZeroIsPlainAdamWBitForBit() {
        float[][] adamw = threeSteps(null);
        for (SamConfig c : new SamConfig[] {SamConfig.sam(0), SamConfig.asam(0), new SamConfig(0, false, 0.01, true)}) {
            float[][] w = threeSteps(c);
            for (int i = 0; i < w.length; i++) assertThat(w[i]).as("%s, parameter %d", c.describe(), i).isEqualTo(adamw[i]);
        }
        // and the comparison can fail: a real ascent changes the steps
        float[][] w = threeSteps(SamConfig.sam(0.05));
        double diff = 0;
        for (int i = 0; i < w.length; i++) for (int j = 0; j < w[i].length; j++) diff = Math.max(diff, Math.abs(w[i][j] - adamw[i][j]));
        assertThat(diff).isGreaterThan(1e-4);
    }
}
