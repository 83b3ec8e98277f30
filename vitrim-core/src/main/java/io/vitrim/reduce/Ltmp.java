package io.vitrim.reduce;

import io.vitrim.config.ViTConfig;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * LTMP — learned-threshold token merging and pruning (Bonnaerens &amp; Dambre, TMLR 2023; the
 * inference block of Mxbonn/ltmp; docs/methods.md, LTMP). Every block has a merge threshold θm
 * and a prune threshold θp. After the attention residual:
 * <ol>
 *   <li>each A (even) token whose best cosine similarity to a B (odd) token (head-averaged keys,
 *       class token's row −∞) is {@code > θm} merges into that partner, size-weighted; the
 *       partner's importance becomes the max of its own and its sources';</li>
 *   <li>the sequence becomes [unmerged A in order, all B] (also when nothing merges);</li>
 *   <li>tokens whose importance — attention received, averaged over heads and the current query
 *       rows; the class token +∞ — is {@code > θp} are kept, in order.</li>
 * </ol>
 * Proportional attention is always on. Each image keeps its own count, so a batch gives exactly
 * the per-image results (the reference runs batch 1 only). Thresholds come from the checkpoint
 * keys {@code blocks.{i}.merge_masker.threshold} / {@code blocks.{i}.prune_masker.threshold}
 * or from the spec.
 */
public final class Ltmp implements TokenReducer {
    private final String spec;
    private final float[] merge; // per block, or null = merging off
    private final float[] prune; // per block, or null = pruning off
    private final int prefix;
    private final boolean sizeWeightedPool;

    Ltmp(String spec, float[] merge, float[] prune, ViTConfig model, boolean sizeWeightedPool) {
        this.spec = spec;
        this.merge = merge;
        this.prune = prune;
        this.prefix = model.numPrefix();
        this.sizeWeightedPool = sizeWeightedPool;
    }

    static String mergeKey(int block) {
        return "blocks." + block + ".merge_masker.threshold";
    }

    static String pruneKey(int block) {
        return "blocks." + block + ".prune_masker.threshold";
    }

    /** The registry entry. */
    static final class Def implements Method {
        @Override
        public String name() {
            return "ltmp";
        }

        @Override
        public String summary() {
            return "LTMP learned-threshold merging and pruning (thresholds from the checkpoint or the spec)";
        }

        @Override
        public List<Knob> knobs() {
            return List.of(new Knob("merge", "checkpoint", "merge threshold θm in [0, 1]: one value, one per block (a/b/...), or off"),
                    new Knob("prune", "checkpoint", "prune threshold θp in [0, 1]: one value, one per block (a/b/...), or off"),
                    new Knob("file", "none", "thresholds from a side file (vitrim finetune's thresholds.safetensors)"),
                    ToMe.POOL);
        }

        @Override
        public List<WeightKey> weights(ViTConfig model) {
            List<WeightKey> k = new ArrayList<>();
            for (int i = 0; i < model.depth(); i++) {
                k.add(new WeightKey(mergeKey(i), new int[] {1}, false, 0, 1));
                k.add(new WeightKey(pruneKey(i), new int[] {1}, false, 0, 1));
            }
            return k;
        }

        @Override
        public TokenReducer create(Spec s, ViTConfig model) {
            return create(s, model, Map.of());
        }

        @Override
        public TokenReducer create(Spec s, ViTConfig model, Map<String, float[]> weights) {
            if (model.distToken()) throw s.error("LTMP has no rule for a distillation token; use a model without one");
            // file= is read by the model loader (SideWeights, one layer up), which passes its values as weights
            boolean fromFile = s.string("file", null) != null;
            float[] merge = thresholds(s, "merge", model.depth(), weights, Ltmp::mergeKey, fromFile);
            float[] prune = thresholds(s, "prune", model.depth(), weights, Ltmp::pruneKey, fromFile);
            if (merge == null && prune == null) throw s.error("merge=off and prune=off leave nothing to do; use none");
            return new Ltmp(s.text(), merge, prune, model, ToMe.sizeWeightedPool(s));
        }

        private static float[] thresholds(Spec s, String knob, int depth, Map<String, float[]> weights,
                                          java.util.function.IntFunction<String> key, boolean fromFile) {
            String v = s.string(knob, null);
            if (v != null && v.trim().toLowerCase(Locale.ROOT).equals("off")) return null;
            float[] t = new float[depth];
            if (v == null) {
                for (int i = 0; i < depth; i++) {
                    float[] w = weights.get(key.apply(i));
                    if (w == null && fromFile) {
                        throw s.error("file= holds no " + key.apply(i) + " (or was not read: the model loader reads it, see SideWeights.reducer)");
                    }
                    if (w == null) {
                        throw s.error("the checkpoint has no " + key.apply(i) + " (no learned LTMP thresholds): give " + knob + "=θ");
                    }
                    t[i] = w[0];
                    check(s, t[i], key.apply(i) + " in the checkpoint");
                }
                return t;
            }
            String[] parts = v.split("/", -1);
            if (parts.length != 1 && parts.length != depth) {
                throw s.error(knob + " has " + parts.length + " values for " + depth + " blocks (give one, or one per block)");
            }
            for (int i = 0; i < depth; i++) {
                String p = parts[parts.length == 1 ? 0 : i].trim();
                try {
                    t[i] = Float.parseFloat(p);
                } catch (NumberFormatException e) {
                    throw s.error(knob + " must be numbers in [0, 1] or off, got \"" + p + "\"");
                }
                check(s, t[i], knob + " of block " + i);
            }
            return t;
        }

        private static void check(Spec s, float t, String what) {
            if (!(t >= 0f && t <= 1f)) throw s.error(what + " is " + t + ", outside [0, 1]");
        }
    }

    @Override
    public String spec() {
        return spec;
    }

    /** θm per block, or null when merging is off. */
    public float[] mergeThresholds() {
        return merge == null ? null : merge.clone();
    }

    /** θp per block, or null when pruning is off. */
    public float[] pruneThresholds() {
        return prune == null ? null : prune.clone();
    }

    @Override
    public Set<Probe> probes(int block) {
        EnumSet<Probe> p = EnumSet.noneOf(Probe.class);
        if (merge != null) p.add(Probe.MEAN_KEY);
        if (prune != null || merge != null) p.add(Probe.ATTENTION_RECEIVED); // merged B tokens take the max importance
        return p;
    }

    @Override
    public boolean sizeWeightedPool() {
        return sizeWeightedPool;
    }

    @Override
    public boolean proportionalAttention() {
        return true;
    }

    @Override
    public Plan inBlock(int block, TokenState s, BlockProbes probes, Trace trace) {
        Plan plan = Plan.forState(s);
        float thM = merge == null ? Float.NaN : merge[block], thP = prune == null ? Float.NaN : prune[block];
        s.parallel().forEach(s.batch(), b -> image(s, b, probes, thM, thP, plan));
        if (merge != null) plan.markMerges();
        return plan;
    }

    /** One image: merge decisions, the [unmerged A, B] order, then the prune mask; into {@code plan}. */
    private void image(TokenState s, int b, BlockProbes probes, float thM, float thP, Plan plan) {
        final int o = s.offset(b), n = s.count(b);
        float[] imp = new float[n];
        for (int j = 0; j < n; j++) imp[j] = probes.attentionReceived[o + j];
        for (int j = 0; j < Math.min(prefix, n); j++) imp[j] = Float.POSITIVE_INFINITY; // class, registers: kept
        // order[k] = local row of the k-th token after merging; dest[i] = k for every row (merged A → its B)
        int[] dest = new int[n];
        int[] order;
        float[] impAfter;
        if (merge == null || n < 2) {
            order = new int[n];
            for (int i = 0; i < n; i++) order[i] = dest[i] = i;
            impAfter = imp;
        } else {
            int na = (n + 1) / 2, nb = n / 2;
            ToMe.Scratch sc = ToMe.bestPartners(s.parallel(), probes.meanKeys(s.parallel(), o, o + n), 0, n, probes.headDim,
                    prefix);
            boolean[] merged = new boolean[na];
            int nu = 0;
            for (int a = 0; a < na; a++) {
                merged[a] = sc.nodeMax[a] > thM;
                if (!merged[a]) nu++;
            }
            order = new int[nu + nb];
            impAfter = new float[nu + nb];
            // [prefix (class, registers) in place, unmerged A, B]: with a class token alone, the
            // reference's [unmerged A, B] (protected rows are −∞, so never merged)
            int k = 0;
            int[] bDest = new int[nb];
            for (int t = 0; t < Math.min(prefix, n); t++) {
                order[k] = t;
                impAfter[k] = imp[t];
                dest[t] = k++;
            }
            for (int a = 0; a < na; a++) {
                if (merged[a] || 2 * a < prefix) continue;
                order[k] = 2 * a;
                impAfter[k] = imp[2 * a];
                dest[2 * a] = k++;
            }
            for (int j = 0; j < nb; j++) {
                if (2 * j + 1 < prefix) {
                    bDest[j] = dest[2 * j + 1];
                    continue;
                }
                order[k] = 2 * j + 1;
                impAfter[k] = imp[2 * j + 1];
                bDest[j] = dest[2 * j + 1] = k++;
            }
            for (int a = 0; a < na; a++) {
                if (!merged[a]) continue;
                int d = bDest[sc.nodeIdx[a]];
                dest[2 * a] = d;
                impAfter[d] = Math.max(impAfter[d], imp[2 * a]);
            }
        }
        // prune: keep importance > θp, in order; at least one token stays (the most important)
        int m = order.length;
        int[] newIndex = new int[m];
        int kept = 0;
        for (int k = 0; k < m; k++) newIndex[k] = prune == null || impAfter[k] > thP ? kept++ : -1;
        if (kept == 0) {
            newIndex[Ranking.argmax(impAfter, 0, m)] = 0;
            kept = 1;
        }
        for (int i = 0; i < n; i++) plan.send(o + i, newIndex[dest[i]]);
        plan.count(b, kept);
    }
}
