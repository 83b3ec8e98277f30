package io.vitrim.reduce;

import io.vitrim.config.ViTConfig;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * DFE + LGTM — dense first layers, then local-global token merging (Heo et al., "A Fast
 * Training-free Compression Framework for ViTs"; docs/methods.md, DFE + LGTM). The paper's code was never
 * published; this follows vitrim's reading of the paper, with its open choices as knobs:
 * <ul>
 *   <li>blocks {@code < dense}: untouched (the dense feature extractor);</li>
 *   <li>blocks {@code dense ≤ l < switch}: local merging — the patch grid is cut into
 *       {@code windows} (default 2x2) equal windows; each window runs ToMe's bipartite matching on
 *       its own tokens (no class token inside) merging {@code ⌈r / windows⌉}, capped at half the
 *       window; prefix tokens stay outside; output {@code [prefix, W0', W1', ...]};</li>
 *   <li>blocks {@code ≥ switch}: global ToMe with {@code r}.</li>
 * </ul>
 * A token's window is that of its source patches (tracked through the source map; merges never
 * cross windows). Sizes and proportional attention as ToMe.
 */
public final class Lgtm implements TokenReducer {
    private final String spec;
    private final int dense, switchAt, r;
    private final int winRows, winCols;
    private final boolean propAttn;
    private final boolean sizeWeightedPool;
    private final ViTConfig model;

    private Lgtm(String spec, int dense, int switchAt, int r, int winRows, int winCols, boolean propAttn, boolean sizeWeightedPool,
                 ViTConfig model) {
        this.spec = spec;
        this.dense = dense;
        this.switchAt = switchAt;
        this.r = r;
        this.winRows = winRows;
        this.winCols = winCols;
        this.propAttn = propAttn;
        this.sizeWeightedPool = sizeWeightedPool;
        this.model = model;
    }

    static final class Def implements Method {
        @Override
        public String name() {
            return "lgtm";
        }

        @Override
        public String summary() {
            return "DFE + local-global token merging: dense first blocks, ToMe inside windows, then global ToMe [interpretation]";
        }

        @Override
        public List<Knob> knobs() {
            return List.of(new Knob("r", "(required)", "tokens merged per block (local phase: ceil(r/windows) per window)"),
                    new Knob("dense", "2", "leading blocks left dense (DFE)"),
                    new Knob("switch", "7", "first block of global merging; = dense for DFE-only (no local phase)"),
                    new Knob("windows", "2x2", "window partition of the patch grid, ROWSxCOLS"),
                    new Knob("prop_attn", "true", "proportional attention"),
                    ToMe.POOL);
        }

        @Override
        public TokenReducer create(Spec s, ViTConfig model) {
            if (!s.has("r")) throw s.error("lgtm needs r=N (tokens merged per block)");
            int r = s.integer("r", 0);
            int dense = s.integer("dense", 2);
            int sw = s.integer("switch", Math.max(dense, Math.min(7, model.depth())));
            String win = s.string("windows", "2x2");
            boolean prop = s.bool("prop_attn", true);
            boolean wavg = ToMe.sizeWeightedPool(s);
            if (r < 0) throw s.error("r must be >= 0, got " + r);
            if (dense < 0 || dense > model.depth()) throw s.error("dense must be in 0.." + model.depth() + ", got " + dense);
            if (sw < dense || sw > model.depth()) throw s.error("switch must be in " + dense + ".." + model.depth() + " (dense.." + "depth), got " + sw);
            String[] rc = win.toLowerCase(java.util.Locale.ROOT).split("x");
            int wr, wc;
            try {
                if (rc.length != 2) throw new NumberFormatException();
                wr = Integer.parseInt(rc[0]);
                wc = Integer.parseInt(rc[1]);
            } catch (NumberFormatException e) {
                throw s.error("windows must look like 2x2, got \"" + win + "\"");
            }
            if (wr < 1 || wc < 1 || model.gridH() % wr != 0 || model.gridW() % wc != 0) {
                throw s.error("windows " + win + " do not fit the " + model.gridH() + "x" + model.gridW() + " patch grid (each side must divide evenly)");
            }
            return new Lgtm(s.text(), dense, sw, r, wr, wc, prop, wavg, model);
        }
    }

    @Override
    public String spec() {
        return spec;
    }

    @Override
    public boolean needsSource() {
        return true;
    }

    @Override
    public Set<Probe> probes(int block) {
        return block >= dense && r > 0 ? EnumSet.of(Probe.MEAN_KEY) : EnumSet.noneOf(Probe.class);
    }

    @Override
    public boolean proportionalAttention() {
        return propAttn;
    }

    @Override
    public boolean sizeWeightedPool() {
        return sizeWeightedPool;
    }

    /** Window of original patch {@code p} (0-based among patches, row-major grid). */
    int windowOf(int p) {
        int gw = model.gridW(), wh = model.gridH() / winRows, ww = gw / winCols;
        return (p / gw / wh) * winCols + (p % gw) / ww;
    }

    @Override
    public Plan inBlock(int block, TokenState s, BlockProbes probes, Trace trace) {
        if (block < dense || r <= 0) return null;
        Plan plan = Plan.forState(s);
        boolean local = block < switchAt;
        int prefix = s.prefix();
        s.parallel().forEach(s.batch(), b -> {
            int o = s.offset(b), n = s.count(b);
            float[] keys = probes.meanKeys(s.parallel(), o, o + n);
            int hd = probes.headDim;
            if (!local) {
                int[] a = ToMe.match(s.parallel(), keys, 0, n, hd, r, prefix);
                if (a == null) {
                    plan.keepAll(s, b);
                    return;
                }
                for (int i = 0; i < n; i++) plan.send(o + i, a[i]);
                plan.count(b, a[n]);
                return;
            }
            // group current tokens by window, in sequence order
            int windows = winRows * winCols;
            int[] win = new int[n];
            java.util.Arrays.fill(win, -1);
            int[] src = s.source()[b];
            for (int q = prefix; q < src.length; q++) if (src[q] >= 0) win[src[q]] = windowOf(q - prefix);
            List<List<Integer>> groups = new ArrayList<>();
            for (int w = 0; w < windows; w++) groups.add(new ArrayList<>());
            for (int i = prefix; i < n; i++) groups.get(win[i]).add(i);
            for (int i = 0; i < prefix; i++) plan.send(o + i, i);
            int next = prefix;
            int rw = (r + windows - 1) / windows;
            // windows are matched independently: in parallel when the pool is free (batch 1)
            int[][] matched = new int[windows][];
            s.parallel().forEach(windows, w -> {
                List<Integer> g = groups.get(w);
                int nw = g.size();
                float[] k = new float[nw * hd];
                for (int j = 0; j < nw; j++) System.arraycopy(keys, g.get(j) * hd, k, j * hd, hd);
                matched[w] = ToMe.match(k, 0, nw, hd, rw, 0);
            });
            for (int w = 0; w < windows; w++) {
                List<Integer> g = groups.get(w);
                int nw = g.size();
                int[] a = matched[w];
                if (a == null) {
                    for (int j = 0; j < nw; j++) plan.send(o + g.get(j), next + j);
                    next += nw;
                } else {
                    for (int j = 0; j < nw; j++) plan.send(o + g.get(j), next + a[j]);
                    next += a[nw];
                }
            }
            plan.count(b, next);
        });
        plan.markMerges();
        return plan;
    }
}
