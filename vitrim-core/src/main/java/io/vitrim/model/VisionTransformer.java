package io.vitrim.model;

import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.VitrimException;
import io.vitrim.engine.Attention;
import io.vitrim.engine.Gemm;
import io.vitrim.engine.Im2Col;
import io.vitrim.engine.LayerNorm;
import io.vitrim.engine.Parallel;
import io.vitrim.reduce.Methods;
import io.vitrim.reduce.PlanApplier;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.reduce.TokenState;
import io.vitrim.reduce.Trace;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * timm's {@code VisionTransformer} (docs/design.md §2): patch embedding,
 * class (and distillation) token, position embedding, pre-norm {@link Block}s, final norm or
 * {@code fc_norm}, token or average pooling, linear head(s). The one model definition: inference
 * ({@link #forward}) and training ({@link #forward(Tape, float[], TokenReducer)} +
 * {@link #backward}) run the same blocks, reducers and head. Field names follow the checkpoint
 * keys; weights are bound once by {@link WeightBinder}.
 *
 * <p>Thread-safe for inference: concurrent {@link #forward} calls each borrow their own
 * workspace. Training is single-caller and changes the weights in place ({@link #weightsChanged}).
 */
public final class VisionTransformer implements AutoCloseable {
    private final ViTConfig config;
    private final PreprocessConfig preprocess;
    private final List<String> labels;
    private final Parallel par;
    private final boolean ownsPool;
    private final WeightBinder.Weights weights;
    private final Object source;              // where the weights came from, for messages

    private final Linear patchEmbed;      // patch_embed.proj: [C, 3·P·P]
    private final Param clsToken;         // [1, 1, C] or null
    private final Param regToken;         // [1, R, C] or null
    private final Param distToken;        // [1, 1, C] or null
    private final Param posEmbed;         // [1, N0, C], or [1, patches, C] without the prefix (no_embed_class)
    private final Param normPreWeight, normPreBias; // `norm_pre` [C] or null (CLIP)
    private final Block[] blocks;
    private final Param normWeight, normBias; // `norm` or `fc_norm` [C]
    private final Linear head;            // [K, C], or null without a head (num_classes 0: features)
    private final Linear headDist;        // [K, C] or null
    private final AttentionPool attnPool; // `attn_pool` (global_pool map) or null
    private final io.vitrim.engine.Rope rope; // EVA's rotary position embedding for this grid, or null
    private final io.vitrim.config.SegmentationConfig segmentation; // the task of a segmentation model, or null
    private final Linear decoderHead;     // `decoder.head` [K, C] of a segmentation model, or null
    private Map<String, String> methodDefaults = Map.of();

    private final ConcurrentLinkedDeque<Workspace> workspaces = new ConcurrentLinkedDeque<>();

    private VisionTransformer(ViTConfig config, PreprocessConfig preprocess, List<String> labels, WeightBinder.Weights w,
                              Parallel par, boolean ownsPool, Object source, io.vitrim.config.SegmentationConfig segmentation) {
        this.source = source;
        this.segmentation = segmentation;
        this.decoderHead = segmentation == null ? null : new Linear(w.task().get("decoder.head.weight"), w.task().get("decoder.head.bias"));
        this.config = config;
        this.preprocess = preprocess;
        this.labels = labels;
        this.par = par;
        this.ownsPool = ownsPool;
        this.weights = w;
        this.patchEmbed = linear(w, "patch_embed.proj");
        this.clsToken = config.classToken() ? w.get("cls_token") : null;
        this.regToken = config.regTokens() > 0 ? w.get("reg_token") : null;
        this.distToken = config.distToken() ? w.get("dist_token") : null;
        this.posEmbed = w.get("pos_embed");
        this.normPreWeight = config.preNorm() ? w.get("norm_pre.weight") : null;
        this.normPreBias = config.preNorm() ? w.get("norm_pre.bias") : null;
        this.blocks = new Block[config.depth()];
        ViTConfig.Eva eva = config.eva();
        this.rope = eva != null && eva.rope() ? new io.vitrim.engine.Rope(config.headDim(), config.gridH(), config.gridW(),
                eva.ropeRefH(), eva.ropeRefW(), eva.ropeTemperature()) : null;
        for (int i = 0; i < blocks.length; i++) {
            String b = "blocks." + i + ".";
            if (eva != null) {
                blocks[i] = evaBlock(i, w, config, rope);
                continue;
            }
            blocks[i] = new Block(i, w.get(b + "norm1.weight"), w.get(b + "norm1.bias"),
                    linear(w, b + "attn.qkv"), linear(w, b + "attn.proj"),
                    w.get(b + "norm2.weight"), w.get(b + "norm2.bias"),
                    linear(w, b + "mlp.fc1"), linear(w, b + "mlp.fc2"),
                    config.layerScale() ? w.get(b + "ls1.gamma") : null, config.layerScale() ? w.get(b + "ls2.gamma") : null,
                    config.act(), config.numHeads(), config.normEps(), null,
                    config.gated() ? new Block.Swiglu(config.mlpHidden(), null, null) : null);
        }
        String norm = config.fcNorm() ? "fc_norm" : "norm";
        this.normWeight = w.get(norm + ".weight");
        this.normBias = w.get(norm + ".bias");
        this.head = config.numClasses() > 0 ? linear(w, "head") : null;
        this.headDist = config.distToken() ? linear(w, "head_dist") : null;
        this.attnPool = config.globalPool() == ViTConfig.Pool.MAP ? new AttentionPool(w, config) : null;
    }

    private static Linear linear(WeightBinder.Weights w, String name) {
        return new Linear(w.get(name + ".weight"), w.vit().get(name + ".bias"));
    }

    /**
     * Block {@code i} of an EVA model: its q/k/v projections as one [3C, C] layer with bias
     * [q; 0; v] (timm adds a zero k bias too), SwiGLU's gate and value layers as one [2h, C]
     * layer (a packed {@code mlp.fc1} already is one; a GELU MLP's is the plain one); the
     * checkpoint's tensors stay as bound.
     */
    private static Block evaBlock(int i, WeightBinder.Weights w, ViTConfig config, io.vitrim.engine.Rope rope) {
        String b = "blocks." + i + ".";
        ViTConfig.Eva e = config.eva();
        int d = config.embedDim(), h = config.mlpHidden();
        Linear qkv;
        if (e.qkvFused()) {
            float[] bias = new float[3 * d];
            if (config.qkvBias()) {
                System.arraycopy(w.get(b + "attn.q_bias").value, 0, bias, 0, d);
                System.arraycopy(w.get(b + "attn.v_bias").value, 0, bias, 2 * d, d);
            }
            qkv = new Linear(w.get(b + "attn.qkv.weight"), config.qkvBias() ? new Param(b + "attn.qkv.bias", new int[] {3 * d}, bias) : null);
        } else {
            qkv = stacked(b + "attn.qkv", d, new Param[] {w.get(b + "attn.q_proj.weight"), w.get(b + "attn.k_proj.weight"), w.get(b + "attn.v_proj.weight")},
                    config.qkvBias() ? new Param[] {w.get(b + "attn.q_proj.bias"), null, w.get(b + "attn.v_proj.bias")} : null);
        }
        Linear fc1 = e.scaleMlp()
                ? stacked(b + "mlp.fc1", d, new Param[] {w.get(b + "mlp.fc1_g.weight"), w.get(b + "mlp.fc1_x.weight")},
                        new Param[] {w.get(b + "mlp.fc1_g.bias"), w.get(b + "mlp.fc1_x.bias")})
                : linear(w, b + "mlp.fc1");
        Block.Eva parts = new Block.Eva(rope,
                e.scaleAttnInner() ? w.get(b + "attn.norm.weight") : null, e.scaleAttnInner() ? w.get(b + "attn.norm.bias") : null,
                e.postNorm());
        Block.Swiglu swiglu = e.swiglu() ? new Block.Swiglu(h,
                e.scaleMlp() ? w.get(b + "mlp.norm.weight") : null, e.scaleMlp() ? w.get(b + "mlp.norm.bias") : null) : null;
        return new Block(i, w.get(b + "norm1.weight"), w.get(b + "norm1.bias"), qkv, linear(w, b + "attn.proj"),
                w.get(b + "norm2.weight"), w.get(b + "norm2.bias"), fc1, linear(w, b + "mlp.fc2"), null, null,
                config.act(), config.numHeads(), config.normEps(), parts, swiglu);
    }

    /** One Linear from weights stacked by output rows, biases likewise (a null bias part is zeros; null biases: no bias). */
    private static Linear stacked(String name, int in, Param[] weights, Param[] biases) {
        int out = 0;
        for (Param p : weights) out += p.shape[0];
        float[] wv = new float[out * in], bv = biases == null ? null : new float[out];
        for (int k = 0, row = 0; k < weights.length; row += weights[k].shape[0], k++) {
            System.arraycopy(weights[k].value, 0, wv, row * in, weights[k].value.length);
            if (bv != null && biases[k] != null) System.arraycopy(biases[k].value, 0, bv, row, biases[k].value.length);
        }
        return new Linear(new Param(name + ".weight", new int[] {out, in}, wv), bv == null ? null : new Param(name + ".bias", new int[] {out}, bv));
    }

    /**
     * Builds a model from timm-named weights (checked strictly against the config; the tensors
     * are used in place, not copied).
     *
     * @param threads threads for the forward pass (≥ 1); the model owns and closes its pool
     */
    public static VisionTransformer create(ViTConfig config, PreprocessConfig preprocess, List<String> labels,
                                           StateDict weights, int threads, Object source) {
        config.validate(source);
        WeightBinder.Weights w = WeightBinder.bind(config, weights, Map.of(), source);
        if (labels != null && labels.size() != config.numClasses()) {
            throw VitrimException.of(source, labels.size() + " label names for " + config.numClasses() + " classes");
        }
        return new VisionTransformer(config, preprocess, labels, w, Parallel.create(threads), true, source, null);
    }

    /**
     * A segmentation model: a ViT without a classifier head ({@code num_classes} 0) and
     * Segmenter's linear decoder ({@code decoder.head}, [K, C]) on every patch token after the
     * final {@code norm}; {@code labels} name the K classes (or null).
     */
    public static VisionTransformer createSegmenter(ViTConfig config, PreprocessConfig preprocess, io.vitrim.config.SegmentationConfig task,
                                                    List<String> labels, StateDict weights, int threads, Object source) {
        config.validate(source);
        if (config.numClasses() != 0) throw VitrimException.of(source, "a segmentation model has no classifier head (num_classes must be 0)");
        if (config.fcNorm() || config.globalPool() == ViTConfig.Pool.MAP) {
            throw VitrimException.of(source, "a segmentation model ends with the per-token norm (no fc_norm, no attention pool)");
        }
        Map<String, int[]> keys = task.decoderKeys(config.embedDim());
        for (String k : keys.keySet()) if (weights.get(k) == null) throw VitrimException.of(source, "segmentation model without " + k);
        WeightBinder.Weights w = WeightBinder.bind(config, weights, keys, source);
        if (labels != null && labels.size() != task.numClasses()) {
            throw VitrimException.of(source, labels.size() + " label names for " + task.numClasses() + " segmentation classes");
        }
        return new VisionTransformer(config, preprocess, labels, w, Parallel.create(threads), true, source, task);
    }

    /** The segmentation task, or null for a classifier or encoder. */
    public io.vitrim.config.SegmentationConfig segmentation() {
        return segmentation;
    }

    /**
     * Per-patch class logits of a segmentation model ({@code [B, K, gridH, gridW]}) and what
     * happened to the tokens; {@link #resized} gives them at any size, {@link #mask} the classes.
     */
    public record Segmentation(float[] gridLogits, int batch, int classes, int gridH, int gridW, Trace trace) {
        /**
         * Image {@code b}'s logits {@code [K, h, w]}, bilinearly resized from the patch grid
         * (PyTorch's {@code interpolate(mode="bilinear", align_corners=False)}).
         */
        public float[] resized(int b, int h, int w) {
            return io.vitrim.engine.Resize.bilinear(gridLogits, b * classes * gridH * gridW, classes, gridH, gridW, h, w);
        }

        /** Image {@code b}'s class per pixel at {@code h × w} (argmax of {@link #resized}; ties: lower class). */
        public int[] mask(int b, int h, int w) {
            float[] l = resized(b, h, w);
            int[] m = new int[h * w];
            for (int i = 0; i < h * w; i++) {
                int best = 0;
                float v = l[i];
                for (int k = 1; k < classes; k++) if (l[k * h * w + i] > v) v = l[(best = k) * h * w + i];
                m[i] = best;
            }
            return m;
        }
    }

    /**
     * Segments normalised pixels {@code [B, 3, H, W]}. {@code reducer} runs as {@link
     * io.vitrim.reduce.Dense} with {@code restore}: its drops are parked and restored, and each
     * patch reads the final token it was merged into.
     */
    public Segmentation segment(float[] pixels, int batch, TokenReducer reducer, io.vitrim.reduce.Dense.Restore restore) {
        if (segmentation == null) throw new VitrimException(source + ": not a segmentation model");
        TokenReducer dense = io.vitrim.reduce.Dense.of(reducer, restore, config.depth());
        Encoding e = encode(pixels, batch, dense, true);
        long h0 = System.nanoTime();
        final int c = config.embedDim(), k = segmentation.numClasses(), gh = config.gridH(), gw = config.gridW();
        final int np = config.numPatches(), prefix = config.numPrefix();
        int rows = e.tokenOffsets()[batch];
        float[] rowLogits = new float[rows * k];
        decoderHead.forward(par, e.tokens(), rows, rowLogits, Gemm.Mode.SET);
        float[] grid = new float[batch * k * np];
        int[][] src = e.source();
        for (int b = 0; b < batch; b++) {
            int o = e.tokenOffsets()[b];
            for (int q = 0; q < np; q++) {
                int r = src[b][prefix + q];
                if (r < 0) throw new IllegalStateException("patch " + q + " of image " + b + " has no final token");
                for (int j = 0; j < k; j++) grid[(b * k + j) * np + q] = rowLogits[(o + r) * k + j];
            }
        }
        e.trace().addPhaseNanos(Trace.Phase.HEAD, System.nanoTime() - h0);
        return new Segmentation(grid, batch, k, gh, gw, e.trace());
    }

    /** The model's worker threads (for work beside the forward pass, e.g. a loss). */
    public Parallel parallel() {
        return par;
    }

    /** The bound weights (ViT, method and task namespaces). */
    public WeightBinder.Weights weights() {
        return weights;
    }

    /**
     * Knobs a method takes from the model folder when a spec leaves them out, by method name
     * (e.g. {@code cropr → rate=8,llf=1} from {@code cropr_cfg}); returns this.
     */
    public VisionTransformer methodDefaults(Map<String, String> defaults) {
        this.methodDefaults = Map.copyOf(defaults);
        return this;
    }

    /** The spec with the model folder's knobs for its method added where it leaves them out. */
    String withDefaults(String spec) {
        if (methodDefaults.isEmpty()) return spec;
        io.vitrim.reduce.Spec given = io.vitrim.reduce.Spec.parse(spec);
        String d = methodDefaults.get(given.method());
        if (d == null) return spec;
        StringBuilder b = new StringBuilder(spec.trim());
        boolean first = !spec.contains(":");
        for (String kv : d.split(",")) {
            String k = kv.substring(0, kv.indexOf('='));
            if (given.has(k)) continue;
            b.append(first ? ":" : ",").append(kv);
            first = false;
        }
        return b.toString();
    }

    /** The reducer for {@code spec}, bound to this model and to the method weights its checkpoint carries. */
    public TokenReducer reducer(String spec) {
        return reducer(spec, Map.of());
    }

    /**
     * As {@link #reducer(String)}, with method weights from elsewhere (a side file, checked by
     * {@link WeightBinder#checkMethodWeights}) taking precedence over the checkpoint's.
     */
    public TokenReducer reducer(String spec, Map<String, float[]> sideWeights) {
        Map<String, float[]> w = weights.methodValues();
        if (!sideWeights.isEmpty()) {
            w = new java.util.LinkedHashMap<>(w);
            w.putAll(sideWeights);
        }
        try {
            return Methods.parse(withDefaults(spec), config, w);
        } catch (VitrimException e) {
            // a method that needs weights this checkpoint lacks: name the checkpoint too
            if (e.getMessage().contains("the checkpoint has no")) throw VitrimException.of(source, e.getMessage());
            throw e;
        }
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

    /** Logits [B, K] (features [B, C] for a model without a head) and what happened to the tokens. */
    public record Result(float[] logits, int batch, int numClasses, Trace trace) {
        public float[] logits(int b) {
            return java.util.Arrays.copyOfRange(logits, b * numClasses, (b + 1) * numClasses);
        }
    }

    /**
     * What an encoder gives: the pooled embedding per image ({@code [B, D]}: the head's output —
     * CLIP's projection — or the pooled, normalised features of a model without a head) and, if
     * asked, the final tokens as timm's {@code forward_features} returns them (after the final
     * {@code norm}; raw when the model pools with {@code fc_norm}), rows of image {@code b} at
     * {@code [tokenOffsets[b], tokenOffsets[b+1])}, prefix tokens first; {@code source} maps
     * every original token to its final row within the image (−1 = pruned).
     */
    public record Encoding(float[] embeddings, int batch, int dim, float[] tokens, int[] tokenOffsets, int[][] source, Trace trace) {
        public float[] embedding(int b) {
            return java.util.Arrays.copyOfRange(embeddings, b * dim, (b + 1) * dim);
        }
    }

    /** Encodes normalised pixels {@code [B, 3, H, W]}; see {@link Encoding}. */
    public Encoding encode(float[] pixels, int batch, TokenReducer reducer, boolean tokens) {
        checkOpen();
        checkPixels(pixels, batch);
        Workspace ws = workspaces.pollFirst();
        if (ws == null) ws = new Workspace();
        try {
            float[][] keep = tokens ? new float[1][] : null;
            int[][] offsets = tokens ? new int[1][] : null;
            Result r = run(ws, pixels, batch, reducer, tokens, keep, offsets);
            return new Encoding(r.logits(), batch, config.numOutputs(), tokens ? keep[0] : null, tokens ? offsets[0] : null,
                    tokens ? r.trace().finalSource() : null, r.trace());
        } finally {
            workspaces.addFirst(ws);
        }
    }

    private void checkPixels(float[] pixels, int batch) {
        int hw = config.imgHeight() * config.imgWidth();
        if (batch < 1 || pixels.length != (long) batch * 3 * hw) {
            throw new IllegalArgumentException("expected " + batch + "x3x" + config.imgHeight() + "x" + config.imgWidth()
                    + " pixels, got " + pixels.length + " values");
        }
    }

    /**
     * Runs the model on normalised pixels {@code [B, 3, H, W]} (row-major).
     *
     * @param reducer     token reduction ({@link TokenReducer#NONE} for none)
     * @param trackSource keep the map from original patches to final tokens (visualisation)
     */
    public Result forward(float[] pixels, int batch, TokenReducer reducer, boolean trackSource) {
        checkOpen();
        checkPixels(pixels, batch);
        Workspace ws = workspaces.pollFirst();
        if (ws == null) ws = new Workspace();
        try {
            return run(ws, pixels, batch, reducer, trackSource, null, null);
        } finally {
            workspaces.addFirst(ws);
        }
    }

    /** @param keepTokens if not null, receives the final (normalised) tokens; {@code keepOffsets} their per-image offsets */
    private Result run(Workspace ws, float[] pixels, int batch, TokenReducer reducer, boolean trackSource,
                       float[][] keepTokens, int[][] keepOffsets) {
        final int c = config.embedDim(), n0 = config.numTokens();
        // the widest activation buffer (the MLP's first layer, or q/k/v) must stay a Java array
        long perImage = (long) n0 * Math.max(config.fc1Width(), 3 * c), limit = Integer.MAX_VALUE - 16;
        if (batch * perImage > limit) {
            throw VitrimException.of(source, "batch " + batch + " is too large for this model (" + n0 + " tokens, MLP width "
                    + config.fc1Width() + "): use a batch of at most " + limit / perImage);
        }
        ws.ensure(batch * n0, c, config.fc1Width(), config.numPatches() * batch, 3 * config.patchSize() * config.patchSize());
        Trace trace = new Trace(batch, config.depth());
        long start = System.nanoTime();
        embed(pixels, batch, ws.cols, ws.block.hidden, ws.x1);
        long t0 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.EMBED, t0 - start);
        TokenState s = new TokenState(batch, c, config.numPrefix(), n0, config.gridW(), ws.x1, fullOffsets(batch),
                trackSource || reducer.needsSource(), rope == null ? null : gridPositions(batch), par);
        float[] spare = ws.x2;
        for (Block block : blocks) {
            spare = block.forward(par, s, ws.block, null, spare, reducer, trace);
            // copies of the source map only when the caller asked (LGTM tracks it for its windows anyway)
            if (trackSource) trace.recordSource(block.index, s);
        }
        if (reducer.restoreAtOutput()) spare = PlanApplier.restore(par, s, spare, null);
        if (keepTokens != null) {
            int rows = s.total();
            float[] t = java.util.Arrays.copyOf(s.x(), rows * c);
            if (!config.fcNorm()) LayerNorm.forward(par, t, 0, c, rows, c, normWeight.value, normBias.value, config.normEps(), t, 0, c, null, null);
            keepTokens[0] = t;
            keepOffsets[0] = s.offsets().clone();
        }
        long h0 = System.nanoTime();
        float[] feats = new float[batch * (config.distToken() ? 2 : 1) * c];
        if (attnPool != null) {
            // MAP: the final norm on every token, then the attention pool (merged tokens weighted like the blocks do)
            LayerNorm.forward(par, s.x(), 0, c, s.total(), c, normWeight.value, normBias.value, config.normEps(), s.x(), 0, c, null, null);
            feats = attnPool.forward(par, s.x(), s.offsets(), reducer.proportionalAttention() ? s.size() : null, config.numPrefix(), batch);
        } else {
            pool(s.x(), s.offsets(), s.size(), batch, reducer.sizeWeightedPool(), poolFrom(reducer), feats, null, null);
        }
        float[] logits = classify(feats, batch);
        trace.addPhaseNanos(Trace.Phase.HEAD, System.nanoTime() - h0);
        if (trackSource) trace.finish(s);
        trace.setForwardNanos(System.nanoTime() - start);
        ws.x1 = s.x();
        ws.x2 = spare;
        return new Result(logits, batch, config.numOutputs(), trace);
    }

    /** Every token's RoPE position before any reduction: (row, column) of its patch, NaN for prefix tokens (not rotated, as timm). */
    private float[] gridPositions(int batch) {
        final int n0 = config.numTokens(), prefix = config.numPrefix(), gw = config.gridW();
        float[] pos = new float[2 * batch * n0];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < n0; t++) {
                int o = 2 * (b * n0 + t), q = t - prefix;
                pos[o] = q < 0 ? Float.NaN : q / gw;
                pos[o + 1] = q < 0 ? Float.NaN : q % gw;
            }
        }
        return pos;
    }

    private int[] fullOffsets(int batch) {
        int[] offsets = new int[batch + 1];
        for (int b = 0; b <= batch; b++) offsets[b] = b * config.numTokens();
        return offsets;
    }

    /**
     * Patch embedding, prefix tokens {@code [cls, reg…, dist]} and position embedding into
     * {@code x [B·N0, C]}, then {@code norm_pre} if the model has it. As timm: the position
     * embedding is added to every token, or with {@code no_embed_class} to the patches only.
     */
    private void embed(float[] pixels, int batch, float[] cols, float[] patches, float[] x) {
        final int c = config.embedDim(), p = config.patchSize(), np = config.numPatches();
        final int prefix = config.numPrefix(), n0 = config.numTokens(), regs = config.regTokens();
        final int posOffset = config.noEmbedClass() ? -prefix : 0; // pos row of token t: t + posOffset
        Im2Col.patches(par, pixels, batch, config.imgHeight(), config.imgWidth(), p, cols);
        patchEmbed.forward(par, cols, batch * np, patches, Gemm.Mode.SET);
        final float[] pos = posEmbed.value;
        par.forEach(batch, b -> {
            int base = b * n0 * c, t = 0;
            if (clsToken != null) prefixRow(clsToken.value, 0, pos, t++, posOffset, x, base, c);
            for (int r = 0; r < regs; r++) prefixRow(regToken.value, r * c, pos, t++, posOffset, x, base, c);
            if (distToken != null) prefixRow(distToken.value, 0, pos, t++, posOffset, x, base, c);
            for (int q = 0; q < np; q++) {
                int o = base + (prefix + q) * c, a = (b * np + q) * c, pr = (prefix + q + posOffset) * c;
                for (int j = 0; j < c; j++) x[o + j] = patches[a + j] + pos[pr + j];
            }
        });
        if (normPreWeight != null) {
            LayerNorm.forward(par, x, 0, c, batch * n0, c, normPreWeight.value, normPreBias.value, config.normEps(), x, 0, c, null, null);
        }
    }

    /** Prefix token {@code t} of one image: its parameter row, plus its position row if it has one. */
    private static void prefixRow(float[] tok, int to, float[] pos, int t, int posOffset, float[] x, int base, int c) {
        int o = base + t * c, pr = (t + posOffset) * c;
        for (int j = 0; j < c; j++) x[o + j] = tok[to + j] + (pr >= 0 ? pos[pr + j] : 0f);
    }

    /**
     * Final norm and pooling of the last tokens into {@code feats} ([B, C], or [B, 2, C] with a
     * distillation token): token pooling normalises the pooled rows (the norm is per token, so
     * this equals timm's norm-then-pool); average pooling means the patch tokens (each once, or
     * size-weighted), then {@code fc_norm}. With {@code pooledIn} (training) the rows before the
     * norm and the norm's statistics are kept.
     */
    private void pool(float[] x, int[] offsets, float[] size, int batch, boolean sizeWeighted, int from, float[] feats,
                      float[] pooledIn, float[][] stats) {
        final int c = config.embedDim();
        final float eps = config.normEps();
        int rowsPerImage = config.distToken() ? 2 : 1;
        float[] in = pooledIn != null ? pooledIn : feats;
        if (config.globalPool() == ViTConfig.Pool.TOKEN) {
            for (int b = 0; b < batch; b++) {
                for (int r = 0; r < rowsPerImage; r++) System.arraycopy(x, (offsets[b] + r) * c, in, (b * rowsPerImage + r) * c, c);
            }
            LayerNorm.forward(par, in, 0, c, batch * rowsPerImage, c, normWeight.value, normBias.value, eps, feats, 0, c,
                    stats == null ? null : stats[0], stats == null ? null : stats[1]);
            return;
        }
        if (!config.fcNorm()) {
            LayerNorm.forward(par, x, 0, c, offsets[batch], c, normWeight.value, normBias.value, eps, x, 0, c, null, null);
        }
        for (int b = 0; b < batch; b++) {
            int o = offsets[b], n = offsets[b + 1] - o;
            double[] acc = new double[c];
            double wsum = 0;
            for (int t = from; t < n; t++) {
                double wt = sizeWeighted && size != null ? size[o + t] : 1.0;
                wsum += wt;
                for (int j = 0; j < c; j++) acc[j] += wt * x[(o + t) * c + j];
            }
            for (int j = 0; j < c; j++) in[b * c + j] = (float) (acc[j] / wsum);
        }
        if (config.fcNorm()) {
            LayerNorm.forward(par, in, 0, c, batch, c, normWeight.value, normBias.value, eps, feats, 0, c,
                    stats == null ? null : stats[0], stats == null ? null : stats[1]);
        }
    }

    /** First token average pooling means: 0 when the reducer pools prefix tokens too (Cropr), else the patches'. */
    private int poolFrom(TokenReducer reducer) {
        return reducer.poolIncludesPrefix() ? 0 : config.numPrefix();
    }

    /** Linear head(s) → logits [B, K]; a distilled model averages its two heads; no head: the features. */
    private float[] classify(float[] feats, int batch) {
        final int c = config.embedDim(), k = config.numClasses();
        if (head == null) return feats;
        float[] logits = new float[batch * k];
        if (headDist == null) {
            head.forward(par, feats, batch, logits, Gemm.Mode.SET);
        } else {
            float[] l0 = new float[batch * k], l1 = new float[batch * k];
            Gemm.gemm(par, feats, 0, 2 * c, batch, head.packed(), l0, 0, k, Gemm.Mode.SET);
            Gemm.gemm(par, feats, c, 2 * c, batch, headDist.packed(), l1, 0, k, Gemm.Mode.SET);
            for (int i = 0; i < logits.length; i++) logits[i] = (l0[i] + l1[i]) / 2f;
        }
        return logits;
    }

    // ------------------------------------------------------------------ training

    /**
     * Activations for training forwards of {@code batch} images. Training supports a class token
     * with token pooling, or average pooling with {@code fc_norm}; not a distillation token.
     */
    public Tape newTape(int batch) {
        checkTrainable(config, segmentation != null, source);
        return new Tape(config, batch);
    }

    /** Fails unless the training graph supports this classifier's shape ({@code where} names it). */
    public static void checkTrainable(ViTConfig config, Object where) {
        checkTrainable(config, false, where);
    }

    /** As {@link #checkTrainable(ViTConfig, Object)}, for a classifier or (no head, per-token decoder) a segmentation model. */
    public static void checkTrainable(ViTConfig config, boolean segmentation, Object where) {
        if (config.distToken()) throw VitrimException.of(where, "training a distilled (dist_token) model is not supported");
        if (config.eva() != null) {
            throw VitrimException.of(where, "training an EVA model (" + config.architecture() + ") is not supported; "
                    + "vitrim runs EVA01/EVA02 for inference only");
        }
        if (!config.plain()) {
            throw VitrimException.of(where, "training supports plain ViT/DeiT blocks only, not register tokens, no_embed_class, "
                    + "LayerScale, norm_pre, QuickGELU or SwiGLU (this model is an encoder for inference)");
        }
        if (segmentation) return; // the decoder reads every token after the final norm: no pooling, no classifier
        if (config.numClasses() == 0) throw VitrimException.of(where, "training needs a classifier head (num_classes > 0)");
        if (config.globalPool() == ViTConfig.Pool.MAP) throw VitrimException.of(where, "training a model with an attention pool (global_pool=map) is not supported");
        if (config.globalPool() == ViTConfig.Pool.AVG && !config.fcNorm()) {
            throw VitrimException.of(where, "training supports global_pool=avg only with fc_norm");
        }
    }

    /**
     * The training forward: the same blocks, reducer and head as {@link #forward}, keeping the
     * activations in {@code tape}; returns logits [B, K] (kept in the tape).
     */
    public float[] forward(Tape tape, float[] pixels, TokenReducer reducer) {
        final int batch = tape.batch;
        TokenState s = forwardBlocks(tape, pixels, reducer);
        tape.finalOffsets = s.offsets();
        tape.finalSize = reducer.sizeWeightedPool() ? s.size() : null;
        // the final rows live in a gradient buffer: pooling copies what its backward needs
        tape.poolFrom = poolFrom(reducer);
        pool(s.x(), s.offsets(), s.size(), batch, reducer.sizeWeightedPool(), tape.poolFrom, tape.feats, tape.pooledIn,
                new float[][] {tape.featMean, tape.featRstd});
        tape.logits = classify(tape.feats, batch);
        return tape.logits;
    }

    /** Embedding and blocks of a training forward (activations into {@code tape}); the final state, parked tokens restored if the reducer asks. */
    private TokenState forwardBlocks(Tape tape, float[] pixels, TokenReducer reducer) {
        checkOpen();
        final int batch = tape.batch, c = config.embedDim();
        if (pixels.length != (long) batch * 3 * config.imgHeight() * config.imgWidth()) {
            throw new IllegalArgumentException("expected " + batch + " images of 3x" + config.imgHeight() + "x" + config.imgWidth());
        }
        Trace trace = new Trace(batch, config.depth());
        Tape.Grads g = tape.grads;
        if (reducer.maskedTraining() != null) reducer.maskedTraining().begin(batch, config.numTokens());
        float[] x = g.dx, spare = g.dxSpare; // free until the backward pass
        embed(pixels, batch, tape.cols, g.dln, x);
        TokenState s = new TokenState(batch, c, config.numPrefix(), config.numTokens(), config.gridW(), x, fullOffsets(batch),
                reducer.needsSource(), par);
        for (int i = 0; i < blocks.length; i++) spare = blocks[i].forward(par, s, null, tape.blocks[i], spare, reducer, trace);
        tape.outputRestore = null;
        if (reducer.restoreAtOutput()) {
            tape.outputRestore = new PlanApplier.Recording();
            PlanApplier.restore(par, s, spare, tape.outputRestore);
        }
        tape.trace = trace;
        return s;
    }

    /**
     * The segmentation training forward: the same blocks and reducer (made {@link
     * io.vitrim.reduce.Dense} with {@code restore}) as {@link #segment}, keeping the activations in
     * {@code tape}; returns the per-patch logits {@code [B, K, gridH, gridW]} (each patch reads
     * the final token it went into).
     */
    public float[] forwardSegment(Tape tape, float[] pixels, TokenReducer reducer, io.vitrim.reduce.Dense.Restore restore) {
        if (segmentation == null) throw new VitrimException(source + ": not a segmentation model");
        final int batch = tape.batch, c = config.embedDim(), k = segmentation.numClasses(), np = config.numPatches(), prefix = config.numPrefix();
        TokenState s = forwardBlocks(tape, pixels, io.vitrim.reduce.Dense.of(reducer, restore, config.depth()));
        Tape.Seg t = tape.seg(k);
        int rows = s.total();
        t.rows = rows;
        t.offsets = s.offsets().clone();
        t.source = java.util.Arrays.stream(s.source()).map(int[]::clone).toArray(int[][]::new);
        // the final rows live in a gradient buffer: the norm's input is copied for its backward
        System.arraycopy(s.x(), 0, t.normIn, 0, rows * c);
        LayerNorm.forward(par, t.normIn, 0, c, rows, c, normWeight.value, normBias.value, config.normEps(), t.normed, 0, c, t.mean, t.rstd);
        decoderHead.forward(par, t.normed, rows, t.rowLogits, Gemm.Mode.SET);
        float[] grid = new float[batch * k * np];
        for (int b = 0; b < batch; b++) {
            int o = t.offsets[b];
            for (int q = 0; q < np; q++) {
                int r = t.source[b][prefix + q];
                if (r < 0) throw new IllegalStateException("patch " + q + " of image " + b + " has no final token");
                for (int j = 0; j < k; j++) grid[(b * k + j) * np + q] = t.rowLogits[(o + r) * k + j];
            }
        }
        tape.logits = grid;
        return grid;
    }

    /**
     * Backward from dL/d(grid logits) {@code [B, K, gridH, gridW]} of the last {@link
     * #forwardSegment}: a merged token collects the gradients of every patch that read it.
     */
    public void backwardSegment(Tape tape, float[] dgrid) {
        final int batch = tape.batch, c = config.embedDim(), np = config.numPatches(), prefix = config.numPrefix();
        Tape.Seg t = tape.seg;
        final int k = segmentation.numClasses(), rows = t.rows;
        float[] drow = t.drowLogits;
        java.util.Arrays.fill(drow, 0, rows * k, 0f);
        for (int b = 0; b < batch; b++) {
            int o = t.offsets[b];
            for (int q = 0; q < np; q++) {
                int r = t.source[b][prefix + q];
                for (int j = 0; j < k; j++) drow[(o + r) * k + j] += dgrid[(b * k + j) * np + q];
            }
        }
        Tape.Grads g = tape.grads;
        decoderHead.backward(par, t.normed, drow, rows, t.dnormed, false, g.scratch);
        LayerNorm.backward(par, t.normIn, c, rows, c, normWeight.value, t.mean, t.rstd, t.dnormed, c, g.dx, c, false,
                normWeight.grad, normBias.grad);
        backwardBlocks(tape);
    }

    /**
     * Backward from dL/dlogits [B, K] of the last {@link #forward(Tape, float[], TokenReducer)}:
     * adds the gradient of every parameter that has one ({@link Param#requireGrad}).
     */
    public void backward(Tape tape, float[] dlogits) {
        final int d = config.embedDim(), batch = tape.batch, prefix = config.numPrefix(), n0 = config.numTokens();
        Tape.Grads g = tape.grads;
        // head and final norm
        float[] dfeat = new float[batch * d];
        head.backward(par, tape.feats, dlogits, batch, dfeat, false, g.scratch);
        float[] dpooled = new float[batch * d];
        LayerNorm.backward(par, tape.pooledIn, d, batch, d, normWeight.value, tape.featMean, tape.featRstd, dfeat, d, dpooled, d,
                false, normWeight.grad, normBias.grad);
        int[] off = tape.finalOffsets;
        float[] dx = g.dx;
        java.util.Arrays.fill(dx, 0, off[batch] * d, 0f);
        for (int b = 0; b < batch; b++) {
            int o = off[b], n = off[b + 1] - o;
            if (config.globalPool() == ViTConfig.Pool.TOKEN) {
                System.arraycopy(dpooled, b * d, dx, o * d, d);
                continue;
            }
            double wsum = 0;
            for (int t = tape.poolFrom; t < n; t++) wsum += tape.finalSize != null ? tape.finalSize[o + t] : 1.0;
            for (int t = tape.poolFrom; t < n; t++) {
                float wt = (float) ((tape.finalSize != null ? tape.finalSize[o + t] : 1.0) / wsum);
                for (int j = 0; j < d; j++) dx[(o + t) * d + j] = dpooled[b * d + j] * wt;
            }
        }
        backwardBlocks(tape);
    }

    /** From dL/d(final rows) in {@code tape.grads.dx}: restores, blocks and embeddings. */
    private void backwardBlocks(Tape tape) {
        final int d = config.embedDim(), batch = tape.batch, prefix = config.numPrefix(), n0 = config.numTokens();
        Tape.Grads g = tape.grads;
        g.slots.reset();
        if (tape.outputRestore != null) g.planBackward(par, tape.outputRestore, d);
        for (int i = blocks.length - 1; i >= 0; i--) blocks[i].backward(par, tape.blocks[i], g);
        // embeddings: pos_embed and cls_token sum over the batch; patches go to the conv
        float[] dx = g.dx;
        if (posEmbed.grad != null) for (int b = 0; b < batch; b++) for (int q = 0; q < n0 * d; q++) posEmbed.grad[q] += dx[b * n0 * d + q];
        if (clsToken != null && clsToken.grad != null) {
            for (int b = 0; b < batch; b++) for (int j = 0; j < d; j++) clsToken.grad[j] += dx[b * n0 * d + j];
        }
        if (patchEmbed.w.grad != null || patchEmbed.b.grad != null) {
            int np = config.numPatches();
            float[] dpatch = g.dln; // [B·np, d]
            for (int b = 0; b < batch; b++) System.arraycopy(dx, (b * n0 + prefix) * d, dpatch, b * np * d, np * d);
            patchEmbed.backward(par, tape.cols, dpatch, batch * np, null, false, g.scratch);
        }
    }

    /** Re-packs the weights after they were changed in place (an optimiser step). */
    public void weightsChanged() {
        patchEmbed.repackIfTrained();
        if (head != null) head.repackIfTrained();
        if (headDist != null) headDist.repackIfTrained();
        if (decoderHead != null) decoderHead.repackIfTrained();
        for (Block b : blocks) {
            b.attnQkv.repackIfTrained();
            b.attnProj.repackIfTrained();
            b.mlpFc1.repackIfTrained();
            b.mlpFc2.repackIfTrained();
        }
    }

    /** The current weights as a state dict in checkpoint order (copies). */
    public StateDict stateDict() {
        StateDict sd = new StateDict();
        for (Param q : weights.all()) sd.put(q.name, q.value.clone(), q.shape);
        return sd;
    }

    /** Classifies one decoded image (preprocessed with this model's config). */
    public Prediction classify(io.vitrim.image.RgbImage image, TokenReducer reducer) {
        return classify(List.of(image), reducer).get(0);
    }

    /** Classifies one decoded image with a reduction given by spec, e.g. {@code Spec.tome(13)}. */
    public Prediction classify(io.vitrim.image.RgbImage image, io.vitrim.reduce.Spec reduction) {
        return classify(image, reducer(reduction.text()));
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
        float[] x1 = new float[0], x2 = new float[0], cols = new float[0];
        final Block.Scratch block = new Block.Scratch();

        void ensure(int rows, int c, int hidden, int patchRows, int kdim) {
            if (x1.length < rows * c) x1 = new float[rows * c];
            if (x2.length < rows * c) x2 = new float[rows * c];
            block.ensure(Math.max(rows, patchRows), c, Math.max(hidden, c));
            if (cols.length < patchRows * kdim) cols = new float[patchRows * kdim];
        }
    }

    @Override
    public void close() {
        closed = true;
        workspaces.clear();
        if (ownsPool) par.close();
    }

    private volatile boolean closed;

    private void checkOpen() {
        if (closed) throw new IllegalStateException("the model " + source + " is closed");
    }
}
