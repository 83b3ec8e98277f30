package io.vitrim.train;

import io.vitrim.config.ViTConfig;
import io.vitrim.model.Param;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

class SharpnessTest {
    static final ViTConfig CFG = new ViTConfig("vit_tiny_patch16_224", 16, 16, 4, 3, 24, 2, 2, 48, true, true, false,
            ViTConfig.Pool.TOKEN, false, 4, 1e-6f);
    static final int N = 12;
    static final float[] PIXELS = HashInit.pixels(CFG, N, 31);
    static final int[] LABELS = {0, 1, 2, 3, 3, 2, 1, 0, 0, 2, 1, 3};

    static VisionTransformer model(int threads) {
        return VisionTransformer.create(CFG, null, null, HashInit.stateDict(CFG, 17, 2.0), threads, "tiny");
    }

    static Sharpness.Result measure(VisionTransformer m, double rho, int steps, boolean adaptive, int batch) {
        return Sharpness.measure(m, PIXELS, LABELS, new Sharpness.Settings(rho, steps, adaptive, 0.01, batch), null);
    }

    @Test
    void increaseIsZeroAtRhoZeroNonNegativeAndGrowsWithRho() {
        try (VisionTransformer m = model(2)) {
            for (boolean adaptive : new boolean[] {false, true}) {
                Sharpness.Result zero = measure(m, 0, 3, adaptive, 5);
                assertThat(zero.increase()).isEqualTo(0.0);
                assertThat(zero.losses()).containsOnly(zero.cleanLoss());
                double last = 0;
                for (double rho : adaptive ? new double[] {0.02, 0.1, 0.4} : new double[] {0.01, 0.05, 0.2}) {
                    Sharpness.Result r = measure(m, rho, 3, adaptive, 5);
                    assertThat(r.increase()).as("rho %s adaptive %s", rho, adaptive).isGreaterThanOrEqualTo(0).isGreaterThan(last);
                    assertThat(r.cleanLoss()).isEqualTo(zero.cleanLoss());
                    last = r.increase();
                }
            }
        }
    }

    @Test
    void smallRadiusIncreaseIsRhoTimesTheGradientNorm() {
        try (VisionTransformer m = model(2)) {
            // the gradient of the mean loss over all N images, from the training step (an independent route)
            List<Param> params = List.copyOf(m.weights().vit().values());
            TrainingStep step = new TrainingStep(m, TokenReducer.NONE, params, List.of(LossTerm.CROSS_ENTROPY));
            Tape tape = m.newTape(N);
            TrainingStep.Result full = step.run(tape, PIXELS, SoftmaxCrossEntropy.smoothed(LABELS, 4, 0f));
            double sq = 0;
            for (Param p : params) for (float g : p.grad) sq += (double) g * g;
            double norm = Math.sqrt(sq);
            // measured in batches of 5, 5 and 2: the same loss and gradient as one batch of 12
            Sharpness.Result r = measure(m, 1e-3, 1, false, 5);
            assertThat(r.cleanLoss()).isCloseTo(full.loss(), offset(1e-5 * full.loss()));
            assertThat(r.gradNorm()).isCloseTo(norm, offset(1e-4 * norm));
            // first order: L(w + ρ g/‖g‖) − L(w) ≈ ρ‖g‖
            assertThat(r.increase()).isCloseTo(1e-3 * norm, offset(0.1 * 1e-3 * norm));
            // more ascent steps find at least as much
            assertThat(measure(m, 0.05, 4, false, 5).increase()).isGreaterThanOrEqualTo(measure(m, 0.05, 1, false, 5).increase());
        }
    }

    @Test
    void deterministicForAnyThreadCountAndWeightsRestoredExactly() {
        Sharpness.Result one, two;
        try (VisionTransformer m = model(1)) {
            one = measure(m, 0.05, 3, true, 4);
        }
        try (VisionTransformer m = model(2)) {
            float[] before = m.forward(PIXELS, N, TokenReducer.NONE, false).logits().clone();
            List<float[]> w = m.weights().all().stream().map(p -> p.value.clone()).toList();
            two = measure(m, 0.05, 3, true, 4);
            for (int i = 0; i < w.size(); i++) assertThat(m.weights().all().get(i).value).isEqualTo(w.get(i));
            // re-packed too: inference sees the original weights, and no gradient buffers are left behind
            assertThat(m.forward(PIXELS, N, TokenReducer.NONE, false).logits()).isEqualTo(before);
            assertThat(m.weights().all()).allMatch(p -> p.grad == null);
        }
        assertThat(two.cleanLoss()).isEqualTo(one.cleanLoss());
        assertThat(two.perturbedLoss()).isEqualTo(one.perturbedLoss());
        assertThat(two.losses()).isEqualTo(one.losses());
        assertThat(one.toJson()).containsKeys("rho", "steps", "images", "clean_loss", "perturbed_loss", "increase");
        assertThat(one.images()).isEqualTo(N);
    }

    @Test
    void badSettingsAreOneLineErrors() {
        assertThatThrownBy(() -> new Sharpness.Settings(-0.1, 3, false, 0.01, 10)).hasMessageContaining("--sharpness must be a radius >= 0");
        assertThatThrownBy(() -> new Sharpness.Settings(0.1, 0, false, 0.01, 10)).hasMessageContaining("--sharpness-steps must be at least 1");
    }
}
