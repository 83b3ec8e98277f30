package io.vitrim.reduce;

import io.vitrim.config.ViTConfig;

/**
 * A reduction spec not yet bound to a model — the Java API's way to say "ToMe with r = 13"
 * without knowing the model's depth: {@code model.classify(image, Reduction.tome(13))}.
 * Binding validates it against the model ({@link #bind}).
 */
public final class Reduction {
    private final String spec;

    private Reduction(String spec) {
        this.spec = spec;
    }

    /** Any spec string, e.g. {@code "ppt:r=50,layers=3/6/9"}. */
    public static Reduction of(String spec) {
        Spec.parse(spec); // syntax check now; knobs are checked when bound
        return new Reduction(spec);
    }

    public static Reduction none() {
        return new Reduction("none");
    }

    /** ToMe with a constant r and proportional attention. */
    public static Reduction tome(int r) {
        return new Reduction("tome:r=" + r);
    }

    /** Random pruning of r tokens per block (a baseline). */
    public static Reduction random(int r, long seed) {
        return new Reduction("random:r=" + r + ",seed=" + seed);
    }

    /** Keep the tokens the class token attends to most (a baseline). */
    public static Reduction topk(int r) {
        return new Reduction("topk:r=" + r);
    }

    public String spec() {
        return spec;
    }

    /** The reducer for {@code model}; throws a {@link io.vitrim.VitrimException} if the spec does not fit it. */
    public TokenReducer bind(ViTConfig model) {
        return Reductions.parse(spec, model);
    }

    /** The reducer for a model whose checkpoint carries method weights (e.g. LTMP thresholds). */
    public TokenReducer bind(ViTConfig model, java.util.Map<String, float[]> methodWeights) {
        return Reductions.parse(spec, model, methodWeights);
    }

    @Override
    public String toString() {
        return spec;
    }
}
