package io.vitrim.model;

import io.vitrim.VitrimException;
import io.vitrim.engine.Attention;
import io.vitrim.engine.Gemm;
import io.vitrim.engine.Im2Col;
import io.vitrim.engine.LayerNorm;
import io.vitrim.engine.PackedMatrix;
import io.vitrim.engine.Parallel;
import io.vitrim.reduce.BlockProbes;
import io.vitrim.reduce.Plan;
import io.vitrim.reduce.PlanApplier;
import io.vitrim.reduce.ProbeCollector;
import io.vitrim.reduce.Probe;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.reduce.TokenState;
import io.vitrim.reduce.Trace;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * timm's {@code VisionTransformer} for inference (algorithms.md §0.2): patch embedding, class
 * (and distillation) token, position embedding, pre-norm blocks, final norm or {@code fc_norm},
 * token or average pooling, linear head(s). Weights are packed once at construction.
 *
 * <p>Thread-safe: concurrent {@link #forward} calls each borrow their own workspace.
 */
public final class VisionTransformer implements AutoCloseable {

    /** One block's weights, named as the checkpoint keys. */
    record Block(float[] norm1W, float[] norm1B, PackedMatrix qkv, PackedMatrix proj,
                 float[] norm2W, float[] norm2B, PackedMatrix fc1, PackedMatrix fc2) {}

    private final ViTConfig config;
    private final PreprocessConfig preprocess;
    private final List<String> labels;
    private final Parallel par;
    private final boolean ownsPool;

    private final PackedMatrix patchEmbed; // [3·P·P → C]
    private final float[] clsToken;       // [C] or null
    private final float[] distToken;      // [C] or null
    private final float[] posEmbed;       // [N0, C]
    private final Block[] blocks;
    private final float[] normW, normB;   // `norm` or `fc_norm` [C]
    private final PackedMatrix head;      // [C → K]
    private final PackedMatrix headDist;  // [C → K] or null

    private final ConcurrentLinkedDeque<Workspace> workspaces = new ConcurrentLinkedDeque<>();

    private VisionTransformer(ViTConfig config, PreprocessConfig preprocess, List<String> labels, StateDict sd,
                              Parallel par, boolean ownsPool) {
        this.config = config;
        this.preprocess = preprocess;
        this.labels = labels;
        this.par = par;
        this.ownsPool = ownsPool;
        int c = config.embedDim(), p = config.patchSize();
        this.patchEmbed = linear(sd, "patch_embed.proj", c, 3 * p * p);
        this.clsToken = config.classToken() ? sd.get("cls_token").data() : null;
        this.distToken = config.distToken() ? sd.get("dist_token").data() : null;
        this.posEmbed = sd.get("pos_embed").data();
        this.blocks = new Block[config.depth()];
        int h = config.mlpHidden();
        for (int i = 0; i < blocks.length; i++) {
            String b = "blocks." + i + ".";
            blocks[i] = new Block(
                    sd.get(b + "norm1.weight").data(), sd.get(b + "norm1.bias").data(),
                    linear(sd, b + "attn.qkv", 3 * c, c), linear(sd, b + "attn.proj", c, c),
                    sd.get(b + "norm2.weight").data(), sd.get(b + "norm2.bias").data(),
                    linear(sd, b + "mlp.fc1", h, c), linear(sd, b + "mlp.fc2", c, h));
        }
        String norm = config.fcNorm() ? "fc_norm" : "norm";
        this.normW = sd.get(norm + ".weight").data();
        this.normB = sd.get(norm + ".bias").data();
        this.head = linear(sd, "head", config.numClasses(), c);
        this.headDist = config.distToken() ? linear(sd, "head_dist", config.numClasses(), c) : null;
    }

    private static PackedMatrix linear(StateDict sd, String name, int out, int in) {
        StateDict.Tensor w = sd.get(name + ".weight");
        StateDict.Tensor b = sd.get(name + ".bias");
        return PackedMatrix.ofLinearWeight(w.data(), out, in, b == null ? null : b.data());
    }

    /**
     * Builds a model from timm-named weights (checked strictly against the config).
     *
     * @param threads threads for the forward pass (≥ 1); the model owns and closes its pool
     */
    public static VisionTransformer create(ViTConfig config, PreprocessConfig preprocess, List<String> labels,
                                           StateDict weights, int threads, Object source) {
        config.validate(source);
        VitKeys.check(config, weights, source);
        if (labels != null && labels.size() != config.numClasses()) {
            throw VitrimException.of(source, labels.size() + " label names for " + config.numClasses() + " classes");
        }
        return new VisionTransformer(config, preprocess, labels, weights, Parallel.create(threads), true);
    }

    public ViTConfig config() {
        return config;
    }

    public PreprocessConfig preprocess() {
        return preprocess;
    }

    /** Class names, or null when the checkpoint has none. */
    public List<String> labels() {
        return labels;
    }

    public int threads() {
        return par.threads();
    }

    /** Logits [B, K] and what happened to the tokens. */
    public record Result(float[] logits, int batch, int numClasses, Trace trace) {
        public float[] logits(int b) {
            return java.util.Arrays.copyOfRange(logits, b * numClasses, (b + 1) * numClasses);
        }
    }

    /**
     * Runs the model on normalised pixels {@code [B, 3, H, W]} (row-major).
     *
     * @param reducer     token reduction ({@link TokenReducer#NONE} for none)
     * @param trackSource keep the map from original patches to final tokens (visualisation)
     */
    public Result forward(float[] pixels, int batch, TokenReducer reducer, boolean trackSource) {
        int hw = config.imgHeight() * config.imgWidth();
        if (batch < 1 || pixels.length != (long) batch * 3 * hw) {
            throw new IllegalArgumentException("expected " + batch + "x3x" + config.imgHeight() + "x" + config.imgWidth()
                    + " pixels, got " + pixels.length + " values");
        }
        Workspace ws = workspaces.pollFirst();
        if (ws == null) ws = new Workspace();
        try {
            return run(ws, pixels, batch, reducer, trackSource);
        } finally {
            workspaces.addFirst(ws);
        }
    }

    private Result run(Workspace ws, float[] pixels, int batch, TokenReducer reducer, boolean trackSource) {
        final int c = config.embedDim(), n0 = config.numTokens();
        ws.ensure(batch * n0, c, config.mlpHidden(), config.numPatches() * batch, 3 * config.patchSize() * config.patchSize());
        int[] offsets = new int[batch + 1];
        for (int b = 0; b <= batch; b++) offsets[b] = b * n0;
        Trace trace = new Trace(batch, config.depth());
        long start = System.nanoTime();
        embed(pixels, batch, ws);
        long t0 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.EMBED, t0 - start);
        TokenState s = new TokenState(batch, c, config.numPrefix(), n0, config.gridW(), ws.x1, offsets,
                trackSource || reducer.needsSource(), par);
        float[] spare = ws.x2;
        for (int i = 0; i < blocks.length; i++) {
            spare = block(i, s, ws, spare, reducer, trace);
            // copies of the source map only when the caller asked (LGTM tracks it for its windows anyway)
            if (trackSource) trace.recordSource(i, s);
        }
        long h0 = System.nanoTime();
        float[] logits = head(s, reducer.sizeWeightedPool());
        trace.addPhaseNanos(Trace.Phase.HEAD, System.nanoTime() - h0);
        if (trackSource) trace.finish(s);
        trace.setForwardNanos(System.nanoTime() - start);
        ws.x1 = s.x();
        ws.x2 = spare;
        return new Result(logits, batch, config.numClasses(), trace);
    }

    /** Patch embedding + tokens + position embedding into {@code ws.x}. */
    private void embed(float[] pixels, int batch, Workspace ws) {
        final int c = config.embedDim(), p = config.patchSize(), gh = config.gridH(), gw = config.gridW();
        final int imgH = config.imgHeight(), imgW = config.imgWidth(), kdim = 3 * p * p, np = gh * gw;
        final int prefix = config.numPrefix(), n0 = config.numTokens();
        float[] cols = ws.cols;
        Im2Col.patches(par, pixels, batch, imgH, imgW, p, cols);
        float[] patches = ws.hidden;
        Gemm.gemm(par, cols, 0, kdim, batch * np, patchEmbed, patches, 0, c, Gemm.Mode.SET);
        float[] x = ws.x1;
        par.forEach(batch, b -> {
            int base = b * n0 * c;
            if (clsToken != null) add(clsToken, 0, posEmbed, 0, x, base, c);
            if (distToken != null) add(distToken, 0, posEmbed, c, x, base + c, c);
            for (int q = 0; q < np; q++) {
                add(patches, (b * np + q) * c, posEmbed, (prefix + q) * c, x, base + (prefix + q) * c, c);
            }
        });
    }

    private static void add(float[] a, int ao, float[] b, int bo, float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) out[oo + i] = a[ao + i] + b[bo + i];
    }

    /** One pre-norm block with the two reduction hooks; returns the spare row buffer. */
    private float[] block(int i, TokenState s, Workspace ws, float[] spare, TokenReducer reducer, Trace trace) {
        final Block w = blocks[i];
        final int c = config.embedDim(), heads = config.numHeads(), hidden = config.mlpHidden();
        final float eps = config.normEps();
        trace.recordCounts(i, s, false);
        int t = s.total();
        float[] x = s.x();
        // x ← x + proj(MHSA(LN1(x)))
        long t0 = System.nanoTime();
        LayerNorm.forward(par, x, 0, c, t, c, w.norm1W(), w.norm1B(), eps, ws.ln, 0, c, null, null);
        long t1 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.NORM, t1 - t0);
        Gemm.gemm(par, ws.ln, 0, c, t, w.qkv(), ws.qkv, 0, 3 * c, Gemm.Mode.SET);
        long t2 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.QKV, t2 - t1);
        Set<Probe> wanted = reducer.probes(i);
        Attention.Probes ap = null;
        if (wanted.contains(Probe.CLS_ATTENTION) || wanted.contains(Probe.ATTENTION_RECEIVED)) {
            ap = new Attention.Probes();
            if (wanted.contains(Probe.CLS_ATTENTION)) ap.clsRow = new float[t * heads];
            if (wanted.contains(Probe.ATTENTION_RECEIVED)) ap.received = new float[t * heads];
        }
        float[] keyBias = null;
        if (reducer.proportionalAttention() && s.size() != null) {
            keyBias = new float[t];
            float[] size = s.size();
            for (int j = 0; j < t; j++) keyBias[j] = (float) Math.log(size[j]);
        }
        Attention.forward(par, ws.qkv, s.offsets(), s.batch(), c, heads, keyBias, ws.attn, ap);
        long t3 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.ATTENTION, t3 - t2);
        Gemm.gemm(par, ws.attn, 0, c, t, w.proj(), x, 0, c, Gemm.Mode.ADD);
        long t4 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.PROJ, t4 - t3);
        // reduction inside the block (timed: the method's own overhead)
        Plan plan = reducer.inBlock(i, s, wanted.isEmpty() ? null : ProbeCollector.collect(par, wanted, s, ws.qkv, ap, heads), trace);
        if (plan != null) spare = PlanApplier.apply(par, s, plan, spare);
        long t5 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.REDUCE, t5 - t4);
        trace.recordCounts(i, s, true);
        t = s.total();
        x = s.x();
        // x ← x + fc2(GELU(fc1(LN2(x))))
        LayerNorm.forward(par, x, 0, c, t, c, w.norm2W(), w.norm2B(), eps, ws.ln, 0, c, null, null);
        long t6 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.NORM, t6 - t5);
        Gemm.gemm(par, ws.ln, 0, c, t, w.fc1(), ws.hidden, 0, hidden, Gemm.Mode.SET_GELU);
        long t7 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.FC1, t7 - t6);
        Gemm.gemm(par, ws.hidden, 0, hidden, t, w.fc2(), x, 0, c, Gemm.Mode.ADD);
        long t8 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.FC2, t8 - t7);
        Plan after = reducer.afterBlock(i, s, trace);
        if (after != null) spare = PlanApplier.apply(par, s, after, spare);
        trace.addPhaseNanos(Trace.Phase.REDUCE, System.nanoTime() - t8);
        return spare;
    }

    /** Norm, pooling and classifier head → logits [B, K]. */
    private float[] head(TokenState s, boolean sizeWeighted) {
        final int c = config.embedDim(), batch = s.batch(), k = config.numClasses(), prefix = config.numPrefix();
        final float eps = config.normEps();
        float[] x = s.x();
        int rowsPerImage = config.distToken() ? 2 : 1;
        float[] feats = new float[batch * rowsPerImage * c];
        if (config.globalPool() == ViTConfig.Pool.TOKEN) {
            for (int b = 0; b < batch; b++) {
                for (int r = 0; r < rowsPerImage; r++) {
                    System.arraycopy(x, (s.offset(b) + r) * c, feats, (b * rowsPerImage + r) * c, c);
                }
            }
            // norm is per token, so normalising the pooled rows equals timm's norm-then-pool
            LayerNorm.forward(par, feats, 0, c, batch * rowsPerImage, c, normW, normB, eps, feats, 0, c, null, null);
        } else {
            if (!config.fcNorm()) {
                LayerNorm.forward(par, x, 0, c, s.total(), c, normW, normB, eps, x, 0, c, null, null);
            }
            for (int b = 0; b < batch; b++) {
                int o = s.offset(b), n = s.count(b);
                double[] acc = new double[c];
                double wsum = 0;
                for (int t = prefix; t < n; t++) {
                    double wt = sizeWeighted ? s.size(o + t) : 1.0;
                    wsum += wt;
                    for (int j = 0; j < c; j++) acc[j] += wt * x[(o + t) * c + j];
                }
                for (int j = 0; j < c; j++) feats[b * c + j] = (float) (acc[j] / wsum);
            }
            if (config.fcNorm()) LayerNorm.forward(par, feats, 0, c, batch, c, normW, normB, eps, feats, 0, c, null, null);
        }
        float[] logits = new float[batch * k];
        if (headDist == null) {
            Gemm.gemm(par, feats, 0, c, batch, head, logits, 0, k, Gemm.Mode.SET);
        } else {
            float[] l0 = new float[batch * k], l1 = new float[batch * k];
            Gemm.gemm(par, feats, 0, 2 * c, batch, head, l0, 0, k, Gemm.Mode.SET);
            Gemm.gemm(par, feats, c, 2 * c, batch, headDist, l1, 0, k, Gemm.Mode.SET);
            for (int i = 0; i < logits.length; i++) logits[i] = (l0[i] + l1[i]) / 2f;
        }
        return logits;
    }

    /** Classifies one decoded image (preprocessed with this model's config). */
    public Prediction classify(io.vitrim.image.RgbImage image, TokenReducer reducer) {
        return classify(List.of(image), reducer).get(0);
    }

    /** Classifies one decoded image with a reduction given by spec, e.g. {@code Reduction.tome(13)}. */
    public Prediction classify(io.vitrim.image.RgbImage image, io.vitrim.reduce.Reduction reduction) {
        return classify(image, reduction.bind(config));
    }

    /** Classifies decoded images as one batch. */
    public List<Prediction> classify(List<io.vitrim.image.RgbImage> images, TokenReducer reducer) {
        if (preprocess == null) throw new IllegalStateException("this model has no preprocessing config");
        io.vitrim.image.Preprocessor pre = new io.vitrim.image.Preprocessor(preprocess);
        int per = 3 * config.imgHeight() * config.imgWidth();
        float[] px = new float[images.size() * per];
        for (int i = 0; i < images.size(); i++) pre.toTensor(images.get(i), px, i * per);
        return predictions(forward(px, images.size(), reducer, false));
    }

    /** Per-image predictions of a forward result. */
    public List<Prediction> predictions(Result r) {
        List<Prediction> out = new java.util.ArrayList<>();
        for (int b = 0; b < r.batch(); b++) {
            out.add(new Prediction(r.logits(b), labels, r.trace().tokensEnteringBlocks(b), r.trace().decisions(b)));
        }
        return out;
    }

    /** Reusable activation buffers of one forward pass. */
    private static final class Workspace {
        float[] x1 = new float[0], x2 = new float[0], ln = new float[0], qkv = new float[0], attn = new float[0],
                hidden = new float[0], cols = new float[0];

        void ensure(int rows, int c, int hidden, int patchRows, int kdim) {
            if (x1.length < rows * c) x1 = new float[rows * c];
            if (x2.length < rows * c) x2 = new float[rows * c];
            if (ln.length < rows * c) ln = new float[rows * c];
            if (attn.length < rows * c) attn = new float[rows * c];
            if (qkv.length < rows * 3 * c) qkv = new float[rows * 3 * c];
            int h = Math.max(rows * hidden, patchRows * c);
            if (this.hidden.length < h) this.hidden = new float[h];
            if (cols.length < patchRows * kdim) cols = new float[patchRows * kdim];
        }
    }

    @Override
    public void close() {
        workspaces.clear();
        if (ownsPool) par.close();
    }
}
