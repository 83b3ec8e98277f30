package io.vitrim.reduce;

import io.vitrim.VitrimException;
import io.vitrim.config.ViTConfig;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The registry of token-reduction methods. A new method is one {@link Method} class plus one
 * line in {@link #REGISTRY}.
 */
public final class Methods {
    private Methods() {}

    private static final Map<String, Method> REGISTRY = new LinkedHashMap<>();

    private static void register(Method m) {
        REGISTRY.put(m.name(), m);
    }

    static {
        register(new NoneMethod());
        register(new ToMe.Def());
        register(new RandomPrune.Def());
        register(new TopK.Def());
        register(new PPT.Def());
        register(new Lgtm.Def());
        register(new Ltmp.Def());
        register(new Cropr.Def());
    }

    public static Map<String, Method> methods() {
        return Collections.unmodifiableMap(REGISTRY);
    }

    /** Parses {@code spec} (e.g. {@code tome:r=13}) into a reducer validated for {@code model}. */
    public static TokenReducer parse(String spec, ViTConfig model) {
        return parse(spec, model, Map.of());
    }

    /**
     * As {@link #parse(String, ViTConfig)}, with the checkpoint's method-namespace tensors (e.g.
     * LTMP's thresholds) that a method with weights binds.
     */
    public static TokenReducer parse(String spec, ViTConfig model, Map<String, float[]> methodWeights) {
        Spec s = Spec.parse(spec);
        Method m = REGISTRY.get(s.method());
        if (m == null) {
            throw s.error("unknown method \"" + s.method() + "\"; valid: " + String.join(", ", REGISTRY.keySet()));
        }
        List<String> valid = Method.names(m.knobs());
        for (String k : s.knobs().keySet()) {
            if (!valid.contains(k)) {
                throw s.error("unknown knob \"" + k + "\" for " + m.name() + "; valid: " + (valid.isEmpty() ? "(none)" : String.join(", ", valid)));
            }
        }
        TokenReducer r = m.create(s, model, methodWeights);
        s.checkAllUsed(valid);
        return r;
    }

    /** Help text listing every method with its knobs. */
    public static String help() {
        StringBuilder b = new StringBuilder();
        for (Method m : REGISTRY.values()) {
            b.append("  ").append(m.name()).append(": ").append(m.summary()).append('\n');
            for (Method.Knob k : m.knobs()) b.append("      ").append(k).append('\n');
        }
        return b.toString();
    }

    static final class NoneMethod implements Method {
        @Override
        public String name() {
            return "none";
        }

        @Override
        public String summary() {
            return "no token reduction (the baseline every speed-up is measured against)";
        }

        @Override
        public List<Knob> knobs() {
            return List.of();
        }

        @Override
        public TokenReducer create(Spec spec, ViTConfig model) {
            return TokenReducer.NONE;
        }
    }

    /** Throws unless {@code cond}, with a spec error. */
    static void require(boolean cond, Spec s, String problem) {
        if (!cond) throw s.error(problem);
    }

    static VitrimException error(Spec s, String problem) {
        return s.error(problem);
    }
}
