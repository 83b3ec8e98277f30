package io.vitrim.reduce;

import io.vitrim.engine.Gemm;
import io.vitrim.engine.Parallel;
import io.vitrim.engine.VecMath;
import io.vitrim.config.ViTConfig;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * ToMe — token merging by bipartite soft matching (Bolya et al. 2023; docs/methods.md, ToMe), as the
 * reference {@code tome/merge.py} + timm patch do it: inside every block, after the attention
 * residual, merge {@code r} tokens of the alternating A/B split into their most similar partner
 * (cosine of head-averaged keys), size-weighted, with proportional attention afterwards.
 *
 * <p>Deterministic tie rule (the reference's {@code argsort} is unstable): edges are ranked by
 * similarity descending, equal similarities by lower A index first; a token's best partner is
 * the lowest B index among equal maxima (PyTorch's {@code max}).
 */
public final class ToMe implements TokenReducer {
    private final String spec;
    private final RSchedule schedule;
    private final boolean propAttn;
    private final boolean sizeWeightedPool;
    private final int prefix;

    ToMe(String spec, RSchedule schedule, boolean propAttn, boolean sizeWeightedPool, ViTConfig model) {
        this.spec = spec;
        this.schedule = schedule;
        this.propAttn = propAttn;
        this.sizeWeightedPool = sizeWeightedPool;
        this.prefix = model.numPrefix();
    }

    /** The registry entry. */
    static final class Def implements Method {
        @Override
        public String name() {
            return "tome";
        }

        @Override
        public String summary() {
            return "ToMe token merging (bipartite soft matching, size-weighted, proportional attention)";
        }

        @Override
        public List<Knob> knobs() {
            List<Knob> k = new ArrayList<>(RSchedule.KNOBS);
            k.add(new Knob("prop_attn", "true", "add ln(size) to attention logits (proportional attention)"));
            k.add(POOL);
            return k;
        }

        @Override
        public TokenReducer create(Spec s, ViTConfig model) {
            RSchedule sched = RSchedule.parse(s, model.depth());
            boolean prop = s.bool("prop_attn", true);
            return new ToMe(s.text(), sched, prop, sizeWeightedPool(s), model);
        }
    }

    /** The {@code pool} knob of every merging method whose tokens carry sizes (ToMe, LGTM). */
    static final Method.Knob POOL = new Method.Knob("pool", "mean", "avg-pool heads: mean (timm) or wavg (size-weighted, ToMe's MAE patch)");

    /** {@code pool=wavg}: an average-pooled head weights each final token by the patches it stands for. */
    static boolean sizeWeightedPool(Spec s) {
        String pool = s.string("pool", "mean");
        if (!pool.equals("mean") && !pool.equals("wavg")) throw s.error("pool must be mean or wavg, got \"" + pool + "\"");
        return pool.equals("wavg");
    }

    /** Convenience for the Java API: constant r, proportional attention on. */
    public static TokenReducer of(int r, ViTConfig model) {
        return Methods.parse("tome:r=" + r, model);
    }

    @Override
    public String spec() {
        return spec;
    }

    public int[] schedule() {
        return schedule.values();
    }

    @Override
    public Set<Probe> probes(int block) {
        return schedule.at(block) > 0 ? EnumSet.of(Probe.MEAN_KEY) : EnumSet.noneOf(Probe.class);
    }

    @Override
    public boolean proportionalAttention() {
        return propAttn;
    }

    @Override
    public boolean sizeWeightedPool() {
        return sizeWeightedPool;
    }

    @Override
    public Plan inBlock(int block, TokenState s, BlockProbes probes, Trace trace) {
        int r = schedule.at(block);
        if (r <= 0) return null;
        Plan plan = Plan.forState(s);
        s.parallel().forEach(s.batch(), b -> {
            int o = s.offset(b), n = s.count(b);
            int[] assign = match(s.parallel(), probes.meanKeys(s.parallel(), o, o + n), 0, n, probes.headDim, r, prefix);
            if (assign == null) {
                plan.keepAll(s, b);
                return;
            }
            for (int i = 0; i < n; i++) plan.send(o + i, assign[i]);
            plan.count(b, assign[n]);
        });
        plan.markMerges();
        return plan;
    }

    /** Per-thread buffers of {@link #match}, grown on demand. */
    static final class Scratch {
        // a: Â rows [na, hd]; row: one normalised B̂ row on its way into packed B̂ᵀ
        float[] a = new float[0], row = new float[0], packed = new float[0], scores = new float[0], nodeMax = new float[0];
        int[] nodeIdx = new int[0];
        long[] keys = new long[0];

        Scratch ensure(int na, int nb, int hd) {
            if (a.length < na * hd) a = new float[na * hd];
            if (row.length < hd) row = new float[hd];
            int ps = Gemm.packedSize(hd, nb);
            if (packed.length < ps) packed = new float[ps];
            if (scores.length < na * nb) scores = new float[na * nb];
            if (nodeMax.length < na) {
                nodeMax = new float[na];
                nodeIdx = new int[na];
                keys = new long[na];
            }
            return this;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** {@code dst[d..d+n) = x[xo..xo+n) / ‖x[xo..xo+n)‖₂} (squares summed lane-wise, then across lanes). */
    static void normalize(float[] x, int xo, int n, float[] dst, int d) {
        float norm = ProbeCollector.norm(x, xo, n);
        FloatVector vn = FloatVector.broadcast(VecMath.F, norm);
        int e = 0;
        for (int bound = VecMath.F.loopBound(n); e < bound; e += VecMath.VLEN) {
            FloatVector.fromArray(VecMath.F, x, xo + e).lanewise(VectorOperators.DIV, vn).intoArray(dst, d + e);
        }
        for (; e < n; e++) dst[d + e] = x[xo + e] / norm;
    }

    /**
     * The odd tokens' normalised keys written straight into {@link Gemm#packB}'s layout of
     * {@code B̂ᵀ [hd, nb]} (what packing a normalised copy would give, without the copy).
     */
    static void normalizePackedB(float[] metric, int off, int nb, int hd, float[] row, float[] packed) {
        final int nr = Gemm.NR;
        for (int j = 0; j < nb; j++) {
            normalize(metric, off + (2 * j + 1) * hd, hd, row, 0);
            int base = (j / nr) * hd * nr + j % nr;
            for (int e = 0; e < hd; e++) packed[base + e * nr] = row[e];
        }
        int last = (nb - 1) / nr, used = nb - last * nr;
        for (int e = 0; e < hd; e++) {
            java.util.Arrays.fill(packed, last * hd * nr + e * nr + used, last * hd * nr + (e + 1) * nr, 0f);
        }
    }

    /**
     * Every A (even) token's most similar B (odd) token of one image: cosine similarity of the
     * head-averaged keys. The first {@code prefix} tokens (class, registers, distillation) are
     * protected: their A rows are −∞ (they never merge) and nothing merges into their B columns —
     * for a class token alone, or class + distillation, exactly the reference's rule. Leaves
     * {@code nodeMax [na]} and {@code nodeIdx [na]} (B index) in the calling thread's scratch,
     * valid until its next call.
     */
    static Scratch bestPartners(Parallel par, float[] metric, int off, int n, int hd, int prefix) {
        final int na = (n + 1) / 2, nb = n / 2;
        Scratch sc = SCRATCH.get().ensure(na, nb, hd);
        final float[] a = sc.a, row = sc.row, packed = sc.packed, scores = sc.scores, nodeMax = sc.nodeMax;
        final int[] nodeIdx = sc.nodeIdx;
        final int protA = (prefix + 1) / 2, protB = Math.min(prefix / 2, nb); // tokens 0, 2, … and 1, 3, … below prefix
        Parallel p = (long) na * nb * hd >= PARALLEL_MACS ? par : Parallel.serial();
        // k̂ = k̄ / ‖k̄‖, split by position parity: A = even, B = odd
        for (int i = 0; i < na; i++) normalize(metric, off + 2 * i * hd, hd, a, i * hd);
        normalizePackedB(metric, off, nb, hd, row, packed);
        // scores S = Â·B̂ᵀ [na, nb] and each A token's best B partner, by row blocks
        // split by whole register tiles (a split inside one would compute its padding rows twice)
        int tiles = (na + Gemm.MR - 1) / Gemm.MR;
        p.forRange(tiles, 1, (t0, t1) -> {
            int i0 = t0 * Gemm.MR, i1 = Math.min(na, t1 * Gemm.MR);
            Gemm.gemmSerial(a, i0 * hd, hd, 1, i1 - i0, packed, hd, nb, scores, i0 * nb, nb, Gemm.Mode.SET);
            for (int i = i0; i < i1; i++) {
                int j = i < protA || protB >= nb ? -1 : Ranking.argmax(scores, i * nb + protB, (i + 1) * nb);
                nodeMax[i] = j < 0 ? Float.NEGATIVE_INFINITY : scores[j];
                nodeIdx[i] = j < 0 ? 0 : j - i * nb;
            }
        });
        return sc;
    }

    /** Bipartite soft matching of one image on the calling thread; see {@link #match(Parallel, float[], int, int, int, int, int)}. */
    public static int[] match(float[] metric, int off, int n, int hd, int r, int prefix) {
        return match(Parallel.serial(), metric, off, n, hd, r, prefix);
    }

    /** Below this many similarity MACs one image's matching stays on one thread (a hand-off costs more). */
    static final int PARALLEL_MACS = 100_000;

    /**
     * Bipartite soft matching of one image (docs/methods.md, ToMe). The similarity rows and their
     * argmax are split across {@code par}'s threads when the pool is free (batch 1); each row is
     * computed the same way whatever the split, so the result does not depend on it.
     *
     * Output order: the protected prefix tokens in place, then the unmerged A tokens, then the B
     * tokens. With no prefix the unmerged A tokens keep the reference's order (by similarity);
     * with one they are in sequence order, as the reference sorts them when there is a class token.
     *
     * @param metric  mean keys {@code [n, hd]} starting at {@code off}
     * @param r       requested merges; capped at {@code ⌊(n − prefix)/2⌋}
     * @param prefix  leading tokens that never merge (class, registers, distillation)
     * @return {@code int[n + 1]}: the new index of every token (sources share their
     *         destination's), and the new token count at {@code [n]}; null when nothing merges
     */
    public static int[] match(Parallel par, float[] metric, int off, int n, int hd, int r, int prefix) {
        r = Math.min(r, (n - prefix) / 2);
        if (r <= 0) return null;
        final int na = (n + 1) / 2, nb = n / 2;
        Scratch sc = bestPartners(par, metric, off, n, hd, prefix);
        final float[] nodeMax = sc.nodeMax;
        final int[] nodeIdx = sc.nodeIdx;
        // edges by similarity, descending; stable (lower A index first on ties)
        int[] order = Ranking.descendingStable(nodeMax, na, sc.keys);
        int nu = na - r;
        int[] unm = new int[nu];
        System.arraycopy(order, r, unm, 0, nu);
        if (prefix > 0) java.util.Arrays.sort(unm);
        // output order: [prefix..., unmerged A..., B...] (protected A rows are −∞: all unmerged)
        int[] bIndex = new int[nb];
        int[] assign = new int[n + 1];
        int next = prefix;
        for (int i = 0; i < nu; i++) assign[2 * unm[i]] = 2 * unm[i] < prefix ? 2 * unm[i] : next++;
        for (int j = 0; j < nb; j++) bIndex[j] = 2 * j + 1 < prefix ? 2 * j + 1 : next++;
        for (int j = 0; j < nb; j++) assign[2 * j + 1] = bIndex[j];
        for (int k = 0; k < r; k++) {
            int src = order[k];
            assign[2 * src] = bIndex[nodeIdx[src]];
        }
        assign[n] = n - r;
        return assign;
    }
}
