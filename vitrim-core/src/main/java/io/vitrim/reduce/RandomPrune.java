package io.vitrim.reduce;

import io.vitrim.config.ViTConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Baseline: drop {@code r} random non-prefix tokens per block (same place and same per-block
 * cap as ToMe, so token counts match ToMe's at equal r). Kept tokens stay in order. The draw
 * depends on the seed, the block and the image's position in the batch only.
 */
public final class RandomPrune implements TokenReducer {
    private final String spec;
    private final RSchedule schedule;
    private final long seed;
    private final int prefix;

    private RandomPrune(String spec, RSchedule schedule, long seed, int prefix) {
        this.spec = spec;
        this.schedule = schedule;
        this.seed = seed;
        this.prefix = prefix;
    }

    static final class Def implements Method {
        @Override
        public String name() {
            return "random";
        }

        @Override
        public String summary() {
            return "baseline: prune r random tokens per block (seeded)";
        }

        @Override
        public List<Knob> knobs() {
            List<Knob> k = new ArrayList<>(RSchedule.KNOBS);
            k.add(new Knob("seed", "0", "random seed"));
            return k;
        }

        @Override
        public TokenReducer create(Spec s, ViTConfig model) {
            RSchedule sched = RSchedule.parse(s, model.depth());
            long seed = s.integer("seed", 0);
            return new RandomPrune(s.text(), sched, seed, model.numPrefix());
        }
    }

    @Override
    public String spec() {
        return spec;
    }

    @Override
    public Plan inBlock(int block, TokenState s, BlockProbes probes, Trace trace) {
        int r = schedule.at(block);
        if (r <= 0) return null;
        Plan plan = Plan.forState(s);
        for (int b = 0; b < s.batch(); b++) {
            int o = s.offset(b), n = s.count(b);
            int rr = Math.min(r, (n - prefix) / 2);
            if (rr <= 0) {
                plan.keepAll(s, b);
                continue;
            }
            SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + block * 7919L + b);
            // partial Fisher–Yates over the non-prefix positions picks the rr dropped tokens
            int m = n - prefix;
            int[] idx = new int[m];
            for (int i = 0; i < m; i++) idx[i] = prefix + i;
            boolean[] drop = new boolean[n];
            for (int i = 0; i < rr; i++) {
                int j = i + rnd.nextInt(m - i);
                int t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
                drop[idx[i]] = true;
            }
            int k = 0;
            for (int i = 0; i < n; i++) if (!drop[i]) plan.send(o + i, k++);
            plan.count(b, k);
        }
        return plan;
    }
}
