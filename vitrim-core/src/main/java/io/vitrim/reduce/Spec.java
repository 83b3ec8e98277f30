package io.vitrim.reduce;

import io.vitrim.VitrimException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A reduction spec {@code method[:knob=value[,knob=value...]]}, e.g. {@code tome:r=13},
 * {@code ppt:r=50,layers=3/6/9,threshold=7e-5} — the Java API's way to name a reduction before
 * a model is known ({@code model.classify(image, Spec.tome(13))}); {@link #bind} validates it
 * against a model. Lists use {@code /}. Knob access is typed and every knob must be consumed:
 * an unknown knob is an error that lists the valid ones.
 */
public final class Spec {
    private final String text;
    private final String method;
    private final Map<String, String> knobs;
    private final List<String> used = new ArrayList<>();

    private Spec(String text, String method, Map<String, String> knobs) {
        this.text = text;
        this.method = method;
        this.knobs = knobs;
    }

    public static Spec parse(String text) {
        if (text == null || text.isBlank()) throw VitrimException.of("--reduce \"\"", "empty spec");
        String t = text.trim();
        int colon = t.indexOf(':');
        String method = (colon < 0 ? t : t.substring(0, colon)).trim().toLowerCase(Locale.ROOT);
        Map<String, String> knobs = new LinkedHashMap<>();
        if (colon >= 0) {
            String rest = t.substring(colon + 1).trim();
            if (!rest.isEmpty()) {
                for (String part : rest.split(",")) {
                    int eq = part.indexOf('=');
                    if (eq <= 0) throw VitrimException.of("--reduce " + text, "expected knob=value, got \"" + part.trim() + "\"");
                    String k = part.substring(0, eq).trim().toLowerCase(Locale.ROOT);
                    String v = part.substring(eq + 1).trim();
                    if (v.isEmpty()) throw VitrimException.of("--reduce " + text, "knob " + k + " has no value");
                    if (knobs.put(k, v) != null) throw VitrimException.of("--reduce " + text, "knob " + k + " is given twice");
                }
            }
        }
        return new Spec(t, method, knobs);
    }

    /** A spec from its text (syntax checked now, knobs when bound). */
    public static Spec of(String text) {
        return parse(text);
    }

    public static Spec none() {
        return parse("none");
    }

    /** ToMe with a constant r and proportional attention. */
    public static Spec tome(int r) {
        return parse("tome:r=" + r);
    }

    /** Random pruning of r tokens per block (a baseline). */
    public static Spec random(int r, long seed) {
        return parse("random:r=" + r + ",seed=" + seed);
    }

    /** Keep the tokens the class token attends to most (a baseline). */
    public static Spec topk(int r) {
        return parse("topk:r=" + r);
    }

    /** The reducer for {@code model}; throws a {@link VitrimException} if the spec does not fit it. */
    public TokenReducer bind(io.vitrim.config.ViTConfig model) {
        return Methods.parse(text, model);
    }

    /** The reducer for a model whose checkpoint carries method weights (e.g. LTMP thresholds). */
    public TokenReducer bind(io.vitrim.config.ViTConfig model, Map<String, float[]> methodWeights) {
        return Methods.parse(text, model, methodWeights);
    }

    public String text() {
        return text;
    }

    public String method() {
        return method;
    }

    public Map<String, String> knobs() {
        return Collections.unmodifiableMap(knobs);
    }

    public boolean has(String k) {
        return knobs.containsKey(k);
    }

    public VitrimException error(String problem) {
        return VitrimException.of("--reduce " + text, problem);
    }

    private String take(String k) {
        used.add(k);
        return knobs.get(k);
    }

    public String string(String k, String def) {
        String v = take(k);
        return v == null ? def : v;
    }

    public int integer(String k, int def) {
        String v = take(k);
        if (v == null) return def;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw error(k + " must be an integer, got \"" + v + "\"");
        }
    }

    public double number(String k, double def) {
        String v = take(k);
        if (v == null) return def;
        try {
            double d = Double.parseDouble(v);
            if (!Double.isFinite(d)) throw new NumberFormatException();
            return d;
        } catch (NumberFormatException e) {
            throw error(k + " must be a number, got \"" + v + "\"");
        }
    }

    public boolean bool(String k, boolean def) {
        String v = take(k);
        if (v == null) return def;
        switch (v.toLowerCase(Locale.ROOT)) {
            case "true": case "1": case "yes": case "on": return true;
            case "false": case "0": case "no": case "off": return false;
            default: throw error(k + " must be true or false, got \"" + v + "\"");
        }
    }

    /** A {@code /}-separated integer list, or null when absent. */
    public int[] intList(String k) {
        String v = take(k);
        if (v == null) return null;
        String[] parts = v.split("/", -1);
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                out[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                throw error(k + " must be integers separated by '/', got \"" + v + "\"");
            }
        }
        return out;
    }

    /** Fails if a knob was given that the method did not read; lists the valid knobs. */
    public void checkAllUsed(List<String> valid) {
        for (String k : knobs.keySet()) {
            if (!used.contains(k)) {
                throw error("unknown knob \"" + k + "\" for " + method + "; valid: " + (valid.isEmpty() ? "(none)" : String.join(", ", valid)));
            }
        }
    }

    @Override
    public String toString() {
        return text;
    }
}
