package io.vitrim.train;

import io.vitrim.VitrimException;
import io.vitrim.model.Param;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Which parameters a run trains and at what learning rate: {@code trainable} globs (all when
 * empty; the rest stay frozen and get no gradient), {@code lrGroups} ({@code glob=lr}: that
 * peak learning rate for the matching parameters, first match wins) and layer-wise decay
 * (BEiT: {@code scale = decay^(L + 1 − layer)}, patch embedding / tokens / position layer 0,
 * block i layer i + 1, everything else layer L + 1). Globs use {@code *} for any run of
 * characters, e.g. {@code blocks.*.norm1.*}.
 *
 * @param trainable   globs of trained parameters; empty = all
 * @param lrGroups    {@code glob=lr} entries
 * @param layerDecay  1 = off
 */
public record ParamGroups(List<String> trainable, List<String> lrGroups, double layerDecay) {
    public static final ParamGroups ALL = new ParamGroups(List.of(), List.of(), 1.0);

    public ParamGroups {
        trainable = List.copyOf(trainable);
        lrGroups = List.copyOf(lrGroups);
        if (!(layerDecay > 0 && layerDecay <= 1)) throw new VitrimException("--layer-decay must be in (0, 1], got " + layerDecay);
    }

    /** A trained parameter with its learning-rate multiplier (relative to the run's peak lr). */
    public record Group(Param param, double lrScale) {}

    /**
     * The trained parameters of {@code params} (gradients allocated) with their multipliers;
     * an entry that matches no parameter is an error that names it.
     */
    public List<Group> resolve(List<Param> params, int depth, double peakLr) {
        List<String> names = params.stream().map(p -> p.name).toList();
        List<Pattern> train = new ArrayList<>();
        for (String g : trainable) train.add(glob(g, "--trainable", names));
        Map<Pattern, Double> lrs = new LinkedHashMap<>();
        for (String e : lrGroups) {
            int eq = e.lastIndexOf('=');
            if (eq <= 0) throw new VitrimException("--lr-group \"" + e + "\": expected GLOB=LR, e.g. 'head.*=1e-3'");
            double lr;
            try {
                lr = Double.parseDouble(e.substring(eq + 1).trim());
            } catch (NumberFormatException x) {
                throw new VitrimException("--lr-group \"" + e + "\": \"" + e.substring(eq + 1) + "\" is not a number");
            }
            if (!(lr >= 0) || Double.isInfinite(lr)) throw new VitrimException("--lr-group \"" + e + "\": the learning rate must be >= 0");
            lrs.put(glob(e.substring(0, eq).trim(), "--lr-group", names), lr);
        }
        List<Group> out = new ArrayList<>();
        for (Param p : params) {
            if (!train.isEmpty() && train.stream().noneMatch(g -> g.matcher(p.name).matches())) continue;
            double scale = 1.0;
            for (Map.Entry<Pattern, Double> e : lrs.entrySet()) {
                if (e.getKey().matcher(p.name).matches()) {
                    scale = e.getValue() / peakLr;
                    break;
                }
            }
            if (layerDecay != 1.0) scale *= Math.pow(layerDecay, depth + 1 - layerId(p.name, depth));
            out.add(new Group(p.requireGrad(), scale));
        }
        return out;
    }

    /** BEiT's layer id: 0 for the embeddings, i + 1 for block i, depth + 1 for the rest. */
    static int layerId(String name, int depth) {
        if (name.startsWith("patch_embed.") || name.equals("cls_token") || name.equals("dist_token") || name.equals("pos_embed")) return 0;
        if (name.startsWith("blocks.")) {
            int dot = name.indexOf('.', 7);
            return Integer.parseInt(name.substring(7, dot)) + 1;
        }
        return depth + 1;
    }

    /** Checks every pattern against the parameter names (before any data is loaded). */
    public void validate(List<String> names, double peakLr) {
        List<Param> fake = new ArrayList<>();
        for (String n : names) fake.add(new Param(n, new int[] {1}, new float[1]));
        resolve(fake, 0, peakLr);
    }

    /** {@code *} matches any run of characters; everything else literally. */
    private static Pattern glob(String g, String option, List<String> names) {
        if (g.isEmpty()) throw new VitrimException(option + ": empty parameter pattern");
        String[] parts = g.split("\\*", -1);
        StringBuilder r = new StringBuilder(Pattern.quote(parts[0]));
        for (int i = 1; i < parts.length; i++) r.append(".*").append(Pattern.quote(parts[i]));
        Pattern p = Pattern.compile(r.toString());
        if (names.stream().noneMatch(q -> p.matcher(q).matches())) {
            throw new VitrimException(option + " \"" + g + "\" matches no parameter (names are checkpoint keys such as "
                    + names.get(Math.min(4, names.size() - 1)) + "; vitrim info --explain lists them)");
        }
        return p;
    }
}
