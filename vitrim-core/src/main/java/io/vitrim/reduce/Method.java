package io.vitrim.reduce;

import io.vitrim.config.ViTConfig;

import java.util.List;

/**
 * One token-reduction method of the registry: its name, its knobs, and how a spec becomes a
 * {@link TokenReducer} for a given model (validating the knobs against it).
 */
public interface Method {
    /** Registry name used in specs, e.g. {@code tome}. */
    String name();

    /** One line for {@code --help} and error messages. */
    String summary();

    /** Knob documentation: "name=default  meaning". */
    List<Knob> knobs();

    /** Parses and validates {@code spec} for {@code model}. */
    TokenReducer create(Spec spec, ViTConfig model);

    /**
     * Parses and validates {@code spec} for {@code model}, given the checkpoint's tensors in this
     * method's namespace ({@link #weights}; absent keys are absent from the map). Methods that
     * own weights override this and say which key is missing when they need it.
     */
    default TokenReducer create(Spec spec, ViTConfig model, java.util.Map<String, float[]> weights) {
        return create(spec, model);
    }

    /** The checkpoint keys this method owns for {@code model}: its namespace (none by default). */
    default List<WeightKey> weights(ViTConfig model) {
        return List.of();
    }

    /**
     * A key of a method's namespace. Training-only keys (auxiliary heads) load without error and
     * are listed by {@code vitrim info}, but inference does not use them. Every value must lie in
     * {@code [min, max]} (NaN never does); loading checks it. A dimension of −1 in {@code shape}
     * takes any size (Cropr's number of queries, its MLP width).
     */
    record WeightKey(String name, int[] shape, boolean trainingOnly, double min, double max) {
        /** Whether a tensor of {@code actual} shape fits this key. */
        public boolean fits(int[] actual) {
            if (actual.length != shape.length) return false;
            for (int i = 0; i < shape.length; i++) if (shape[i] != -1 && shape[i] != actual[i]) return false;
            return true;
        }

        /** A key whose values may be any finite number. */
        public WeightKey(String name, int[] shape, boolean trainingOnly) {
            this(name, shape, trainingOnly, -Double.MAX_VALUE, Double.MAX_VALUE);
        }
    }

    /** A documented knob. */
    record Knob(String name, String defaultValue, String help) {
        @Override
        public String toString() {
            return name + "=" + defaultValue + "  " + help;
        }
    }

    /** Names of a method's knobs, for error messages. */
    static List<String> names(List<Knob> knobs) {
        return knobs.stream().map(Knob::name).toList();
    }
}
