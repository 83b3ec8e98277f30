package io.vitrim.train;

import io.vitrim.VitrimException;
import io.vitrim.engine.Attention;
import io.vitrim.engine.Gemm;
import io.vitrim.engine.LayerNorm;
import io.vitrim.engine.Parallel;
import io.vitrim.engine.VecMath;
import io.vitrim.model.Linear;
import io.vitrim.model.Param;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Cropr;
import io.vitrim.reduce.Plan;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.reduce.TokenState;
import io.vitrim.reduce.Trace;

import java.util.Map;

/**
 * Cropr's training graph (benbergner/cropr; docs/training.md, Cropr; docs/segmentation.md, Cropr):
 * the inference selection ({@link Cropr}, the same queries) plus, per module k, an auxiliary
 * aggregator and head on the <em>detached</em> tokens after block k, for each of its M queries:
 * <pre>
 *   λ_mj = ⟨q_m, x_j⟩   P_m = softmax_j(λ_m · C^−½)   z_m = Σ_j P_mj x_j     (every token, class token too)
 *   z_m ← z_m + mlp.fc2(GELU(mlp.fc1(LN_1e−6(z_m; mlp_norm))))
 *   ŷ_km = head.head(LN_1e−5(z_m; head.norm))
 * </pre>
 * Classification has one query, and loss_k = CE(ŷ_k, targets); segmentation has one query per
 * cell of the auxiliary grid (row-major), and loss_k is the pixel cross-entropy of ŷ_k on that
 * grid against the labels nearest-downsampled to it (ignore label and class weights as the main
 * loss). The total loss is the main loss plus Σ_k loss_k, unweighted. Since the aggregator sees
 * the tokens detached, loss_k reaches only module k's own parameters (queries, MLP, head) — so
 * its backward runs right after the forward, in {@link #add} or {@link #addPixels}, from what
 * {@link #afterBlock} kept; the backbone gets the main loss only, through the selection's gather
 * and, with last-layer fusion, the parked tokens.
 */
public final class CroprTraining implements TokenReducer, LossTerm, MethodTraining.Graph {
    private final Cropr cropr;
    private final Module[] modules;
    private final int dim, queries, auxH, auxW;
    private final double[] lastLoss, lossSum;
    private int steps;
    private Parallel par;
    private float[] hScratch; // GELU(fc1) of one module: recomputed in the backward rather than kept per module

    /** One module's parameters, its layers and the activations of the last forward. */
    private static final class Module {
        final Param queries, normW, normB, headNormW, headNormB;
        final Linear fc1, fc2, head;
        final Linear.Scratch scratch = new Linear.Scratch();
        int batch, n;
        float[] x, p, z, u, mean1, rstd1, hpre, z2, v, mean2, rstd2, y;

        Module(Map<String, Param> w, int k) {
            String p = "cropr." + k + ".";
            queries = need(w, Cropr.queriesKey(k));
            normW = need(w, p + "cross_attn.mlp_norm.weight");
            normB = need(w, p + "cross_attn.mlp_norm.bias");
            fc1 = new Linear(need(w, p + "cross_attn.mlp.fc1.weight"), need(w, p + "cross_attn.mlp.fc1.bias"));
            fc2 = new Linear(need(w, p + "cross_attn.mlp.fc2.weight"), need(w, p + "cross_attn.mlp.fc2.bias"));
            headNormW = need(w, p + "head.norm.weight");
            headNormB = need(w, p + "head.norm.bias");
            head = new Linear(need(w, p + "head.head.weight"), need(w, p + "head.head.bias"));
        }

        private static Param need(Map<String, Param> w, String key) {
            Param p = w.get(key);
            if (p == null) throw new VitrimException("Cropr training needs " + key + " (vitrim finetune --method cropr adds missing modules)");
            return p;
        }
    }

    /** Cropr's training graph on the classifier {@code net}, whose checkpoint holds every module's keys, for {@code spec}. */
    public CroprTraining(VisionTransformer net, String spec) {
        this(net, spec, 0, 0);
    }

    /**
     * Cropr's training graph for {@code spec}; on a segmentation model with an auxiliary grid of
     * {@code auxH × auxW} cells (one query each), on a classifier with {@code auxH = auxW = 0}
     * (one query).
     */
    public CroprTraining(VisionTransformer net, String spec, int auxH, int auxW) {
        TokenReducer r = net.reducer(spec);
        if (!(r instanceof Cropr c)) throw new VitrimException(spec + " is not a Cropr spec");
        boolean seg = net.segmentation() != null;
        if (seg != (auxH > 0 && auxW > 0)) {
            throw new IllegalArgumentException(seg ? "a segmentation model needs an auxiliary grid" : "an auxiliary grid is for segmentation");
        }
        this.cropr = c;
        this.dim = net.config().embedDim();
        this.auxH = auxH;
        this.auxW = auxW;
        this.queries = seg ? auxH * auxW : 1;
        int classes = seg ? net.segmentation().numClasses() : net.config().numClasses();
        modules = new Module[c.modules()];
        for (int k = 0; k < modules.length; k++) {
            modules[k] = new Module(net.weights().method(), k);
            int m = modules[k].queries.size() / dim;
            if (m != queries) {
                throw new VitrimException(Cropr.queriesKey(k) + " has " + m + " queries; " + (seg
                        ? "the auxiliary grid " + auxH + "x" + auxW + " needs " + queries + " (one per cell)"
                        : "Cropr training of a classifier has one query per module"));
            }
            if (modules[k].head.out != classes) {
                throw new VitrimException("cropr." + k + ".head.head has " + modules[k].head.out + " outputs for " + classes + " classes");
            }
        }
        lastLoss = new double[modules.length];
        lossSum = new double[modules.length];
    }

    @Override
    public TokenReducer reducer() {
        return this;
    }

    @Override
    public java.util.List<LossTerm> losses() {
        return java.util.List.of(this);
    }

    @Override
    public Map<String, Object> epochMetrics() {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        java.util.List<Object> l = new java.util.ArrayList<>();
        for (int k = 0; k < lossSum.length; k++) l.add(steps == 0 ? 0.0 : lossSum[k] / steps);
        m.put("train_aux_losses", l);
        m.put("cropr_rate", cropr.rate());
        java.util.Arrays.fill(lossSum, 0);
        steps = 0;
        return m;
    }

    /** The inference reducer this graph trains. */
    public Cropr inference() {
        return cropr;
    }

    /** Each module's auxiliary loss in the last step. */
    public double[] lastAuxLosses() {
        return lastLoss.clone();
    }

    /** Re-packs the auxiliary layers after an optimiser step. */
    @Override
    public void weightsChanged() {
        for (Module m : modules) {
            m.fc1.repackIfTrained();
            m.fc2.repackIfTrained();
            m.head.repackIfTrained();
        }
    }

    // ------------------------------------------------------------------ the reducer

    @Override
    public String spec() {
        return cropr.spec();
    }

    @Override
    public Plan afterBlock(int block, TokenState s, Trace trace) {
        if (block < modules.length) auxForward(modules[block], s);
        return cropr.afterBlock(block, s, trace);
    }

    @Override
    public boolean restoreBefore(int block) {
        return cropr.restoreBefore(block);
    }

    @Override
    public boolean poolIncludesPrefix() {
        return cropr.poolIncludesPrefix();
    }

    private void auxForward(Module m, TokenState s) {
        par = s.parallel();
        final int c = dim, batch = s.batch(), n = s.count(0), mq = queries, rows = batch * mq;
        for (int b = 1; b < batch; b++) if (s.count(b) != n) throw new IllegalStateException("Cropr keeps equal counts");
        final int hid = m.fc1.out, k = m.head.out;
        if (m.x == null || m.batch != batch || m.n < n) {
            m.x = new float[batch * n * c];
            m.p = new float[batch * mq * n];
            m.z = new float[rows * c];
            m.u = new float[rows * c];
            m.z2 = new float[rows * c];
            m.v = new float[rows * c];
            m.hpre = new float[rows * hid];
            m.y = new float[rows * k];
            m.mean1 = new float[rows];
            m.rstd1 = new float[rows];
            m.mean2 = new float[rows];
            m.rstd2 = new float[rows];
        }
        if (hScratch == null || hScratch.length < rows * hid) hScratch = new float[rows * hid];
        m.batch = batch;
        m.n = n;
        // detached: a copy the backbone never sees
        for (int b = 0; b < batch; b++) System.arraycopy(s.x(), s.offset(b) * c, m.x, b * n * c, n * c);
        final float[] q = m.queries.value, x = m.x;
        final float scale = (float) (1.0 / Math.sqrt(c));
        par.forEach(batch, b -> {
            // λ = Q·x_bᵀ [M, n], P = softmax(λ·scale) per query, Z = P·x_b [M, C]
            int po = b * mq * n;
            Gemm.gemmSerial(q, 0, c, 1, mq, packT(x, b, n, c), c, n, m.p, po, n, Gemm.Mode.SET);
            for (int i = 0; i < mq; i++) Attention.softmaxRow(m.p, po + i * n, n, scale, null, 0);
            Gemm.gemmSerial(m.p, po, n, 1, mq, pack(x, b, n, c), n, c, m.z, b * mq * c, c, Gemm.Mode.SET);
        });
        LayerNorm.forward(par, m.z, 0, c, rows, c, m.normW.value, m.normB.value, 1e-6f, m.u, 0, c, m.mean1, m.rstd1);
        m.fc1.forward(par, m.u, rows, m.hpre, Gemm.Mode.SET);
        float[] h = hScratch;
        System.arraycopy(m.hpre, 0, h, 0, rows * hid);
        VecMath.geluInPlace(h, 0, rows * hid);
        System.arraycopy(m.z, 0, m.z2, 0, rows * c);
        m.fc2.forward(par, h, rows, m.z2, Gemm.Mode.ADD);
        LayerNorm.forward(par, m.z2, 0, c, rows, c, m.headNormW.value, m.headNormB.value, 1e-5f, m.v, 0, c, m.mean2, m.rstd2);
        m.head.forward(par, m.v, rows, m.y, Gemm.Mode.SET);
    }

    /** Image b's tokens {@code x_b [n, C]} packed as the GEMM operand {@code x_bᵀ [C, n]}. */
    private static float[] packT(float[] x, int b, int n, int c) {
        float[] d = new float[Gemm.packedSize(c, n)];
        Gemm.packB(x, b * n * c, 1, c, c, n, d);
        return d;
    }

    /** Image b's tokens {@code x_b [n, C]} packed as the GEMM operand. */
    private static float[] pack(float[] x, int b, int n, int c) {
        float[] d = new float[Gemm.packedSize(n, c)];
        Gemm.packB(x, b * n * c, c, 1, n, c, d);
        return d;
    }

    // ------------------------------------------------------------------ the auxiliary losses

    @Override
    public String name() {
        return "cropr_aux";
    }

    /**
     * Classification: the auxiliary losses of the last forward against {@code targets}, and their
     * backward into the modules' parameters; nothing reaches {@code dlogits} (the main head's gradient).
     */
    @Override
    public double add(Tape tape, float[] targets, float[] dlogits) {
        if (auxH != 0) throw new IllegalStateException("a segmentation graph takes pixel labels");
        double total = 0;
        for (int i = 0; i < modules.length; i++) {
            Module m = forwardOf(i, tape);
            int k = m.head.out;
            float[] dy = new float[m.batch * k];
            lastLoss[i] = SoftmaxCrossEntropy.forwardBackward(m.y, targets, m.batch, k, dy);
            backward(m, dy);
            total += account(i);
        }
        steps++;
        return total;
    }

    /**
     * Segmentation: each module's predictions on the auxiliary grid against the labels
     * nearest-downsampled to it, with the task's criterion, and their backward into the modules.
     */
    @Override
    public double addPixels(Tape tape, PixelTargets t) {
        if (auxH == 0) throw new IllegalStateException("a classification graph takes targets");
        final int batch = tape.batch(), mq = queries;
        byte[] down = PixelCrossEntropy.nearest(t.labels(), batch, t.height(), t.width(), auxH, auxW);
        double total = 0;
        for (int i = 0; i < modules.length; i++) {
            Module m = forwardOf(i, tape);
            final int k = m.head.out;
            // ŷ [B, M, K] → [B, K, auxH, auxW], the criterion's layout, and its gradient back
            float[] grid = new float[batch * k * mq];
            for (int b = 0; b < batch; b++) {
                for (int q = 0; q < mq; q++) for (int j = 0; j < k; j++) grid[(b * k + j) * mq + q] = m.y[(b * mq + q) * k + j];
            }
            PixelCrossEntropy.Result r = t.criterion().computeAt(par, grid, batch, down, auxH, auxW);
            float[] dy = new float[batch * mq * k];
            for (int b = 0; b < batch; b++) {
                for (int q = 0; q < mq; q++) for (int j = 0; j < k; j++) dy[(b * mq + q) * k + j] = r.dgrid()[(b * k + j) * mq + q];
            }
            lastLoss[i] = r.loss();
            backward(m, dy);
            total += account(i);
        }
        steps++;
        return total;
    }

    private Module forwardOf(int i, Tape tape) {
        Module m = modules[i];
        if (m.batch != tape.batch()) throw new IllegalStateException("no Cropr forward for this batch");
        return m;
    }

    private double account(int i) {
        lossSum[i] += lastLoss[i];
        return lastLoss[i];
    }

    /** From dL/dŷ {@code [B·M, K]}: the head, the MLP residual, and the queries through the softmax attention. */
    private void backward(Module m, float[] dy) {
        final int c = dim, batch = m.batch, n = m.n, mq = queries, rows = batch * mq, hid = m.fc1.out;
        float[] dv = new float[rows * c], dz2 = new float[rows * c], dh = new float[rows * hid], du = new float[rows * c];
        m.head.backward(par, m.v, dy, rows, dv, false, m.scratch);
        LayerNorm.backward(par, m.z2, c, rows, c, m.headNormW.value, m.mean2, m.rstd2, dv, c, dz2, c, false,
                m.headNormW.grad, m.headNormB.grad);
        // z2 = z + fc2(gelu(fc1(LN(z)))): dz = dz2 + the MLP branch's input gradient
        float[] h = hScratch;
        System.arraycopy(m.hpre, 0, h, 0, rows * hid);
        VecMath.geluInPlace(h, 0, rows * hid);
        m.fc2.backward(par, h, dz2, rows, dh, false, m.scratch);
        VecMath.geluBackwardInPlace(dh, m.hpre, 0, rows * hid);
        m.fc1.backward(par, m.u, dh, rows, du, false, m.scratch);
        float[] dz = dz2.clone();
        LayerNorm.backward(par, m.z, c, rows, c, m.normW.value, m.mean1, m.rstd1, du, c, dz, c, true, m.normW.grad, m.normB.grad);
        if (m.queries.grad == null) return;
        // Z = P·x, P = softmax(scale·Q·xᵀ): dP = dZ·xᵀ, dλ = scale·P∘(dP − rowsum(P∘dP)), dQ = Σ_b dλ·x
        final float scale = (float) (1.0 / Math.sqrt(c));
        final float[] x = m.x;
        float[][] part = new float[batch][];
        par.forEach(batch, b -> {
            int po = b * mq * n;
            float[] dp = new float[mq * n];
            Gemm.gemmSerial(dz, b * mq * c, c, 1, mq, packT(x, b, n, c), c, n, dp, 0, n, Gemm.Mode.SET);
            for (int i = 0; i < mq; i++) {
                double mean = 0;
                for (int j = 0; j < n; j++) mean += (double) m.p[po + i * n + j] * dp[i * n + j];
                for (int j = 0; j < n; j++) dp[i * n + j] = (float) (scale * m.p[po + i * n + j] * (dp[i * n + j] - mean));
            }
            float[] g = new float[mq * c];
            Gemm.gemmSerial(dp, 0, n, 1, mq, pack(x, b, n, c), n, c, g, 0, c, Gemm.Mode.SET);
            part[b] = g;
        });
        // summed in image order: the same for any thread count
        for (int b = 0; b < batch; b++) for (int e = 0; e < mq * c; e++) m.queries.grad[e] += part[b][e];
    }
}
