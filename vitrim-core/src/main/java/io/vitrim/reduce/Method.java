package io.vitrim.reduce;

import io.vitrim.model.ViTConfig;

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
