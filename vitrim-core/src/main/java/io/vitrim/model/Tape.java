package io.vitrim.model;

import io.vitrim.config.ViTConfig;
import io.vitrim.engine.Parallel;
import io.vitrim.reduce.PlanApplier;
import io.vitrim.reduce.Trace;

/**
 * What a training forward keeps for the backward pass, for one batch size: per block the
 * activations at the token counts that block saw (buffers sized for the unreduced count, so a
 * step allocates nothing large), the head's inputs, and the gradient buffers of the backward.
 * One tape per training thread; reused across steps.
 */
public final class Tape {
    final int batch;
    final float[] cols;                 // [B·np, 3·P·P] image patches (the conv's input)
    final BlockTape[] blocks;
    final float[] pooledIn, feats, featMean, featRstd; // head: pooled rows, their norm, its statistics
    float[] logits;
    PlanApplier.Recording outputRestore; // parked tokens restored before the head, or null
    int[] finalOffsets;                 // token rows of the last state
    float[] finalSize;                  // its sizes (size-weighted pooling), or null
    int poolFrom;                       // first token average pooling read
    final Grads grads;
    Trace trace;
    Seg seg;                            // a segmentation forward's decoder activations, or null

    /** What the segmentation decoder keeps: the final rows (all tokens, parked ones restored), their norm and logits. */
    static final class Seg {
        final int classes;
        final float[] normIn, normed, mean, rstd, rowLogits, dnormed, drowLogits;
        int rows;
        int[] offsets;
        int[][] source;                 // per image: original token → final row within the image

        Seg(int maxRows, int c, int classes) {
            this.classes = classes;
            normIn = new float[maxRows * c];
            normed = new float[maxRows * c];
            dnormed = new float[maxRows * c];
            mean = new float[maxRows];
            rstd = new float[maxRows];
            rowLogits = new float[maxRows * classes];
            drowLogits = new float[maxRows * classes];
        }
    }

    /** The decoder buffers for {@code classes} classes (made on first use). */
    Seg seg(int classes) {
        if (seg == null || seg.classes != classes) seg = new Seg(maxRows, c, classes);
        return seg;
    }

    private final int maxRows, c;

    /** One block's activations. */
    static final class BlockTape {
        int[] offsetsIn, offsetsMid;      // rows entering attention / the MLP
        final float[] xin, ln1, mean1, rstd1, qkv, attn, xmid, ln2, mean2, rstd2, hpre, h;
        final float[][] probs;            // per (image, head) post-softmax [n, n]
        PlanApplier.Recording restore, inPlan, afterPlan;
        float[] keep1, keep2;             // drop path: per image 0 or 1/(1−p) on the attention / MLP branch, or null
        float[] branch;                   // shared scratch for a branch's output under drop path
        io.vitrim.reduce.MaskedTraining masked; // the method's masked training graph, or null
        io.vitrim.engine.Attention.KeyMask keyMask;
        float[] keyBias;
        float[][] rowEps;                 // with a key mask: per task ε/(nZ) of each query row

        BlockTape(int rows, int c, int hid, int tasks) {
            xin = new float[rows * c];
            ln1 = new float[rows * c];
            mean1 = new float[rows];
            rstd1 = new float[rows];
            qkv = new float[rows * 3 * c];
            attn = new float[rows * c];
            xmid = new float[rows * c];
            ln2 = new float[rows * c];
            mean2 = new float[rows];
            rstd2 = new float[rows];
            hpre = new float[rows * hid];
            h = new float[rows * hid];
            probs = new float[tasks][];
        }
    }

    /** Gradient buffers of one backward pass; {@link #dx} holds dL/d(current rows). */
    static final class Grads {
        float[] dx, dxSpare;
        final float[] dln, dqkv, dattn, dh;
        final Linear.Scratch scratch = new Linear.Scratch();
        final PlanApplier.SlotGrads slots = new PlanApplier.SlotGrads();

        Grads(int rows, int c, int hid) {
            dx = new float[rows * c];
            dxSpare = new float[rows * c];
            dln = new float[rows * c];
            dqkv = new float[rows * 3 * c];
            dattn = new float[rows * c];
            dh = new float[rows * hid];
        }

        /** dx ← Pᵀ·dx through an applied plan (rows after → rows before). */
        void planBackward(Parallel par, PlanApplier.Recording plan, int c) {
            plan.backward(par, dx, c, dxSpare, slots);
            float[] t = dx;
            dx = dxSpare;
            dxSpare = t;
        }
    }

    Tape(ViTConfig cfg, int batch) {
        this.batch = batch;
        int rows = batch * cfg.numTokens(), c = cfg.embedDim(), hid = cfg.mlpHidden();
        this.maxRows = rows;
        this.c = c;
        int p = cfg.patchSize();
        cols = new float[batch * cfg.numPatches() * 3 * p * p];
        blocks = new BlockTape[cfg.depth()];
        float[] branch = new float[rows * c];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = new BlockTape(rows, c, hid, batch * cfg.numHeads());
            blocks[i].branch = branch;
        }
        pooledIn = new float[batch * c];
        feats = new float[batch * c];
        featMean = new float[batch];
        featRstd = new float[batch];
        grads = new Grads(Math.max(rows, batch * cfg.numPatches()), c, hid);
    }

    /**
     * Stochastic depth for the next training forward (timm's {@code DropPath}): in block i each
     * image's attention and MLP branch is dropped with probability {@code rates[i]} and kept
     * ones are scaled by 1/(1−p); inference never drops. The draws come from {@code seed} alone,
     * so a resumed run repeats them. {@code rates} null or all zero: off.
     */
    public void dropPath(double[] rates, long seed) {
        for (int i = 0; i < blocks.length; i++) {
            double p = rates == null ? 0 : rates[i];
            blocks[i].keep1 = p > 0 ? keep(p, new java.util.SplittableRandom(seed * 31 + 2L * i)) : null;
            blocks[i].keep2 = p > 0 ? keep(p, new java.util.SplittableRandom(seed * 31 + 2L * i + 1)) : null;
        }
    }

    /** Sets block {@code i}'s per-image branch factors directly (tests); null = no drop path there. */
    void dropPath(int i, float[] keepAttn, float[] keepMlp) {
        blocks[i].keep1 = keepAttn;
        blocks[i].keep2 = keepMlp;
    }

    private float[] keep(double p, java.util.SplittableRandom r) {
        float[] k = new float[batch];
        for (int b = 0; b < batch; b++) k[b] = r.nextDouble() < 1 - p ? (float) (1 / (1 - p)) : 0f;
        return k;
    }

    public int batch() {
        return batch;
    }

    /** Token counts (and timings) of the last training forward. */
    public Trace trace() {
        return trace;
    }

    /** Logits [B, K] of the last training forward. */
    public float[] logits() {
        return logits;
    }
}
