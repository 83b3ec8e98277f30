package io.vitrim.reduce;

import io.vitrim.config.ViTConfig;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * PPT — adaptive token pruning and pooling (Wu et al.; docs/methods.md, PPT). At a few blocks, each
 * image independently either prunes its {@code r} least important tokens (importance = class
 * attention summed over heads × value norm, normalised over the patch tokens; class token fixed
 * at 2) or pools {@code r} tokens with ToMe's matching, depending on whether the unbiased variance
 * of the normalised importance is at least the threshold. Images in one batch may decide
 * differently in the same block; both ways remove exactly {@code r}, so the batch stays aligned.
 *
 * <p>As the reference: the cap is {@code ⌊(N−1)/2⌋}; pruned images keep their tokens in
 * descending-importance order (stable: equal scores keep position order); a distillation token
 * is protected when pooling but scored like any token when pruning. Register tokens (which the
 * reference does not know) are protected like the class token in both: importance 2, left out
 * of the normalisation and the variance.
 */
public final class PPT implements TokenReducer {
    private final String spec;
    private final int r;
    private final boolean[] ppLayer;
    private final double threshold;
    private final boolean propAttn;
    private final int prefix;  // class, registers, distillation: never pooled
    private final int protect; // class and registers: never pruned
    private final boolean sizeWeightedPool;

    private PPT(String spec, int r, boolean[] ppLayer, double threshold, boolean propAttn, int prefix, int protect,
                boolean sizeWeightedPool) {
        this.sizeWeightedPool = sizeWeightedPool;
        this.spec = spec;
        this.r = r;
        this.ppLayer = ppLayer;
        this.threshold = threshold;
        this.propAttn = propAttn;
        this.prefix = prefix;
        this.protect = protect;
    }

    static final class Def implements Method {
        @Override
        public String name() {
            return "ppt";
        }

        @Override
        public String summary() {
            return "PPT: per image and layer, prune inattentive tokens or pool duplicates (variance test)";
        }

        @Override
        public List<Knob> knobs() {
            return List.of(new Knob("r", "50", "tokens removed at each PP layer (cap ⌊(N-1)/2⌋)"),
                    new Knob("layers", "3/6/9", "0-based blocks that prune or pool"),
                    new Knob("threshold", "7e-5", "variance of normalised importance below which an image pools"),
                    new Knob("prop_attn", "true", "proportional attention and sizes accumulated across PP layers"),
                    ToMe.POOL);
        }

        @Override
        public TokenReducer create(Spec s, ViTConfig model) {
            if (!model.classToken()) throw s.error("PPT scores tokens by class-token attention, but this model has no class token");
            int r = s.integer("r", 50);
            if (r < 0) throw s.error("r must be >= 0, got " + r);
            int[] layers = s.intList("layers");
            if (layers == null) layers = new int[] {3, 6, 9};
            double threshold = s.number("threshold", 7e-5);
            if (threshold < 0) throw s.error("threshold must be >= 0, got " + threshold);
            boolean prop = s.bool("prop_attn", true);
            boolean[] pp = new boolean[model.depth()];
            int tokens = model.numTokens();
            int[] sorted = layers.clone();
            Arrays.sort(sorted);
            for (int l : sorted) {
                if (l < 0 || l >= model.depth()) {
                    throw s.error("layer " + l + " is outside the model's blocks 0.." + (model.depth() - 1));
                }
                if (pp[l]) throw s.error("layer " + l + " is listed twice");
                pp[l] = true;
            }
            for (int l : sorted) {
                if (r > tokens - 1) {
                    throw s.error("r=" + r + " is more than the " + (tokens - 1) + " non-class tokens left at layer " + l);
                }
                tokens -= Math.min(r, (tokens - 1) / 2);
            }
            boolean wavg = ToMe.sizeWeightedPool(s);
            // without proportional attention the sizes restart at each PP layer and no longer count patches
            if (wavg && !prop) throw s.error("pool=wavg needs prop_attn=true (the sizes that count patches)");
            return new PPT(s.text(), r, pp, threshold, prop, model.numPrefix(), 1 + model.regTokens(), wavg);
        }
    }

    @Override
    public String spec() {
        return spec;
    }

    @Override
    public Set<Probe> probes(int block) {
        return ppLayer[block] ? EnumSet.of(Probe.CLS_ATTENTION, Probe.VALUE_NORM, Probe.MEAN_KEY) : EnumSet.noneOf(Probe.class);
    }

    @Override
    public boolean proportionalAttention() {
        return propAttn;
    }

    @Override
    public boolean sizeWeightedPool() {
        return sizeWeightedPool;
    }

    /**
     * Normalised importance {@code [2, …, 2, σ̃_p, ..., σ̃_{n−1}]} of one image (rows
     * {@code [o, o+n)}), the first {@code protect} tokens (class, registers) at 2.
     */
    static float[] importance(BlockProbes p, int o, int n, int protect) {
        float[] sc = new float[n];
        float sum = 0f;
        for (int j = protect; j < n; j++) {
            sc[j] = p.clsAttention[o + j] * p.valueNorm[o + j];
            sum += sc[j];
        }
        for (int j = protect; j < n; j++) sc[j] /= sum;
        for (int j = 0; j < protect; j++) sc[j] = 2f;
        return sc;
    }

    /** Unbiased variance of {@code v[protect..n)} (torch.var's default). */
    static double variance(float[] v, int n, int protect) {
        double mean = 0;
        for (int j = protect; j < n; j++) mean += v[j];
        mean /= (n - protect);
        double ss = 0;
        for (int j = protect; j < n; j++) ss += (v[j] - mean) * (v[j] - mean);
        return ss / (n - protect - 1);
    }

    @Override
    public Plan inBlock(int block, TokenState s, BlockProbes probes, Trace trace) {
        if (!ppLayer[block]) return null;
        Plan plan = Plan.forState(s);
        s.parallel().forEach(s.batch(), b -> {
            int o = s.offset(b), n = s.count(b);
            int rr = Math.min(r, (n - protect) / 2);
            if (rr <= 0) {
                plan.keepAll(s, b);
                return;
            }
            float[] score = importance(probes, o, n, protect);
            boolean pool = variance(score, n, protect) < threshold;
            trace.decide(b, block, pool ? "pool" : "prune");
            if (pool) {
                int[] assign = ToMe.match(s.parallel(), probes.meanKeys(s.parallel(), o, o + n), 0, n, probes.headDim, rr, prefix);
                for (int i = 0; i < n; i++) plan.send(o + i, assign[i]);
                plan.count(b, assign[n]);
            } else {
                int[] order = Ranking.descendingStable(score, n, new long[n]);
                for (int k = 0; k < n - rr; k++) plan.send(o + order[k], k);
                plan.count(b, n - rr);
            }
        });
        plan.markMerges();
        if (!propAttn) plan.resetSizes();
        return plan;
    }
}
