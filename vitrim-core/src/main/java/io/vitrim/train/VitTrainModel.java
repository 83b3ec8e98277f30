package io.vitrim.train;

import io.vitrim.VitrimException;
import io.vitrim.engine.Attention;
import io.vitrim.engine.Gemm;
import io.vitrim.engine.Im2Col;
import io.vitrim.engine.LayerNorm;
import io.vitrim.engine.Parallel;
import io.vitrim.engine.VecMath;
import io.vitrim.model.StateDict;
import io.vitrim.model.ViTConfig;
import io.vitrim.model.VitKeys;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * timm's VisionTransformer with explicit backward passes (architecture.md §2): one forward and
 * one backward per layer, activations kept in a per-batch workspace ({@link Acts}). Parameters
 * keep their checkpoint names, so a trained model saves as a timm state dict.
 *
 * <p>Supports a class token with token pooling, or average pooling with {@code fc_norm}; no
 * distillation token. Deterministic: the same inputs give the same bits for any thread count.
 */
public final class VitTrainModel {
    final ViTConfig cfg;
    private final Parallel par;
    private final Map<String, Param> params = new LinkedHashMap<>();
    private final Linear patch, head;
    private final Linear[] qkv, proj, fc1, fc2;
    private final Param[] n1w, n1b, n2w, n2b;
    private final Param normW, normB, cls, pos;
    private final Linear.Scratch scratch = new Linear.Scratch();
    private Acts acts;

    public VitTrainModel(ViTConfig cfg, StateDict init, Parallel par) {
        if (cfg.distToken()) throw new VitrimException("training a distilled (dist_token) model is not supported");
        VitKeys.check(cfg, init, "initial weights");
        this.cfg = cfg;
        this.par = par;
        for (Map.Entry<String, StateDict.Tensor> e : init.tensors().entrySet()) {
            params.put(e.getKey(), new Param(e.getKey(), e.getValue().shape(), e.getValue().data().clone()));
        }
        int depth = cfg.depth();
        patch = new Linear(p("patch_embed.proj.weight"), p("patch_embed.proj.bias"));
        head = new Linear(p("head.weight"), p("head.bias"));
        qkv = new Linear[depth];
        proj = new Linear[depth];
        fc1 = new Linear[depth];
        fc2 = new Linear[depth];
        n1w = new Param[depth];
        n1b = new Param[depth];
        n2w = new Param[depth];
        n2b = new Param[depth];
        for (int i = 0; i < depth; i++) {
            String b = "blocks." + i + ".";
            qkv[i] = new Linear(p(b + "attn.qkv.weight"), params.get(b + "attn.qkv.bias"));
            proj[i] = new Linear(p(b + "attn.proj.weight"), p(b + "attn.proj.bias"));
            fc1[i] = new Linear(p(b + "mlp.fc1.weight"), p(b + "mlp.fc1.bias"));
            fc2[i] = new Linear(p(b + "mlp.fc2.weight"), p(b + "mlp.fc2.bias"));
            n1w[i] = p(b + "norm1.weight");
            n1b[i] = p(b + "norm1.bias");
            n2w[i] = p(b + "norm2.weight");
            n2b[i] = p(b + "norm2.bias");
        }
        String norm = cfg.fcNorm() ? "fc_norm" : "norm";
        normW = p(norm + ".weight");
        normB = p(norm + ".bias");
        cls = params.get("cls_token");
        pos = p("pos_embed");
    }

    private Param p(String name) {
        return params.get(name);
    }

    public List<Param> params() {
        return Collections.unmodifiableList(new ArrayList<>(params.values()));
    }

    public ViTConfig config() {
        return cfg;
    }

    /** Current weights as a timm state dict (copies). */
    public StateDict stateDict() {
        StateDict sd = new StateDict();
        for (Param q : params.values()) sd.put(q.name, q.value.clone(), q.shape);
        return sd;
    }

    /** Activations of one batch, kept for the backward pass. */
    static final class Acts {
        final int batch, n, t;
        final int[] offsets;
        final float[] cols, x, feats, featMean, featRstd, pooledIn, logits, dx, dln, dqkv, dattn, dh;
        final float[][] xin, ln1, mean1, rstd1, qkv, attn, xmid, ln2, mean2, rstd2, hpre, h;
        final float[][][] probs;

        Acts(ViTConfig c, int batch) {
            this.batch = batch;
            this.n = c.numTokens();
            this.t = batch * n;
            int d = c.embedDim(), hid = c.mlpHidden(), np = c.numPatches(), depth = c.depth();
            offsets = new int[batch + 1];
            for (int b = 0; b <= batch; b++) offsets[b] = b * n;
            cols = new float[batch * np * 3 * c.patchSize() * c.patchSize()];
            x = new float[t * d];
            feats = new float[batch * d];
            pooledIn = new float[batch * d];
            featMean = new float[batch];
            featRstd = new float[batch];
            logits = new float[batch * c.numClasses()];
            dx = new float[t * d];
            dln = new float[t * d];
            dqkv = new float[t * 3 * d];
            dattn = new float[t * d];
            dh = new float[t * hid];
            xin = new float[depth][t * d];
            ln1 = new float[depth][t * d];
            mean1 = new float[depth][t];
            rstd1 = new float[depth][t];
            qkv = new float[depth][t * 3 * d];
            attn = new float[depth][t * d];
            xmid = new float[depth][t * d];
            ln2 = new float[depth][t * d];
            mean2 = new float[depth][t];
            rstd2 = new float[depth][t];
            hpre = new float[depth][t * hid];
            h = new float[depth][t * hid];
            probs = new float[depth][batch * c.numHeads()][];
        }
    }

    /** Loss and accuracy of one step. */
    public record StepResult(double loss, int correct) {}

    /** Logits of the last {@link #forward} ([B, K]). */
    public float[] logits() {
        return acts.logits;
    }

    /** Forward pass keeping activations; returns logits [B, K] (the array is reused). */
    public float[] forward(float[] pixels, int batch) {
        if (acts == null || acts.batch != batch) acts = new Acts(cfg, batch);
        Acts a = acts;
        for (Linear l : allLinears()) l.pack();
        final int d = cfg.embedDim(), prefix = cfg.numPrefix(), np = cfg.numPatches(), n = a.n;
        final float eps = cfg.normEps();
        Im2Col.patches(par, pixels, batch, cfg.imgHeight(), cfg.imgWidth(), cfg.patchSize(), a.cols);
        // patches → x rows after the prefix, then + pos_embed
        float[] patches = a.dln; // scratch [B·np, d] fits in [T, d]
        patch.forward(par, a.cols, batch * np, patches, Gemm.Mode.SET);
        par.forEach(batch, b -> {
            int base = b * n * d;
            if (cls != null) for (int j = 0; j < d; j++) a.x[base + j] = cls.value[j] + pos.value[j];
            for (int q = 0; q < np; q++) {
                int dst = base + (prefix + q) * d, src = (b * np + q) * d, pp = (prefix + q) * d;
                for (int j = 0; j < d; j++) a.x[dst + j] = patches[src + j] + pos.value[pp + j];
            }
        });
        int t = a.t;
        for (int i = 0; i < cfg.depth(); i++) {
            System.arraycopy(a.x, 0, a.xin[i], 0, t * d);
            LayerNorm.forward(par, a.x, 0, d, t, d, n1w[i].value, n1b[i].value, eps, a.ln1[i], 0, d, a.mean1[i], a.rstd1[i]);
            qkv[i].forward(par, a.ln1[i], t, a.qkv[i], Gemm.Mode.SET);
            Attention.Probes pr = new Attention.Probes();
            pr.probs = a.probs[i];
            Attention.forward(par, a.qkv[i], a.offsets, batch, d, cfg.numHeads(), null, a.attn[i], pr);
            proj[i].forward(par, a.attn[i], t, a.x, Gemm.Mode.ADD);
            System.arraycopy(a.x, 0, a.xmid[i], 0, t * d);
            LayerNorm.forward(par, a.x, 0, d, t, d, n2w[i].value, n2b[i].value, eps, a.ln2[i], 0, d, a.mean2[i], a.rstd2[i]);
            fc1[i].forward(par, a.ln2[i], t, a.hpre[i], Gemm.Mode.SET);
            float[] hp = a.hpre[i], hh = a.h[i];
            par.forRange(t, 64, (r0, r1) -> {
                int hid = cfg.mlpHidden();
                System.arraycopy(hp, r0 * hid, hh, r0 * hid, (r1 - r0) * hid);
                VecMath.geluInPlace(hh, r0 * hid, (r1 - r0) * hid);
            });
            fc2[i].forward(par, hh, t, a.x, Gemm.Mode.ADD);
        }
        // pooling + norm + head
        for (int b = 0; b < batch; b++) {
            if (cfg.globalPool() == ViTConfig.Pool.TOKEN) {
                System.arraycopy(a.x, b * n * d, a.pooledIn, b * d, d);
            } else {
                for (int j = 0; j < d; j++) {
                    float s = 0f;
                    for (int q = prefix; q < n; q++) s += a.x[(b * n + q) * d + j];
                    a.pooledIn[b * d + j] = s / (n - prefix);
                }
            }
        }
        if (!cfg.fcNorm() && cfg.globalPool() == ViTConfig.Pool.AVG) {
            throw new VitrimException("training supports global_pool=avg only with fc_norm");
        }
        LayerNorm.forward(par, a.pooledIn, 0, d, batch, d, normW.value, normB.value, eps, a.feats, 0, d, a.featMean, a.featRstd);
        head.forward(par, a.feats, batch, a.logits, Gemm.Mode.SET);
        return a.logits;
    }

    /**
     * Forward, softmax cross-entropy against soft targets [B, K] (one-hot, smoothed or mixed),
     * backward into every {@link Param#grad} (which it zeroes first).
     */
    public StepResult step(float[] pixels, float[] targets, int batch) {
        float[] logits = forward(pixels, batch);
        int k = cfg.numClasses();
        float[] dlogits = new float[batch * k];
        double loss = SoftmaxCrossEntropy.forwardBackward(logits, targets, batch, k, dlogits);
        int correct = 0;
        for (int b = 0; b < batch; b++) if (argmax(logits, b * k, k) == argmax(targets, b * k, k)) correct++;
        backward(dlogits);
        return new StepResult(loss, correct);
    }

    static int argmax(float[] v, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (v[off + i] > v[off + best]) best = i;
        return best;
    }

    private List<Linear> allLinears() {
        List<Linear> l = new ArrayList<>();
        l.add(patch);
        l.add(head);
        for (int i = 0; i < cfg.depth(); i++) {
            l.add(qkv[i]);
            l.add(proj[i]);
            l.add(fc1[i]);
            l.add(fc2[i]);
        }
        return l;
    }

    /** Backward from dL/dlogits [B, K]; gradients land in the params (zeroed first). */
    public void backward(float[] dlogits) {
        Acts a = acts;
        for (Param q : params.values()) java.util.Arrays.fill(q.grad, 0f);
        final int d = cfg.embedDim(), n = a.n, t = a.t, batch = a.batch, prefix = cfg.numPrefix(), hid = cfg.mlpHidden();
        // head and final norm
        float[] dfeat = new float[batch * d];
        head.backward(par, a.feats, dlogits, batch, dfeat, false, scratch);
        float[] dpooled = new float[batch * d];
        LayerNorm.backward(par, a.pooledIn, d, batch, d, normW.value, a.featMean, a.featRstd, dfeat, d, dpooled, d, false, normW.grad, normB.grad);
        float[] dx = a.dx;
        java.util.Arrays.fill(dx, 0, t * d, 0f);
        for (int b = 0; b < batch; b++) {
            if (cfg.globalPool() == ViTConfig.Pool.TOKEN) {
                System.arraycopy(dpooled, b * d, dx, b * n * d, d);
            } else {
                float inv = 1f / (n - prefix);
                for (int q = prefix; q < n; q++) for (int j = 0; j < d; j++) dx[(b * n + q) * d + j] = dpooled[b * d + j] * inv;
            }
        }
        for (int i = cfg.depth() - 1; i >= 0; i--) {
            // x_out = xmid + fc2(gelu(fc1(LN2(xmid))))
            fc2[i].backward(par, a.h[i], dx, t, a.dh, false, scratch);
            float[] hp = a.hpre[i], dh = a.dh;
            par.forRange(t, 64, (r0, r1) -> VecMath.geluBackwardInPlace(dh, hp, r0 * hid, (r1 - r0) * hid));
            fc1[i].backward(par, a.ln2[i], dh, t, a.dln, false, scratch);
            LayerNorm.backward(par, a.xmid[i], d, t, d, n2w[i].value, a.mean2[i], a.rstd2[i], a.dln, d, dx, d, true, n2w[i].grad, n2b[i].grad);
            // xmid = xin + proj(attn(LN1(xin)))
            proj[i].backward(par, a.attn[i], dx, t, a.dattn, false, scratch);
            Attention.backward(par, a.qkv[i], a.offsets, batch, d, cfg.numHeads(), a.probs[i], a.dattn, a.dqkv);
            qkv[i].backward(par, a.ln1[i], a.dqkv, t, a.dln, false, scratch);
            LayerNorm.backward(par, a.xin[i], d, t, d, n1w[i].value, a.mean1[i], a.rstd1[i], a.dln, d, dx, d, true, n1w[i].grad, n1b[i].grad);
        }
        // embeddings: pos_embed and cls_token sum over the batch; patches go to the conv
        for (int b = 0; b < batch; b++) {
            for (int q = 0; q < n * d; q++) pos.grad[q] += dx[b * n * d + q];
            if (cls != null) for (int j = 0; j < d; j++) cls.grad[j] += dx[b * n * d + j];
        }
        int np = cfg.numPatches();
        float[] dpatch = a.dln; // [B·np, d]
        for (int b = 0; b < batch; b++) System.arraycopy(dx, (b * n + prefix) * d, dpatch, b * np * d, np * d);
        patch.backward(par, a.cols, dpatch, batch * np, null, false, scratch);
    }

}
