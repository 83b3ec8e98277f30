package io.vitrim.reduce;

import io.vitrim.engine.Parallel;
import io.vitrim.model.StateDict;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Invariants of every reducer over random models, schedules and batches. */
class ReductionPropertiesTest {

    /** Wraps a reducer and checks the token state after every block. */
    static final class Checked implements TokenReducer {
        final TokenReducer inner;
        final List<String> failures = new ArrayList<>();
        final List<int[]> counts = new ArrayList<>();

        final int pptProtected; // PPT keeps class and registers in place (a distillation token is scored)
        // a RoPE token sits at the mean of its patches' positions unless a plan weighs it otherwise
        // (Top-K's attention-weighted fusion, PPT's sizes reset to ones)
        final boolean meanPositions;

        Checked(TokenReducer inner, int pptProtected) {
            this.inner = inner;
            this.pptProtected = pptProtected;
            String spec = inner.spec();
            this.meanPositions = !spec.contains("fuse=true") && !spec.contains("prop_attn=false");
        }

        @Override
        public boolean restoreBefore(int block) {
            return inner.restoreBefore(block);
        }

        @Override
        public boolean needsSource() {
            return inner.needsSource();
        }

        @Override
        public boolean sizeWeightedPool() {
            return inner.sizeWeightedPool();
        }

        @Override
        public boolean poolIncludesPrefix() {
            return inner.poolIncludesPrefix();
        }

        @Override
        public boolean restoreAtOutput() {
            return inner.restoreAtOutput();
        }

        @Override
        public String spec() {
            return inner.spec();
        }

        @Override
        public Set<Probe> probes(int block) {
            return inner.probes(block);
        }

        @Override
        public boolean proportionalAttention() {
            return inner.proportionalAttention();
        }

        @Override
        public Plan inBlock(int block, TokenState t, BlockProbes p, Trace trace) {
            return inner.inBlock(block, t, p, trace);
        }

        @Override
        public Plan afterBlock(int block, TokenState s, Trace trace) {
            int[] c = new int[s.batch()];
            for (int b = 0; b < s.batch(); b++) {
                c[b] = s.count(b);
                double sum = 0;
                for (int i = 0; i < s.count(b); i++) sum += s.size(s.offset(b) + i);
                // pruning discards sizes, merging conserves them
                if ((inner instanceof ToMe || inner instanceof Lgtm) && Math.abs(sum - s.originalTokens()) > 1e-3) failures.add("block " + block + " image " + b + ": sizes sum to " + sum);
                if (s.tracksSource()) {
                    int[] src = s.source()[b];
                    boolean[] hit = new boolean[s.count(b)];
                    for (int q = 0; q < src.length; q++) {
                        if (src[q] >= s.count(b)) failures.add("source out of range");
                        if (src[q] >= 0) hit[src[q]] = true;
                        else if (inner instanceof ToMe || inner instanceof Lgtm) failures.add("merging dropped original token " + q);
                    }
                    for (int i = 0; i < hit.length; i++) if (!hit[i] && !(inner instanceof TopK)) failures.add("token " + i + " has no source");
                    if (!(inner instanceof PPT)) {
                        for (int q = 0; q < s.prefix(); q++) if (src[q] != q) failures.add("prefix token " + q + " moved to " + src[q]);
                    } else {
                        for (int q = 0; q < pptProtected; q++) if (src[q] != q) failures.add("PPT moved prefix token " + q);
                    }
                }
            }
            if (s.pos() != null) checkPositions(block, s);
            counts.add(c);
            return inner.afterBlock(block, s, trace);
        }

        /**
         * Prefix rows carry no position (they are not rotated) and stay first; every other row's
         * position is, from the source map alone, the mean grid position of the patches it stands for.
         */
        private void checkPositions(int block, TokenState s) {
            float[] pos = s.pos();
            for (int b = 0; b < s.batch(); b++) {
                int o = s.offset(b), n = s.count(b);
                for (int i = 0; i < n; i++) {
                    boolean prefixRow = i < s.prefix();
                    if (Float.isNaN(pos[2 * (o + i)]) != prefixRow || Float.isNaN(pos[2 * (o + i) + 1]) != prefixRow) {
                        failures.add("block " + block + " image " + b + " row " + i + (prefixRow ? " (prefix) has a position" : " has no position"));
                    }
                }
                if (!s.tracksSource() || !meanPositions) continue;
                double[] sy = new double[n], sx = new double[n];
                int[] cnt = new int[n];
                int[] src = s.source()[b];
                for (int q = s.prefix(); q < src.length; q++) {
                    if (src[q] < 0) continue;
                    int p = q - s.prefix();
                    sy[src[q]] += p / s.gridW();
                    sx[src[q]] += p % s.gridW();
                    cnt[src[q]]++;
                }
                for (int i = s.prefix(); i < n; i++) {
                    if (cnt[i] == 0) continue;
                    double ey = sy[i] / cnt[i], ex = sx[i] / cnt[i];
                    if (Math.abs(pos[2 * (o + i)] - ey) > 1e-4 || Math.abs(pos[2 * (o + i) + 1] - ex) > 1e-4) {
                        failures.add("block " + block + " image " + b + " row " + i + " at (" + pos[2 * (o + i)] + ", " + pos[2 * (o + i) + 1]
                                + "), its " + cnt[i] + " patches' mean is (" + ey + ", " + ex + ")");
                    }
                }
            }
        }
    }

    /** An EVA02-like model ({@code Eva} block, RoPE) of random shape; {@code rope} off for a control. EVA02-E's block in some. */
    static ViTConfig randomEvaConfig(SplittableRandom r) {
        int patch = 4, gh = 2 + r.nextInt(6), gw = 2 + r.nextInt(6), heads = 1 + r.nextInt(3), hd = 4 * (1 + r.nextInt(3));
        boolean cls = r.nextInt(4) > 0;
        ViTConfig.Pool pool = cls && r.nextBoolean() ? ViTConfig.Pool.TOKEN : ViTConfig.Pool.AVG;
        int ref = r.nextInt(3) == 0 ? 0 : 1 + r.nextInt(16);
        // SwiGLU in most (mlp.norm only with it), the post-norm block (EVA02-E) in some
        boolean swiglu = r.nextInt(4) > 0, scaleMlp = swiglu && r.nextBoolean();
        ViTConfig.Eva eva = new ViTConfig.Eva(r.nextBoolean(), scaleMlp, r.nextBoolean(), r.nextInt(6) > 0, ref, ref, 10000f,
                swiglu, r.nextInt(3) == 0);
        return new ViTConfig("eva02_rand", gh * patch, gw * patch, patch, 3, heads * hd, 1 + r.nextInt(5), heads, 4 + r.nextInt(40),
                r.nextBoolean(), cls, false, pool, pool == ViTConfig.Pool.AVG, r.nextInt(4), 1e-6f, 0, false, false, false,
                ViTConfig.Act.GELU, eva).validate("test");
    }

    /**
     * Every method on random EVA models: the invariants above, plus positions (prefix rows none and
     * first, every other row at its patches' mean, parked tokens coming back with theirs — Cropr's
     * last-layer fusion), {@code tome:r=0} bit for bit {@code none}, and an image's output in a
     * batch bit for bit its output alone (positions are per row of the packed batch).
     */
    @Test
    void invariantsHoldOnEvaModels() {
        SplittableRandom r = new SplittableRandom(77);
        for (int iter = 0; iter < 40; iter++) {
            ViTConfig cfg = randomEvaConfig(r);
            StateDict sd = HashInit.stateDict(cfg, 500 + iter, 2.0);
            int batch = 1 + r.nextInt(3);
            float[] px = HashInit.pixels(cfg, batch, 3000 + iter);
            StringBuilder sched = new StringBuilder();
            for (int k = 0; k < cfg.depth(); k++) sched.append(k > 0 ? "/" : "").append(r.nextInt(8));
            List<String> specs = new ArrayList<>(List.of("tome:schedule=" + sched, "random:schedule=" + sched + ",seed=" + iter));
            if (cfg.classToken()) {
                specs.add("topk:r=" + r.nextInt(5) + ",fuse=" + r.nextBoolean());
                specs.add("ppt:r=" + (1 + r.nextInt(4)) + ",layers=0,threshold=" + (r.nextBoolean() ? "0" : "1") + ",prop_attn=" + r.nextBoolean());
                specs.add("ltmp:merge=" + (0.3 + 0.5 * r.nextDouble()) + ",prune=" + (0.05 * r.nextDouble()));
            }
            if (cfg.gridH() % 2 == 0 && cfg.gridW() % 2 == 0) {
                int dense = r.nextInt(cfg.depth());
                specs.add("lgtm:r=" + r.nextInt(6) + ",dense=" + dense + ",switch=" + (dense + r.nextInt(cfg.depth() - dense + 1)));
            }
            if (cfg.depth() >= 3 && cfg.numPatches() >= 2 * (cfg.depth() - 2) + 2) specs.add("cropr:rate=1,llf=1,scorer=random");
            try (VisionTransformer m = VisionTransformer.create(cfg, null, null, sd, 1 + r.nextInt(2), "eva")) {
                for (String spec : specs) {
                    TokenReducer base = Methods.parse(spec, cfg);
                    Checked chk = new Checked(base, cfg.classToken() ? 1 : 0);
                    VisionTransformer.Result res = m.forward(px, batch, chk, true);
                    assertThat(chk.failures).as(cfg + " " + spec).isEmpty();
                    for (float v : res.logits()) assertThat(Float.isFinite(v)).as(spec).isTrue();
                    // the batch is packed rows: image b alone gives the same bits
                    int per = 3 * cfg.imgHeight() * cfg.imgWidth(), k = cfg.numOutputs();
                    int b = batch - 1;
                    float[] alone = m.forward(java.util.Arrays.copyOfRange(px, b * per, (b + 1) * per), 1, base, false).logits();
                    if (!(base instanceof RandomPrune) && !spec.contains("scorer=random")) { // random draws depend on the image's place in the batch
                        assertThat(alone).as(spec).containsExactly(java.util.Arrays.copyOfRange(res.logits(), b * k, (b + 1) * k));
                    }
                }
                float[] none = m.forward(px, batch, TokenReducer.NONE, false).logits();
                assertThat(m.forward(px, batch, Methods.parse("tome:r=0", cfg), false).logits()).containsExactly(none);
            }
        }
    }

    static ViTConfig randomConfig(SplittableRandom r) {
        int patch = 4, grid = 3 + r.nextInt(5), gridW = 3 + r.nextInt(5);
        int heads = 1 + r.nextInt(3), hd = 4 + r.nextInt(9);
        boolean cls = r.nextInt(5) > 0, dist = cls && r.nextInt(3) == 0;
        ViTConfig.Pool pool = !dist && r.nextInt(4) == 0 ? ViTConfig.Pool.MAP : !cls || r.nextBoolean() ? ViTConfig.Pool.AVG : ViTConfig.Pool.TOKEN;
        // encoder details too: registers (DINOv2), position embedding on patches only, LayerScale, norm_pre, QuickGELU, SwiGLU
        int regs = cls && !dist && r.nextInt(3) == 0 ? 1 + r.nextInt(4) : 0;
        return new ViTConfig("rand", grid * patch, gridW * patch, patch, 3, heads * hd, 1 + r.nextInt(5), heads,
                8 + r.nextInt(40), r.nextBoolean(), cls, dist, pool, pool == ViTConfig.Pool.AVG, 3 + r.nextInt(5), 1e-6f,
                regs, r.nextInt(3) == 0, r.nextInt(3) == 0, r.nextInt(3) == 0,
                act(r.nextInt(ACTS.length), pool));
    }

    /** The drawn activation, GELU where SwiGLU meets the attention pool (refused: no tower has both). */
    private static ViTConfig.Act act(int draw, ViTConfig.Pool pool) {
        return pool == ViTConfig.Pool.MAP && ACTS[draw] == ViTConfig.Act.SWIGLU ? ViTConfig.Act.GELU : ACTS[draw];
    }

    /** GELU twice as often as QuickGELU (CLIP) and SwiGLUPacked (DINOv2 giant). */
    private static final ViTConfig.Act[] ACTS = {ViTConfig.Act.GELU, ViTConfig.Act.GELU, ViTConfig.Act.QUICK_GELU, ViTConfig.Act.SWIGLU};

    /**
     * At batch 1 the reducers split one image's matching, window matching and merging across the
     * pool; on a DeiT-sized token count (197, head dim 64, above the parallel threshold) the
     * result must be the single-threaded one bit for bit, tokens and source maps included.
     */
    @Test
    void batchOneGivesTheSameBitsOnOneAndTwoThreads() {
        ViTConfig c = new ViTConfig("t", 56, 56, 4, 3, 128, 4, 2, 256, true, true, false, ViTConfig.Pool.TOKEN, false, 10, 1e-6f);
        StateDict sd = HashInit.stateDict(c, 11, 2.0);
        float[] px = HashInit.pixels(c, 1, 12);
        String[] specs = {"tome:r=13", "tome:r=40", "ppt:r=30,layers=1/2,threshold=1", "ppt:r=30,layers=1,threshold=0",
                "lgtm:dense=1,r=13,switch=2", "lgtm:dense=0,r=24,switch=3"};
        try (VisionTransformer one = VisionTransformer.create(c, null, null, sd, 1, "t");
             VisionTransformer two = VisionTransformer.create(c, null, null, sd, 2, "t")) {
            for (String spec : specs) {
                TokenReducer red = Methods.parse(spec, c);
                VisionTransformer.Result a = one.forward(px, 1, red, true), b = two.forward(px, 1, red, true);
                assertThat(b.logits()).as(spec).containsExactly(a.logits());
                assertThat(b.trace().tokensEnteringBlocks(0)).as(spec).containsExactly(a.trace().tokensEnteringBlocks(0));
                assertThat(b.trace().tokensEnteringBlocks(0)[c.depth() - 1]).as(spec + " reduces").isLessThan(197);
                assertThat(b.trace().sourceAfter(c.depth() - 1)).as(spec).isDeepEqualTo(a.trace().sourceAfter(c.depth() - 1));
            }
        }
        // the matching itself, split or not
        SplittableRandom r = new SplittableRandom(3);
        float[] metric = new float[197 * 64];
        for (int i = 0; i < metric.length; i++) metric[i] = (float) r.nextGaussian();
        try (Parallel par = Parallel.create(2)) {
            for (int rr : new int[] {1, 13, 60, 98}) {
                assertThat(ToMe.match(par, metric, 0, 197, 64, rr, 1))
                        .containsExactly(ToMe.match(metric, 0, 197, 64, rr, 1));
            }
        }
    }

    @Test
    void invariantsHoldForRandomModelsAndSchedules() {
        SplittableRandom r = new SplittableRandom(2024);
        for (int iter = 0; iter < 60; iter++) {
            ViTConfig cfg = randomConfig(r);
            StateDict sd = HashInit.stateDict(cfg, iter, 2.0);
            int batch = 1 + r.nextInt(3);
            float[] px = HashInit.pixels(cfg, batch, 1000 + iter);
            StringBuilder sched = new StringBuilder();
            for (int k = 0; k < cfg.depth(); k++) sched.append(k > 0 ? "/" : "").append(r.nextInt(12));
            List<String> specs = new ArrayList<>(List.of("tome:schedule=" + sched, "tome:r=" + r.nextInt(9) + ",schedule=decreasing",
                    "random:schedule=" + sched + ",seed=" + iter));
            if (cfg.classToken()) {
                specs.add("topk:r=" + r.nextInt(6) + ",fuse=" + r.nextBoolean());
                specs.add("ppt:r=" + (1 + r.nextInt(5)) + ",layers=0,threshold=" + (r.nextBoolean() ? "0" : "1"));
                if (!cfg.distToken()) specs.add("ltmp:merge=" + (0.3 + 0.5 * r.nextDouble()) + ",prune=" + (0.05 * r.nextDouble()));
            }
            if (cfg.gridH() % 2 == 0 && cfg.gridW() % 2 == 0) {
                int dense = r.nextInt(cfg.depth());
                specs.add("lgtm:r=" + r.nextInt(8) + ",dense=" + dense + ",switch=" + (dense + r.nextInt(cfg.depth() - dense + 1)));
            }
            try (VisionTransformer m = VisionTransformer.create(cfg, null, null, sd, 1 + r.nextInt(2), "rand")) {
                for (String spec : specs) {
                    TokenReducer base = Methods.parse(spec, cfg);
                    Checked chk = new Checked(base, cfg.classToken() ? 1 + cfg.regTokens() : 0);
                    VisionTransformer.Result res = m.forward(px, batch, chk, true);
                    assertThat(chk.failures).as(cfg + " " + spec).isEmpty();
                    for (float v : res.logits()) assertThat(Float.isFinite(v)).isTrue();
                    if (base instanceof ToMe) {
                        int[] rs = ((ToMe) base).schedule();
                        int prot = cfg.numPrefix();
                        for (int b = 0; b < batch; b++) {
                            int n = cfg.numTokens();
                            for (int k = 0; k < cfg.depth(); k++) {
                                assertThat(res.trace().attnTokens(b, k)).isEqualTo(n);
                                n -= Math.max(0, Math.min(rs[k], (n - prot) / 2));
                                assertThat(chk.counts.get(k)[b]).as("%s block %d", spec, k).isEqualTo(n);
                            }
                        }
                    }
                }
                // r = 0 is exactly `none`
                float[] none = m.forward(px, batch, TokenReducer.NONE, false).logits();
                assertThat(m.forward(px, batch, Methods.parse("tome:r=0", cfg), false).logits()).containsExactly(none);
            }
        }
    }

    @Test
    void prefixRowsAreCopiedBitForBit() {
        int c = 20, n = 31;
        float[] x = new float[2 * n * c];
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        float[] metric = new float[2 * n * 8];
        for (int i = 0; i < metric.length; i++) metric[i] = (float) r.nextGaussian();
        TokenState s = new TokenState(2, c, 2, n, 5, x.clone(), new int[] {0, n, 2 * n}, true, Parallel.serial());
        Plan p = Plan.forState(s);
        for (int b = 0; b < 2; b++) {
            int[] a = ToMe.match(metric, b * n * 8, n, 8, 7, 2);
            for (int i = 0; i < n; i++) p.send(b * n + i, a[i]);
            p.count(b, a[n]);
        }
        p.markMerges();
        PlanApplier.apply(Parallel.serial(), s, p, new float[2 * n * c]);
        for (int b = 0; b < 2; b++) {
            for (int q = 0; q < 2; q++) {
                for (int j = 0; j < c; j++) assertThat(s.x()[(s.offset(b) + q) * c + j]).isEqualTo(x[(b * n + q) * c + j]);
                assertThat(s.size(s.offset(b) + q)).isEqualTo(1f);
            }
            assertThat(s.count(b)).isEqualTo(n - 7);
        }
    }

    @Test
    void badSpecsAreOneLineErrorsListingWhatIsValid() {
        ViTConfig cfg = new ViTConfig("t", 16, 16, 4, 3, 16, 3, 2, 32, true, true, false, ViTConfig.Pool.TOKEN, false, 3, 1e-6f);
        String[][] cases = {
                {"tome:r=-1", "r must be >= 0"},
                {"tome:q=3", "unknown knob \"q\" for tome; valid: r, schedule, inflect, prop_attn, pool"},
                {"tome:schedule=1/2/3/4", "schedule has 4 entries but the model has 3 blocks"},
                {"tome:r=3,schedule=sideways", "schedule must be constant, decreasing, increasing"},
                {"tome:r=x", "r must be an integer"},
                {"tome:r=2,prop_attn=maybe", "prop_attn must be true or false"},
                {"nope:r=1", "unknown method \"nope\"; valid: none, tome, random, topk"},
                {"tome:r", "expected knob=value"},
                {"tome", "tome needs r=N"},
                {"ppt:layers=1/5", "layer 5 is outside the model's blocks 0..2"},
                {"ppt:layers=1/1", "layer 1 is listed twice"},
                {"ppt:r=17,layers=0", "r=17 is more than the 16 non-class tokens left at layer 0"},
                {"ppt:threshold=-1", "threshold must be >= 0"},
                {"lgtm:r=2,windows=3x3", "windows 3x3 do not fit the 4x4 patch grid"},
                {"lgtm:r=2,windows=big", "windows must look like 2x2"},
                {"lgtm:r=2,dense=2,switch=1", "switch must be in 2..3"},
                {"lgtm:dense=1", "lgtm needs r=N"},
        };
        for (String[] c : cases) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> Methods.parse(c[0], cfg))
                    .isInstanceOf(io.vitrim.VitrimException.class)
                    .hasMessageStartingWith("--reduce " + c[0])
                    .hasMessageContaining(c[1]);
        }
    }
}
