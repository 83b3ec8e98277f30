package io.vitrim.train;

import io.vitrim.VitrimException;
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
 * Cropr's training graph (benbergner/cropr; docs/training.md, Cropr): the inference selection
 * ({@link Cropr}, the same queries) plus, per module k, an auxiliary aggregator and head on the
 * <em>detached</em> tokens after block k:
 * <pre>
 *   λ_j = ⟨q, x_j⟩   P = softmax(λ · C^−½)   z = Σ_j P_j x_j          (every token, class token too)
 *   z ← z + mlp.fc2(GELU(mlp.fc1(LN_1e−6(z; mlp_norm))))
 *   ŷ_k = head.head(LN_1e−5(z; head.norm))       loss_k = CE(ŷ_k, targets)
 * </pre>
 * The total loss is the main loss plus Σ_k loss_k, unweighted. Since the aggregator sees the
 * tokens detached, loss_k reaches only module k's own parameters (queries, MLP, head) — so its
 * backward runs right after the forward, in {@link #add}, from what {@link #afterBlock} kept;
 * the backbone gets the main loss only, through the selection's gather and, with last-layer
 * fusion, the parked tokens. One query and one head per module (the reference's classification
 * setting).
 */
public final class CroprTraining implements TokenReducer, LossTerm, MethodTraining.Graph {
    private final Cropr cropr;
    private final Module[] modules;
    private final int dim;
    private final double[] lastLoss, lossSum;
    private int steps;
    private Parallel par;

    /** One module's parameters, its layers and the activations of the last forward. */
    private static final class Module {
        final Param queries, normW, normB, headNormW, headNormB;
        final Linear fc1, fc2, head;
        final Linear.Scratch scratch = new Linear.Scratch();
        int batch, n;
        float[] x, p, z, u, mean1, rstd1, hpre, h, z2, v, mean2, rstd2, y;

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

    /** Cropr's training graph on {@code net}, whose checkpoint holds every module's keys, for {@code spec}. */
    public CroprTraining(VisionTransformer net, String spec) {
        TokenReducer r = net.reducer(spec);
        if (!(r instanceof Cropr c)) throw new VitrimException(spec + " is not a Cropr spec");
        this.cropr = c;
        this.dim = net.config().embedDim();
        modules = new Module[c.modules()];
        for (int k = 0; k < modules.length; k++) {
            modules[k] = new Module(net.weights().method(), k);
            if (modules[k].queries.size() != dim) {
                throw new VitrimException("Cropr training supports one query per module; " + Cropr.queriesKey(k) + " has "
                        + modules[k].queries.size() / dim);
            }
            if (modules[k].head.out != net.config().numClasses()) {
                throw new VitrimException("cropr." + k + ".head.head has " + modules[k].head.out + " outputs for " + net.config().numClasses() + " classes");
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
        final int c = dim, batch = s.batch(), n = s.count(0);
        for (int b = 1; b < batch; b++) if (s.count(b) != n) throw new IllegalStateException("Cropr keeps equal counts");
        final int hid = m.fc1.out, k = m.head.out;
        if (m.x == null || m.batch != batch || m.n < n) {
            m.x = new float[batch * n * c];
            m.p = new float[batch * n];
            m.z = new float[batch * c];
            m.u = new float[batch * c];
            m.z2 = new float[batch * c];
            m.v = new float[batch * c];
            m.hpre = new float[batch * hid];
            m.h = new float[batch * hid];
            m.y = new float[batch * k];
            m.mean1 = new float[batch];
            m.rstd1 = new float[batch];
            m.mean2 = new float[batch];
            m.rstd2 = new float[batch];
        }
        m.batch = batch;
        m.n = n;
        System.arraycopy(s.x(), 0, m.x, 0, batch * n * c); // detached: a copy the backbone never sees
        final float[] q = m.queries.value, x = m.x;
        final float scale = (float) (1.0 / Math.sqrt(c));
        par.forEach(batch, b -> {
            int o = b * n;
            double max = Double.NEGATIVE_INFINITY;
            double[] l = new double[n];
            for (int j = 0; j < n; j++) {
                l[j] = dot(q, 0, x, (o + j) * c, c) * scale;
                max = Math.max(max, l[j]);
            }
            double sum = 0;
            for (int j = 0; j < n; j++) sum += (l[j] = Math.exp(l[j] - max));
            double[] z = new double[c];
            for (int j = 0; j < n; j++) {
                float pj = (float) (l[j] / sum);
                m.p[o + j] = pj;
                for (int e = 0; e < c; e++) z[e] += (double) pj * x[(o + j) * c + e];
            }
            for (int e = 0; e < c; e++) m.z[b * c + e] = (float) z[e];
        });
        LayerNorm.forward(par, m.z, 0, c, batch, c, m.normW.value, m.normB.value, 1e-6f, m.u, 0, c, m.mean1, m.rstd1);
        m.fc1.forward(par, m.u, batch, m.hpre, Gemm.Mode.SET);
        System.arraycopy(m.hpre, 0, m.h, 0, batch * hid);
        VecMath.geluInPlace(m.h, 0, batch * hid);
        System.arraycopy(m.z, 0, m.z2, 0, batch * c);
        m.fc2.forward(par, m.h, batch, m.z2, Gemm.Mode.ADD);
        LayerNorm.forward(par, m.z2, 0, c, batch, c, m.headNormW.value, m.headNormB.value, 1e-5f, m.v, 0, c, m.mean2, m.rstd2);
        m.head.forward(par, m.v, batch, m.y, Gemm.Mode.SET);
    }

    // ------------------------------------------------------------------ the auxiliary losses

    @Override
    public String name() {
        return "cropr_aux";
    }

    /**
     * The auxiliary losses of the last forward against {@code targets}, and their backward into
     * the modules' parameters; nothing reaches {@code dlogits} (the main head's gradient).
     */
    @Override
    public double add(Tape tape, float[] targets, float[] dlogits) {
        double total = 0;
        for (int i = 0; i < modules.length; i++) {
            Module m = modules[i];
            if (m.batch != tape.batch()) throw new IllegalStateException("no Cropr forward for this batch");
            lastLoss[i] = backward(m, targets);
            lossSum[i] += lastLoss[i];
            total += lastLoss[i];
        }
        steps++;
        return total;
    }

    private double backward(Module m, float[] targets) {
        final int c = dim, batch = m.batch, n = m.n, hid = m.fc1.out, k = m.head.out;
        float[] dy = new float[batch * k];
        double loss = SoftmaxCrossEntropy.forwardBackward(m.y, targets, batch, k, dy);
        float[] dv = new float[batch * c], dz2 = new float[batch * c], dh = new float[batch * hid], du = new float[batch * c];
        m.head.backward(par, m.v, dy, batch, dv, false, m.scratch);
        LayerNorm.backward(par, m.z2, c, batch, c, m.headNormW.value, m.mean2, m.rstd2, dv, c, dz2, c, false,
                m.headNormW.grad, m.headNormB.grad);
        // z2 = z + fc2(gelu(fc1(LN(z)))): dz = dz2 + the MLP branch's input gradient
        m.fc2.backward(par, m.h, dz2, batch, dh, false, m.scratch);
        VecMath.geluBackwardInPlace(dh, m.hpre, 0, batch * hid);
        m.fc1.backward(par, m.u, dh, batch, du, false, m.scratch);
        float[] dz = dz2.clone();
        LayerNorm.backward(par, m.z, c, batch, c, m.normW.value, m.mean1, m.rstd1, du, c, dz, c, true, m.normW.grad, m.normB.grad);
        if (m.queries.grad == null) return loss;
        // z = Σ_j P_j x_j, P = softmax(scale·⟨q, x_j⟩): dλ_j = scale·P_j·(dP_j − Σ_i P_i dP_i), dq = Σ_j dλ_j x_j
        final float scale = (float) (1.0 / Math.sqrt(c));
        final float[] x = m.x;
        double[][] part = new double[batch][];
        par.forEach(batch, b -> {
            int o = b * n;
            double[] dp = new double[n];
            double mean = 0;
            for (int j = 0; j < n; j++) {
                dp[j] = dot(dz, b * c, x, (o + j) * c, c);
                mean += m.p[o + j] * dp[j];
            }
            double[] g = new double[c];
            for (int j = 0; j < n; j++) {
                double dl = scale * m.p[o + j] * (dp[j] - mean);
                for (int e = 0; e < c; e++) g[e] += dl * x[(o + j) * c + e];
            }
            part[b] = g;
        });
        for (int b = 0; b < batch; b++) for (int e = 0; e < c; e++) m.queries.grad[e] += (float) part[b][e];
        return loss;
    }

    /** Σ_e a[ao + e]·x[xo + e] in double. */
    private static double dot(float[] a, int ao, float[] x, int xo, int c) {
        double s = 0;
        for (int e = 0; e < c; e++) s += (double) a[ao + e] * x[xo + e];
        return s;
    }
}
