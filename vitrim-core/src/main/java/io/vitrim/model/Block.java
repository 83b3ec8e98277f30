package io.vitrim.model;

import io.vitrim.config.ViTConfig;
import io.vitrim.engine.Attention;
import io.vitrim.engine.Gemm;
import io.vitrim.engine.LayerNorm;
import io.vitrim.engine.Parallel;
import io.vitrim.engine.Rope;
import io.vitrim.engine.VecMath;
import io.vitrim.reduce.BlockProbes;
import io.vitrim.reduce.MaskedTraining;
import io.vitrim.reduce.Plan;
import io.vitrim.reduce.PlanApplier;
import io.vitrim.reduce.Probe;
import io.vitrim.reduce.ProbeCollector;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.reduce.TokenState;
import io.vitrim.reduce.Trace;

import java.util.Set;

/**
 * timm's pre-norm {@code Block}, the one definition that inference and training run:
 * <pre>
 *   x ← x + ls1 ⊙ attn.proj(MHSA(norm1(x)))   (attn.qkv → softmax(q·kᵀ·scale + ln size) → ·v)
 *   plan ← reducer.inBlock(...)  ;  x ← plan(x)     (ToMe, PPT, LGTM, ...: merge / prune)
 *   x ← x + ls2 ⊙ mlp.fc2(act(mlp.fc1(norm2(x))))  (act: GELU, or CLIP's QuickGELU)
 *   plan ← reducer.afterBlock(...) ; x ← plan(x)    (between blocks)
 * </pre>
 * Before all of it, parked tokens are restored when the reducer asks ({@code restoreBefore}).
 * LayerScale ({@code ls1}, {@code ls2}; DINOv2) is 1 when absent — and it stays inside the
 * reduced block: the reduction acts on the residual stream after the scaled branch is added.
 * Field names are the checkpoint keys under {@code blocks.{i}.}. With a {@link Tape.BlockTape}
 * the forward keeps what {@link #backward} needs, for whatever token count the block saw.
 *
 * <p>timm's {@code EvaBlock} (EVA02; inference only) is the same block with three changes: q and
 * k of the patch tokens are rotated by their positions before the attention ({@link Rope}),
 * the attention output may pass a LayerNorm before {@code proj} ({@code attn.norm}), and the MLP
 * is SwiGLU — {@code fc2(norm(SiLU(g) ⊙ v))} with {@code [g; v] = fc1(x)}, {@code mlp.norm}
 * optional. Its q/k/v projections (fused or separate, no k bias) and SwiGLU's two first layers
 * arrive here fused into one {@code attnQkv} and one {@code mlpFc1}. Its post-norm form
 * ({@code EvaBlockPostNorm}, EVA02-E) normalises the branches instead of their inputs:
 * {@code x ← x + norm1(proj(MHSA(x)))}, {@code x ← x + norm2(mlp(x))}; the reductions sit where
 * they sit in the pre-norm block. The DINOv2 giant is the ViT block with SwiGLU as its MLP
 * (timm's {@code SwiGLUPacked}, no {@code mlp.norm}).
 */
public final class Block {
    final int index;
    final Param norm1Weight, norm1Bias, norm2Weight, norm2Bias;
    final Linear attnQkv, attnProj, mlpFc1, mlpFc2;
    final Param ls1Gamma, ls2Gamma; // [C] or null
    private final ViTConfig.Act act;
    private final int dim, heads, hidden;
    private final float eps;
    private final Eva eva; // null for the ViT block
    private final Swiglu swiglu; // null: fc2(act(fc1(x)))

    /**
     * What an {@code EvaBlock} adds: the rotary embedding (null without one), the sub-LN
     * {@code attn.norm} ([C]) or nulls, and whether the norms follow the branches (post-norm).
     */
    record Eva(Rope rope, Param attnNormWeight, Param attnNormBias, boolean postNorm) {}

    /** A SwiGLU MLP of gated width {@code width} ({@code mlpFc1} is [gate; value]) with its optional {@code mlp.norm} ([width]). */
    record Swiglu(int width, Param normWeight, Param normBias) {}

    Block(int index, Param norm1Weight, Param norm1Bias, Linear attnQkv, Linear attnProj,
          Param norm2Weight, Param norm2Bias, Linear mlpFc1, Linear mlpFc2, Param ls1Gamma, Param ls2Gamma,
          ViTConfig.Act act, int heads, float eps) {
        this(index, norm1Weight, norm1Bias, attnQkv, attnProj, norm2Weight, norm2Bias, mlpFc1, mlpFc2, ls1Gamma, ls2Gamma,
                act, heads, eps, null, null);
    }

    Block(int index, Param norm1Weight, Param norm1Bias, Linear attnQkv, Linear attnProj,
          Param norm2Weight, Param norm2Bias, Linear mlpFc1, Linear mlpFc2, Param ls1Gamma, Param ls2Gamma,
          ViTConfig.Act act, int heads, float eps, Eva eva, Swiglu swiglu) {
        if (swiglu != null && mlpFc1.out != 2 * swiglu.width()) throw new IllegalArgumentException("SwiGLU fc1 must be [gate; value]");
        if (eva == null && (act == ViTConfig.Act.SWIGLU) != (swiglu != null)) {
            throw new IllegalArgumentException("a ViT block's SwiGLU MLP comes with act SWIGLU");
        }
        this.eva = eva;
        this.swiglu = swiglu;
        this.ls1Gamma = ls1Gamma;
        this.ls2Gamma = ls2Gamma;
        this.act = act;
        this.index = index;
        this.norm1Weight = norm1Weight;
        this.norm1Bias = norm1Bias;
        this.attnQkv = attnQkv;
        this.attnProj = attnProj;
        this.norm2Weight = norm2Weight;
        this.norm2Bias = norm2Bias;
        this.mlpFc1 = mlpFc1;
        this.mlpFc2 = mlpFc2;
        this.dim = attnProj.out;
        this.heads = heads;
        this.hidden = mlpFc1.out;
        this.eps = eps;
    }

    /** Buffers of one inference forward, reused by every block. */
    static final class Scratch {
        float[] ln = new float[0], qkv = new float[0], attn = new float[0], hidden = new float[0], gated = new float[0];

        void ensure(int rows, int c, int hid) {
            if (ln.length < rows * c) ln = new float[rows * c];
            if (attn.length < rows * c) attn = new float[rows * c];
            if (qkv.length < rows * 3 * c) qkv = new float[rows * 3 * c];
            if (hidden.length < rows * hid) hidden = new float[rows * hid];
        }
    }

    /**
     * Runs the block on {@code s} (rewritten in place); returns the spare row buffer.
     *
     * @param tape null for inference; otherwise receives the activations for {@link #backward}
     */
    float[] forward(Parallel par, TokenState s, Scratch ws, Tape.BlockTape tape, float[] spare,
                    TokenReducer reducer, Trace trace) {
        final int c = dim, i = index;
        if ((eva != null || swiglu != null) && tape != null) throw new IllegalStateException("EVA and SwiGLU blocks run for inference only");
        final boolean post = eva != null && eva.postNorm();
        if (reducer.restoreBefore(i) && s.waiting() > 0) {
            // parked tokens come back before this block (Cropr's last-layer fusion)
            if (tape != null) tape.restore = new PlanApplier.Recording();
            spare = PlanApplier.restore(par, s, spare, tape == null ? null : tape.restore);
        } else if (tape != null) {
            tape.restore = null;
        }
        trace.recordCounts(i, s, false);
        int t = s.total();
        float[] x = s.x();
        float[] ln = tape == null ? ws.ln : tape.ln1, qkv = tape == null ? ws.qkv : tape.qkv;
        float[] attn = tape == null ? ws.attn : tape.attn;
        if (tape != null) {
            tape.offsetsIn = s.offsets();
            System.arraycopy(x, 0, tape.xin, 0, t * c);
        }
        // x ← x + proj(MHSA(LN1(x)))   (post-norm: x ← x + LN1(proj(MHSA(x))))
        long t0 = System.nanoTime();
        if (!post) {
            LayerNorm.forward(par, x, 0, c, t, c, norm1Weight.value, norm1Bias.value, eps, ln, 0, c,
                    tape == null ? null : tape.mean1, tape == null ? null : tape.rstd1);
        }
        long t1 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.NORM, t1 - t0);
        attnQkv.forward(par, post ? x : ln, t, qkv, Gemm.Mode.SET);
        // EVA: q and k turn by each token's position (reducers then see the rotated keys, as attention does)
        if (eva != null && eva.rope() != null) eva.rope().apply(par, qkv, t, c, heads, s.pos());
        long t2 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.QKV, t2 - t1);
        Set<Probe> wanted = reducer.probes(i);
        Attention.Probes ap = null;
        if (tape != null || wanted.contains(Probe.CLS_ATTENTION) || wanted.contains(Probe.ATTENTION_RECEIVED)) {
            ap = new Attention.Probes();
            if (wanted.contains(Probe.CLS_ATTENTION)) ap.clsRow = new float[t * heads];
            if (wanted.contains(Probe.ATTENTION_RECEIVED)) ap.received = new float[t * heads];
            if (tape != null) ap.probs = tape.probs;
        }
        float[] keyBias = null;
        MaskedTraining masked = tape == null ? null : reducer.maskedTraining();
        Attention.KeyMask keyMask = null;
        if (masked != null) {
            // tokens stay in place; the method's mask takes them out of attention
            keyBias = masked.keyBias(i);
            keyMask = masked.keyMask(i);
            ap.received = new float[t * heads];
            if (tape.rowEps == null) tape.rowEps = new float[tape.probs.length][];
            ap.rowEps = tape.rowEps;
        } else if (reducer.proportionalAttention() && s.size() != null) {
            keyBias = new float[t];
            float[] size = s.size();
            for (int j = 0; j < t; j++) keyBias[j] = (float) Math.log(size[j]);
        }
        if (tape != null) {
            tape.masked = masked;
            tape.keyMask = keyMask;
            tape.keyBias = keyBias;
        }
        Attention.forward(par, qkv, s.offsets(), s.batch(), c, heads, keyBias, keyMask, attn, ap);
        if (eva != null && eva.attnNormWeight() != null) {
            LayerNorm.forward(par, attn, 0, c, t, c, eva.attnNormWeight().value, eva.attnNormBias().value, eps, attn, 0, c, null, null);
        }
        long t3 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.ATTENTION, t3 - t2);
        addBranch(par, attnProj, attn, t, x, s.offsets(), tape == null ? null : tape.keep1, tape, ls1Gamma, ws,
                post ? norm1Weight : null, post ? norm1Bias : null);
        long t4 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.PROJ, t4 - t3);
        // reduction inside the block (timed: the method's own overhead)
        BlockProbes probes = wanted.isEmpty() || masked != null ? null : ProbeCollector.collect(par, wanted, s, qkv, ap, heads);
        Plan plan = null;
        if (masked != null) masked.forward(i, par, x, c, qkv, ap.received, heads);
        else plan = reducer.inBlock(i, s, probes, trace);
        if (tape != null) tape.inPlan = plan == null ? null : new PlanApplier.Recording();
        if (plan != null) spare = PlanApplier.apply(par, s, plan, spare, tape == null ? null : tape.inPlan);
        long t5 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.REDUCE, t5 - t4);
        trace.recordCounts(i, s, true);
        t = s.total();
        x = s.x();
        // x ← x + fc2(GELU(fc1(LN2(x))))   (post-norm: x ← x + LN2(fc2(GELU(fc1(x)))))
        if (tape != null) {
            tape.offsetsMid = s.offsets();
            System.arraycopy(x, 0, tape.xmid, 0, t * c);
            ln = tape.ln2;
        }
        if (post) {
            ln = x; // the MLP reads the rows themselves (fc2's output goes to ws.ln, after fc1 has read them)
        } else {
            LayerNorm.forward(par, x, 0, c, t, c, norm2Weight.value, norm2Bias.value, eps, ln, 0, c,
                    tape == null ? null : tape.mean2, tape == null ? null : tape.rstd2);
        }
        long t6 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.NORM, t6 - t5);
        float[] h;
        if (swiglu != null) {
            h = swiglu(par, ln, t, ws);
        } else if (tape == null) {
            h = ws.hidden;
            if (act == ViTConfig.Act.GELU) {
                mlpFc1.forward(par, ln, t, h, Gemm.Mode.SET_GELU);
            } else {
                mlpFc1.forward(par, ln, t, h, Gemm.Mode.SET);
                final int hid = hidden;
                final float[] hh = h;
                par.forRange(t, 64, (r0, r1) -> VecMath.quickGeluInPlace(hh, r0 * hid, (r1 - r0) * hid));
            }
        } else {
            // training keeps the pre-activation for GELU's backward
            mlpFc1.forward(par, ln, t, tape.hpre, Gemm.Mode.SET);
            float[] hp = tape.hpre;
            h = tape.h;
            final int hid = hidden;
            final float[] hh = h;
            par.forRange(t, 64, (r0, r1) -> {
                System.arraycopy(hp, r0 * hid, hh, r0 * hid, (r1 - r0) * hid);
                VecMath.geluInPlace(hh, r0 * hid, (r1 - r0) * hid);
            });
        }
        long t7 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.FC1, t7 - t6);
        addBranch(par, mlpFc2, h, t, x, s.offsets(), tape == null ? null : tape.keep2, tape, ls2Gamma, ws,
                post ? norm2Weight : null, post ? norm2Bias : null);
        long t8 = System.nanoTime();
        trace.addPhaseNanos(Trace.Phase.FC2, t8 - t7);
        Plan after = reducer.afterBlock(i, s, trace);
        if (tape != null) tape.afterPlan = after == null ? null : new PlanApplier.Recording();
        if (after != null) spare = PlanApplier.apply(par, s, after, spare, tape == null ? null : tape.afterPlan);
        trace.addPhaseNanos(Trace.Phase.REDUCE, System.nanoTime() - t8);
        return spare;
    }

    /** SwiGLU's hidden rows {@code norm(SiLU(g) ⊙ v)} ({@code [t, width]}, in {@code ws.gated}) from the normalised rows {@code ln}. */
    private float[] swiglu(Parallel par, float[] ln, int t, Scratch ws) {
        final int w = swiglu.width();
        if (ws.gated.length < t * w) ws.gated = new float[t * w];
        final float[] gv = ws.hidden, out = ws.gated;
        mlpFc1.forward(par, ln, t, gv, Gemm.Mode.SET);
        par.forRange(t, 32, (r0, r1) -> {
            for (int r = r0; r < r1; r++) VecMath.swiglu(gv, r * 2 * w, out, r * w, w);
        });
        if (swiglu.normWeight() != null) {
            LayerNorm.forward(par, out, 0, w, t, w, swiglu.normWeight().value, swiglu.normBias().value, eps, out, 0, w, null, null);
        }
        return out;
    }

    /**
     * x ← x + lin(in); with LayerScale x ← x + γ ⊙ lin(in), post-norm x ← x + LN(lin(in))
     * (inference only: its scratch {@code ln} is free by then); under drop path
     * x ← x + keep[image]·lin(in) row by row.
     */
    private void addBranch(Parallel par, Linear lin, float[] in, int rows, float[] x, int[] offsets, float[] keep,
                           Tape.BlockTape tape, Param gamma, Scratch ws, Param normWeight, Param normBias) {
        if (gamma != null || normWeight != null) {
            final int c = dim;
            final float[] y = ws.ln, g = gamma == null ? null : gamma.value;
            lin.forward(par, in, rows, y, Gemm.Mode.SET);
            if (normWeight != null) LayerNorm.forward(par, y, 0, c, rows, c, normWeight.value, normBias.value, eps, y, 0, c, null, null);
            par.forRange(rows, 64, (r0, r1) -> {
                if (g == null) for (int o = r0 * c; o < r1 * c; o++) x[o] += y[o];
                else for (int r = r0; r < r1; r++) for (int j = 0, o = r * c; j < c; j++) x[o + j] += g[j] * y[o + j];
            });
            return;
        }
        if (keep == null) {
            lin.forward(par, in, rows, x, Gemm.Mode.ADD);
            return;
        }
        float[] y = tape.branch;
        lin.forward(par, in, rows, y, Gemm.Mode.SET);
        scaleRows(y, x, offsets, keep, dim, true);
    }

    /** {@code dst[rows of image b] (+)= keep[b]·src[rows of image b]}. */
    private static void scaleRows(float[] src, float[] dst, int[] offsets, float[] keep, int c, boolean add) {
        for (int b = 0; b + 1 < offsets.length; b++) {
            float k = keep[b];
            for (int i = offsets[b] * c, e = offsets[b + 1] * c; i < e; i++) dst[i] = add ? dst[i] + k * src[i] : k * src[i];
        }
    }

    /**
     * Backward of {@link #forward}: from {@code dx = dL/d(block output)} (in {@code g.dx}), leaves
     * dL/d(block input) in {@code g.dx} and adds every parameter gradient. Plans are linear maps
     * of the rows with fixed decisions, so their backward is the transposed gather; sizes (and so
     * proportional attention's bias) are constants of the forward pass.
     */
    void backward(Parallel par, Tape.BlockTape a, Tape.Grads g) {
        final int c = dim, hid = hidden;
        if (a.afterPlan != null) g.planBackward(par, a.afterPlan, c);
        int tm = a.offsetsMid[a.offsetsMid.length - 1], tin = a.offsetsIn[a.offsetsIn.length - 1];
        // x_out = xmid + fc2(gelu(fc1(LN2(xmid))))
        float[] dy2 = g.dx;
        if (a.keep2 != null) { // drop path: the branch saw keep·dx
            scaleRows(g.dx, g.dattn, a.offsetsMid, a.keep2, c, false);
            dy2 = g.dattn;
        }
        mlpFc2.backward(par, a.h, dy2, tm, g.dh, false, g.scratch);
        float[] hp = a.hpre, dh = g.dh;
        par.forRange(tm, 64, (r0, r1) -> VecMath.geluBackwardInPlace(dh, hp, r0 * hid, (r1 - r0) * hid));
        mlpFc1.backward(par, a.ln2, dh, tm, g.dln, false, g.scratch);
        LayerNorm.backward(par, a.xmid, c, tm, c, norm2Weight.value, a.mean2, a.rstd2, g.dln, c, g.dx, c, true,
                norm2Weight.grad, norm2Bias.grad);
        if (a.inPlan != null) g.planBackward(par, a.inPlan, c);
        float[] dReceived = a.masked == null ? null : a.masked.backward(index, par, g.dx, c);
        // xmid = plan(xin + proj(attn(LN1(xin))))
        float[] dy1 = g.dx;
        if (a.keep1 != null) {
            scaleRows(g.dx, g.dln, a.offsetsIn, a.keep1, c, false);
            dy1 = g.dln;
        }
        attnProj.backward(par, a.attn, dy1, tin, g.dattn, false, g.scratch);
        if (a.masked == null) {
            Attention.backward(par, a.qkv, a.offsetsIn, a.offsetsIn.length - 1, c, heads, a.probs, g.dattn, g.dqkv);
        } else {
            Attention.KeyGrads kg = new Attention.KeyGrads();
            kg.mask = new float[tin];
            Attention.backward(par, a.qkv, a.offsetsIn, a.offsetsIn.length - 1, c, heads, a.probs, a.rowEps, a.keyMask,
                    g.dattn, g.dqkv, kg, dReceived);
            a.masked.afterAttention(index, g.dqkv, kg.mask, c, heads);
        }
        attnQkv.backward(par, a.ln1, g.dqkv, tin, g.dln, false, g.scratch);
        LayerNorm.backward(par, a.xin, c, tin, c, norm1Weight.value, a.mean1, a.rstd1, g.dln, c, g.dx, c, true,
                norm1Weight.grad, norm1Bias.grad);
        if (a.restore != null) g.planBackward(par, a.restore, c);
    }
}
