package io.vitrim.reduce;

import io.vitrim.config.ViTConfig;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Baseline (EViT-style): keep the tokens the class token attends to most (attention summed over
 * heads), drop the others — {@code r} fewer tokens per block, same cap as ToMe. With
 * {@code fuse=true} the dropped tokens are fused into one extra token (their attention-weighted
 * mean, size-weighted as every merge; their size-weighted mean if a saturated softmax gives them
 * all exactly 0) instead of discarded,
 * so {@code r + 1} tokens become one. Kept tokens stay in order;
 * the fused token goes last.
 */
public final class TopK implements TokenReducer {
    private final String spec;
    private final RSchedule schedule;
    private final boolean fuse;
    private final int prefix;

    private TopK(String spec, RSchedule schedule, boolean fuse, int prefix) {
        this.spec = spec;
        this.schedule = schedule;
        this.fuse = fuse;
        this.prefix = prefix;
    }

    static final class Def implements Method {
        @Override
        public String name() {
            return "topk";
        }

        @Override
        public String summary() {
            return "baseline: keep the tokens with the highest class-token attention (EViT-style)";
        }

        @Override
        public List<Knob> knobs() {
            List<Knob> k = new ArrayList<>(RSchedule.KNOBS);
            k.add(new Knob("fuse", "false", "fuse the dropped tokens into one token (attention-weighted) instead of discarding them"));
            return k;
        }

        @Override
        public TokenReducer create(Spec s, ViTConfig model) {
            if (!model.classToken()) throw s.error("topk ranks tokens by class-token attention, but this model has no class token");
            RSchedule sched = RSchedule.parse(s, model.depth());
            return new TopK(s.text(), sched, s.bool("fuse", false), model.numPrefix());
        }
    }

    @Override
    public String spec() {
        return spec;
    }

    @Override
    public Set<Probe> probes(int block) {
        return schedule.at(block) > 0 ? EnumSet.of(Probe.CLS_ATTENTION) : EnumSet.noneOf(Probe.class);
    }

    @Override
    public Plan inBlock(int block, TokenState s, BlockProbes probes, Trace trace) {
        int r = schedule.at(block);
        if (r <= 0) return null;
        Plan plan = Plan.forState(s);
        float[] attn = probes.clsAttention;
        float[] w = fuse ? new float[s.total()] : null;
        for (int b = 0; b < s.batch(); b++) {
            int o = s.offset(b), n = s.count(b);
            int rr = Math.min(r, (n - prefix) / 2);
            if (fuse) rr = Math.min(rr, n - prefix - 2);
            if (rr <= 0) {
                plan.keepAll(s, b);
                continue;
            }
            int dropCount = fuse ? rr + 1 : rr;
            // ascending attention, ties by position: the first dropCount are dropped
            int[] order = Ranking.ascendingStable(attn, o + prefix, n - prefix);
            for (int i = 0; i < order.length; i++) order[i] -= o;
            boolean[] drop = new boolean[n];
            for (int i = 0; i < dropCount; i++) drop[order[i]] = true;
            int k = 0;
            for (int i = 0; i < n; i++) if (!drop[i]) plan.send(o + i, k++);
            if (fuse) {
                // weights relative to the largest: a saturated softmax can leave the dropped tokens with
                // subnormal or zero attention, whose sums lose every digit (or are 0/0); all zero: their mean
                float max = 0;
                for (int i = 0; i < n; i++) if (drop[i]) max = Math.max(max, attn[o + i]);
                for (int i = 0; i < n; i++) {
                    if (drop[i]) {
                        plan.send(o + i, k);
                        w[o + i] = max > 0 ? attn[o + i] / max : 1f;
                    } else {
                        w[o + i] = 1f;
                    }
                }
                k++;
            }
            plan.count(b, k);
        }
        if (fuse) {
            plan.markMerges();
            plan.weights(w);
        }
        return plan;
    }
}
