package io.vitrim.reduce;

import io.vitrim.config.ViTConfig;
import io.vitrim.engine.VecMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Token Cropr (Bergner, Lippert &amp; Mahendran, 2024; the inference path of benbergner/cropr;
 * docs/methods.md, Cropr). A module after block k (k ≤ L−3 with last-layer fusion, k ≤ L−2
 * without) scores every token with its learned queries, {@code σ_j = Σ_m ⟨q_m, x_j⟩} (no scale,
 * no softmax; prefix tokens +∞), and keeps the {@code N − R_k} best ({@code R_0 = R + 1},
 * {@code R_k = R}), in descending score. Without fusion the rest is dropped; with it
 * ({@code llf}) the rest is parked with its representation of that moment and appended back
 * before the last block. Average pooling then means over every token, prefix included, as the
 * reference's head does.
 *
 * <p>Queries are the checkpoint's {@code cropr.{k}.cross_attn.queries [1, M, C]}, read at every
 * forward (so a training run's updates are seen). {@code scorer=random} ranks by a seeded
 * random score instead — the random pruner with exactly Cropr's token schedule.
 */
public final class Cropr implements TokenReducer {
    private final String spec;
    private final int rate;
    private final boolean llf;
    private final int modules, depth, prefix, dim;
    private final float[][] queries; // per module [M, C], or null with the random scorer
    private final long seed;

    Cropr(String spec, int rate, boolean llf, float[][] queries, long seed, ViTConfig model) {
        this.spec = spec;
        this.rate = rate;
        this.llf = llf;
        this.depth = model.depth();
        this.modules = modules(depth, llf);
        this.prefix = model.numPrefix();
        this.dim = model.embedDim();
        this.queries = queries;
        this.seed = seed;
    }

    /** Modules of a {@code depth}-block model: one after each block but the last two (fusion) or the last. */
    public static int modules(int depth, boolean llf) {
        return Math.max(0, llf ? depth - 2 : depth - 1);
    }

    /** Tokens pruned by module {@code k}: R + 1 for the first (the class token's share), R after. */
    public static int prunedBy(int k, int rate) {
        return k == 0 ? rate + 1 : rate;
    }

    public static String queriesKey(int k) {
        return "cropr." + k + ".cross_attn.queries";
    }

    public int rate() {
        return rate;
    }

    public boolean llf() {
        return llf;
    }

    /** Number of Cropr modules (blocks followed by one). */
    public int modules() {
        return modules;
    }

    /** The registry entry. */
    static final class Def implements Method {
        @Override
        public String name() {
            return "cropr";
        }

        @Override
        public String summary() {
            return "Token Cropr: learned queries prune R tokens after each block (vitrim finetune --method cropr)";
        }

        @Override
        public List<Knob> knobs() {
            return List.of(new Knob("rate", "model", "tokens pruned per module (the first prunes rate+1); default: the model folder's cropr_cfg"),
                    new Knob("llf", "model", "1 = last-layer fusion (pruned tokens rejoin before the last block), 0 = dropped"),
                    new Knob("scorer", "learned", "learned (the checkpoint's queries) or random (same schedule, seeded scores)"),
                    new Knob("seed", "0", "seed of scorer=random"));
        }

        @Override
        public List<WeightKey> weights(ViTConfig model) {
            // keys of the most modules either variant has (L − 1); M queries and MLP widths are free
            int c = model.embedDim();
            List<WeightKey> k = new ArrayList<>();
            for (int i = 0; i < modules(model.depth(), false); i++) {
                String p = "cropr." + i + ".";
                k.add(new WeightKey(queriesKey(i), new int[] {1, -1, c}, false));
                k.add(new WeightKey(p + "cross_attn.mlp_norm.weight", new int[] {c}, true));
                k.add(new WeightKey(p + "cross_attn.mlp_norm.bias", new int[] {c}, true));
                k.add(new WeightKey(p + "cross_attn.mlp.fc1.weight", new int[] {-1, c}, true));
                k.add(new WeightKey(p + "cross_attn.mlp.fc1.bias", new int[] {-1}, true));
                k.add(new WeightKey(p + "cross_attn.mlp.fc2.weight", new int[] {c, -1}, true));
                k.add(new WeightKey(p + "cross_attn.mlp.fc2.bias", new int[] {c}, true));
                k.add(new WeightKey(p + "head.norm.weight", new int[] {c}, true));
                k.add(new WeightKey(p + "head.norm.bias", new int[] {c}, true));
                k.add(new WeightKey(p + "head.head.weight", new int[] {-1, c}, true));
                k.add(new WeightKey(p + "head.head.bias", new int[] {-1}, true));
            }
            return k;
        }

        @Override
        public TokenReducer create(Spec s, ViTConfig model) {
            return create(s, model, Map.of());
        }

        @Override
        public TokenReducer create(Spec s, ViTConfig model, Map<String, float[]> weights) {
            if (!s.has("rate")) throw s.error("give rate=R (tokens pruned per module); the model folder has no cropr_cfg to take it from");
            if (!s.has("llf")) throw s.error("give llf=1 or llf=0; the model folder has no cropr_cfg to take it from");
            int rate = s.integer("rate", 0);
            boolean llf = s.bool("llf", false);
            String scorer = s.string("scorer", "learned");
            long seed = s.integer("seed", 0);
            if (rate < 0) throw s.error("rate must be >= 0, got " + rate);
            if (!scorer.equals("learned") && !scorer.equals("random")) throw s.error("scorer must be learned or random, got \"" + scorer + "\"");
            int depth = model.depth(), m = modules(depth, llf);
            if (m == 0) throw s.error("a " + depth + "-block model has no place for a Cropr module" + (llf ? " with llf=1 (needs 3 blocks)" : " (needs 2 blocks)"));
            int left = model.numTokens() - rate * m - 1;
            if (left < model.numPrefix() + 1) {
                throw s.error("rate=" + rate + " over " + m + " modules prunes " + (rate * m + 1) + " of " + model.numTokens()
                        + " tokens, leaving " + left + "; the last module needs at least " + (model.numPrefix() + 1)
                        + " (at most rate=" + Math.max(0, (model.numTokens() - model.numPrefix() - 2) / m) + ")");
            }
            float[][] q = null;
            if (scorer.equals("learned")) {
                q = new float[m][];
                for (int k = 0; k < m; k++) {
                    q[k] = weights.get(queriesKey(k));
                    if (q[k] == null) {
                        throw s.error("the checkpoint has no " + queriesKey(k) + " (no trained Cropr queries for " + m + " modules; "
                                + "train them with vitrim finetune --method cropr, or use scorer=random)");
                    }
                }
            }
            return new Cropr(s.text(), rate, llf, q, seed, model);
        }
    }

    @Override
    public String spec() {
        return spec;
    }

    @Override
    public Plan afterBlock(int block, TokenState s, Trace trace) {
        if (block >= modules) return null;
        final int r = prunedBy(block, rate);
        final Plan plan = Plan.forState(s);
        final float[] q = queries == null ? null : querySum(queries[block]);
        s.parallel().forEach(s.batch(), b -> {
            int o = s.offset(b), n = s.count(b), keep = n - r;
            if (keep < prefix + 1) throw new IllegalStateException("Cropr module " + block + " would keep " + keep + " of " + n + " tokens");
            int[] order = rank(s.x(), o, n, q, b, block);
            for (int i = 0; i < n; i++) {
                int t = o + order[i];
                if (i < keep) plan.send(t, i);
                else if (llf) plan.park(t);
            }
            plan.count(b, keep);
        });
        return plan;
    }

    /** Σ_m q_m: the score Σ_m ⟨q_m, x⟩ is one dot product with it. */
    private float[] querySum(float[] q) {
        int m = q.length / dim;
        if (m == 1) return q;
        float[] sum = new float[dim];
        for (int j = 0; j < dim; j++) {
            double a = 0;
            for (int i = 0; i < m; i++) a += q[i * dim + j];
            sum[j] = (float) a;
        }
        return sum;
    }

    /**
     * Local indices of image rows {@code [o, o+n)}: prefix tokens first (σ = +∞), then the rest by
     * descending score, ties by position (the reference's sort is unstable; exact ties do not
     * occur in practice).
     */
    private int[] rank(float[] x, int o, int n, float[] q, int image, int block) {
        int m = n - prefix;
        float[] score = new float[m];
        if (q != null) {
            for (int i = 0; i < m; i++) score[i] = dot(q, x, (o + prefix + i) * dim, dim);
        } else {
            SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + block * 7919L + image);
            for (int i = 0; i < m; i++) score[i] = (float) rnd.nextDouble();
        }
        Integer[] idx = new Integer[m];
        for (int i = 0; i < m; i++) idx[i] = i;
        java.util.Arrays.sort(idx, (a, b) -> {
            int c = Float.compare(score[b], score[a]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        int[] order = new int[n];
        for (int i = 0; i < prefix; i++) order[i] = i;
        for (int i = 0; i < m; i++) order[prefix + i] = prefix + idx[i];
        return order;
    }

    private static float dot(float[] q, float[] x, int xo, int c) {
        FloatVector acc = FloatVector.zero(VecMath.F);
        int j = 0;
        for (int bound = VecMath.F.loopBound(c); j < bound; j += VecMath.VLEN) {
            acc = FloatVector.fromArray(VecMath.F, q, j).fma(FloatVector.fromArray(VecMath.F, x, xo + j), acc);
        }
        float a = acc.reduceLanes(VectorOperators.ADD);
        for (; j < c; j++) a = Math.fma(q[j], x[xo + j], a);
        return a;
    }

    @Override
    public boolean restoreBefore(int block) {
        return llf && block == depth - 1;
    }

    @Override
    public boolean poolIncludesPrefix() {
        return true;
    }
}
