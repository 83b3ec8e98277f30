package io.vitrim.train;

/**
 * Mixup and CutMix on training batches, timm's {@code Mixup} in batch mode: each batch is mixed
 * with itself reversed, λ drawn from Beta(α, α); with both on, CutMix is chosen for a batch with
 * probability {@code switchProb}; a batch is mixed at all with probability {@code prob}.
 *
 * @param mixupAlpha  Beta α of mixup (0: off; DeiT 0.8)
 * @param cutmixAlpha Beta α of CutMix (0: off; DeiT 1.0)
 * @param prob        probability that a batch is mixed (timm's {@code mix_prob}, 1.0)
 * @param switchProb  probability of CutMix when both are on (timm's {@code switch_prob}, 0.5)
 */
public record MixConfig(double mixupAlpha, double cutmixAlpha, double prob, double switchProb) {
    public static final double PROB = 1.0, SWITCH_PROB = 0.5;

    public MixConfig {
        if (!(mixupAlpha >= 0) || !(cutmixAlpha >= 0) || mixupAlpha > 100 || cutmixAlpha > 100) {
            throw new IllegalArgumentException("mixup and CutMix alphas must be in [0, 100]: " + mixupAlpha + ", " + cutmixAlpha);
        }
        if (mixupAlpha == 0 && cutmixAlpha == 0) throw new IllegalArgumentException("mixup or CutMix needs an alpha > 0");
        if (mixupAlpha > 0 && mixupAlpha < 0.01 || cutmixAlpha > 0 && cutmixAlpha < 0.01) {
            throw new IllegalArgumentException("mixup and CutMix alphas below 0.01 mix almost nothing: " + mixupAlpha + ", " + cutmixAlpha);
        }
        if (!(prob >= 0 && prob <= 1) || !(switchProb >= 0 && switchProb <= 1)) {
            throw new IllegalArgumentException("mix probabilities must be in [0, 1]: " + prob + ", " + switchProb);
        }
    }

    /** Mixup and/or CutMix with timm's default probabilities; null when both alphas are 0. */
    public static MixConfig of(double mixupAlpha, double cutmixAlpha) {
        return mixupAlpha == 0 && cutmixAlpha == 0 ? null : new MixConfig(mixupAlpha, cutmixAlpha, PROB, SWITCH_PROB);
    }
}
