package io.vitrim.reduce;

import io.vitrim.engine.Attention;
import io.vitrim.engine.Parallel;

import java.util.Arrays;

/**
 * LTMP's training model (Mxbonn/ltmp {@code LTMPBlock}; docs/methods.md, LTMP): tokens stay in
 * place and a mask takes merged and pruned ones out of attention, so the thresholds get
 * gradients. Per block, after the attention residual, with state (x, size, mask) per image of N
 * rows, A = even rows, B = odd rows:
 * <ol>
 *   <li>importance s_j = (1/(H·N)) Σ_h Σ_i P_hij over all N query rows (s_0 = +∞); metric k̂ =
 *       normalised head-mean keys times the (constant) mask; for each A token its best B partner
 *       by cosine, the class token's row −∞;</li>
 *   <li>merge gate g_a = STE(σ((max_a − θm)/τ)); A tokens with g = 1 add x·size and size into
 *       their partner (g constant there), whose importance becomes the max with theirs; the
 *       sequence becomes [all A (unchanged), all B] with mask [1 − g_A (0 where A was masked), mask_B];</li>
 *   <li>prune gate p_j = STE(σ((s_j − θp)/τ)) replaces the mask wherever it is not 0.</li>
 * </ol>
 * STE: the forward value is the hard 0/1 gate ({@code σ > ½}), the gradient that of σ. Masked
 * tokens stay in the sequence (the MLP runs on them); the masked softmax has the training ε
 * ({@link Attention.KeyMask}). {@link #regularizer} is the reference's MAC-ratio loss on the mean
 * masks. The thresholds are the caller's arrays (one value each), read at every forward; their
 * gradients are added into the caller's arrays.
 */
public final class LtmpTraining implements TokenReducer, MaskedTraining {
    /** The reference's training-mode softmax ε. */
    public static final float EPS = 1e-5f;

    private final float[][] merge, prune, mergeGrad, pruneGrad;
    private final float tau;
    private final int depth, headDim;
    private int batch, n, nA, total;
    private final State[] st;

    /** What one block's forward keeps for its backward. */
    private static final class State {
        float[] maskIn, sizeIn, maskMid, maskOut, sizeOut, dMaskOut;
        float[] s, sNew, softP, khat, knorm;       // importance; k̂ (masked) and ‖k̄‖ per row
        float[] softM;                                // merge gate σ per A token (its best similarity is only needed here)
        int[] nodeIdx;
        boolean[] hardM;
        float[] dKbar;                                // [T, hd] from backward, added to dqkv after the attention backward
        float[] buf;                                  // [T, C] scratch
    }

    /**
     * @param merge,prune         per block a one-value array with θm / θp (read at every forward)
     * @param mergeGrad,pruneGrad per block a one-value array receiving dL/dθ (null entries: not trained)
     * @param tau                 temperature of the gates' sigmoid
     */
    public LtmpTraining(float[][] merge, float[][] prune, float[][] mergeGrad, float[][] pruneGrad, float tau, int headDim) {
        if (!(tau > 0)) throw new IllegalArgumentException("tau must be > 0: " + tau);
        this.merge = merge;
        this.prune = prune;
        this.mergeGrad = mergeGrad;
        this.pruneGrad = pruneGrad;
        this.tau = tau;
        this.depth = merge.length;
        this.headDim = headDim;
        st = new State[depth];
        for (int i = 0; i < depth; i++) st[i] = new State();
    }

    @Override
    public String spec() {
        return "ltmp-training:tau=" + tau;
    }

    @Override
    public MaskedTraining maskedTraining() {
        return this;
    }

    @Override
    public void begin(int batch, int tokens) {
        this.batch = batch;
        this.n = tokens;
        this.nA = (tokens + 1) / 2;
        int t = batch * tokens;
        if (total != t) {
            total = t;
            for (State s : st) {
                s.maskMid = new float[t];
                s.maskOut = new float[t];
                s.sizeOut = new float[t];
                s.dMaskOut = new float[t];
                s.s = new float[t];
                s.sNew = new float[t];
                s.softP = new float[t];
                s.khat = new float[t * headDim];
                s.knorm = new float[t];
                s.softM = new float[batch * nA];
                s.nodeIdx = new int[batch * nA];
                s.hardM = new boolean[batch * nA];
                s.dKbar = new float[t * headDim];
            }
        }
        float[] ones = new float[t];
        Arrays.fill(ones, 1f);
        st[0].maskIn = ones;
        st[0].sizeIn = ones;
        for (int i = 1; i < depth; i++) {
            st[i].maskIn = st[i - 1].maskOut;
            st[i].sizeIn = st[i - 1].sizeOut;
        }
        for (State s : st) Arrays.fill(s.dMaskOut, 0f);
    }

    @Override
    public Attention.KeyMask keyMask(int block) {
        return new Attention.KeyMask(st[block].maskIn, EPS);
    }

    @Override
    public float[] keyBias(int block) {
        float[] size = st[block].sizeIn, bias = new float[total];
        for (int j = 0; j < total; j++) bias[j] = (float) Math.log(size[j]);
        return bias;
    }

    private static float sigmoid(float z) {
        return 1f / (1f + (float) Math.exp(-z));
    }

    @Override
    public void forward(int block, Parallel par, float[] x, int c, float[] qkv, float[] received, int heads) {
        State s = st[block];
        if (s.buf == null || s.buf.length < total * c) s.buf = new float[total * c];
        final float thM = merge[block][0], thP = prune[block][0];
        final int hd = headDim, ld = 3 * c, nb = n / 2;
        this.heads = heads;
        par.forEach(batch, b -> {
            int o = b * n;
            float[] maskIn = s.maskIn, sizeIn = s.sizeIn;
            // importance and the normalised, masked metric
            for (int j = 0; j < n; j++) {
                float acc = 0f;
                for (int h = 0; h < heads; h++) acc += received[(o + j) * heads + h];
                s.s[o + j] = j == 0 ? Float.POSITIVE_INFINITY : acc / (heads * n);
                float nn = 0f;
                for (int e = 0; e < hd; e++) {
                    float k = 0f;
                    for (int h = 0; h < heads; h++) k += qkv[(o + j) * ld + c + h * hd + e];
                    k /= heads;
                    s.khat[(o + j) * hd + e] = k;
                    nn += k * k;
                }
                float norm = (float) Math.sqrt(nn);
                s.knorm[o + j] = norm;
                for (int e = 0; e < hd; e++) s.khat[(o + j) * hd + e] = s.khat[(o + j) * hd + e] / norm * maskIn[o + j];
            }
            // best B partner of every A token; the class token's row is −∞
            for (int ia = 0; ia < nA; ia++) {
                int a = o + 2 * ia, q = b * nA + ia;
                float best = Float.NEGATIVE_INFINITY;
                int arg = 0;
                if (ia > 0) {
                    for (int ib = 0; ib < nb; ib++) {
                        int bb = o + 2 * ib + 1;
                        float d = 0f;
                        for (int e = 0; e < hd; e++) d += s.khat[a * hd + e] * s.khat[bb * hd + e];
                        if (ib == 0 || d > best) { // the first of equal maxima
                            best = d;
                            arg = ib;
                        }
                    }
                }
                s.nodeIdx[q] = arg;
                float soft = sigmoid((best - thM) / tau);
                s.softM[q] = soft;
                s.hardM[q] = soft > 0.5f;
            }
            // merge (x·size into the partner), reorder [A, B], divide by size
            float[] buf = s.buf;
            for (int ia = 0; ia < nA; ia++) {
                int a = o + 2 * ia, to = o + ia;
                for (int e = 0; e < c; e++) buf[to * c + e] = x[a * c + e] * sizeIn[a];
                s.sizeOut[to] = sizeIn[a];
                s.sNew[to] = s.s[a];
                s.maskMid[to] = maskIn[a] != 0f ? (s.hardM[b * nA + ia] ? 0f : 1f) : maskIn[a];
            }
            for (int ib = 0; ib < nb; ib++) {
                int bb = o + 2 * ib + 1, to = o + nA + ib;
                for (int e = 0; e < c; e++) buf[to * c + e] = x[bb * c + e] * sizeIn[bb];
                s.sizeOut[to] = sizeIn[bb];
                s.sNew[to] = s.s[bb];
                s.maskMid[to] = maskIn[bb];
            }
            for (int ia = 0; ia < nA; ia++) {
                int q = b * nA + ia, a = o + 2 * ia, to = o + nA + s.nodeIdx[q];
                if (s.hardM[q]) {
                    for (int e = 0; e < c; e++) buf[to * c + e] += x[a * c + e] * sizeIn[a];
                    s.sizeOut[to] += sizeIn[a];
                }
                // an unmerged source takes part in the max too, with importance 0
                s.sNew[to] = Math.max(s.sNew[to], mergeScore(s, b, ia));
            }
            for (int j = o; j < o + n; j++) {
                float sz = s.sizeOut[j];
                for (int e = 0; e < c; e++) x[j * c + e] = buf[j * c + e] / sz;
            }
            // prune gates replace the mask where it is not 0
            for (int j = o; j < o + n; j++) {
                float soft = sigmoid((s.sNew[j] - thP) / tau);
                s.softP[j] = soft;
                s.maskOut[j] = s.maskMid[j] != 0f ? (soft > 0.5f ? 1f : 0f) : s.maskMid[j];
            }
        });
    }

    @Override
    public float[] backward(int block, Parallel par, float[] dx, int c) {
        State s = st[block];
        final int hd = headDim, nb = n / 2;
        float[] dMaskIn = block > 0 ? st[block - 1].dMaskOut : null;
        float[] dRec = new float[total];
        double[] dThM = new double[batch], dThP = new double[batch];
        final float[] buf = s.buf;
        par.forEach(batch, b -> {
            int o = b * n;
            float[] maskIn = s.maskIn, sizeIn = s.sizeIn;
            // x: A rows are copies (x·size/size), B rows size-weighted means of partner and sources
            Arrays.fill(buf, o * c, (o + n) * c, 0f);
            for (int ia = 0; ia < nA; ia++) {
                int a = o + 2 * ia, from = o + ia;
                for (int e = 0; e < c; e++) buf[a * c + e] += dx[from * c + e];
            }
            for (int ib = 0; ib < nb; ib++) {
                int bb = o + 2 * ib + 1, from = o + nA + ib;
                float w = sizeIn[bb] / s.sizeOut[from];
                for (int e = 0; e < c; e++) buf[bb * c + e] += dx[from * c + e] * w;
            }
            for (int ia = 0; ia < nA; ia++) {
                int q = b * nA + ia;
                if (!s.hardM[q]) continue;
                int a = o + 2 * ia, from = o + nA + s.nodeIdx[q];
                float w = sizeIn[a] / s.sizeOut[from];
                for (int e = 0; e < c; e++) buf[a * c + e] += dx[from * c + e] * w;
            }
            System.arraycopy(buf, o * c, dx, o * c, n * c);
            // prune gates
            float[] dMaskMid = new float[n], dsNew = new float[n];
            double gp = 0;
            for (int j = 0; j < n; j++) {
                float dm = s.dMaskOut[o + j];
                if (s.maskMid[o + j] != 0f) {
                    float sp = s.softP[o + j], dz = dm * sp * (1 - sp);
                    gp -= dz / tau;
                    dsNew[j] = dz / tau;
                } else {
                    dMaskMid[j] = dm;
                }
            }
            dThP[b] = gp;
            // merge gates: the A mask is 1 − g (or the old 0); B masks pass through
            double gm = 0;
            float[] dNodeMax = new float[nA];
            for (int ia = 0; ia < nA; ia++) {
                int a = o + 2 * ia, q = b * nA + ia;
                if (maskIn[a] != 0f) {
                    float dg = -dMaskMid[ia], sm = s.softM[q], dz = dg * sm * (1 - sm);
                    gm -= dz / tau;
                    dNodeMax[ia] = dz / tau;
                } else if (dMaskIn != null) {
                    dMaskIn[a] += dMaskMid[ia];
                }
            }
            if (dMaskIn != null) for (int ib = 0; ib < nb; ib++) dMaskIn[o + 2 * ib + 1] += dMaskMid[nA + ib];
            dThM[b] = gm;
            // importance: A copies; B's max goes to its winners (ties share, as torch's amax)
            float[] ds = new float[n];
            for (int ia = 0; ia < nA; ia++) ds[2 * ia] += dsNew[ia];
            for (int ib = 0; ib < nb; ib++) {
                float g = dsNew[nA + ib];
                if (g == 0f) continue;
                float max = s.sNew[o + nA + ib];
                int count = s.s[o + 2 * ib + 1] == max ? 1 : 0;
                for (int ia = 0; ia < nA; ia++) {
                    int q = b * nA + ia;
                    if (s.nodeIdx[q] == ib && mergeScore(s, b, ia) == max) count++;
                }
                float share = g / count;
                if (s.s[o + 2 * ib + 1] == max) ds[2 * ib + 1] += share;
                for (int ia = 1; ia < nA; ia++) {
                    int q = b * nA + ia;
                    if (s.nodeIdx[q] == ib && s.hardM[q] && mergeScore(s, b, ia) == max) ds[2 * ia] += share;
                }
            }
            ds[0] = 0f; // the class token's importance is the constant +∞
            for (int j = 0; j < n; j++) dRec[o + j] = ds[j] / (float) (heads * n);
            // metric: node max = k̂_a · k̂_partner; k̂ = k̄/‖k̄‖ · mask (mask constant)
            float[] dk = new float[n * hd];
            for (int ia = 1; ia < nA; ia++) {
                float d = dNodeMax[ia];
                if (d == 0f) continue;
                int a = 2 * ia, bb = 2 * s.nodeIdx[b * nA + ia] + 1;
                for (int e = 0; e < hd; e++) {
                    dk[a * hd + e] += d * s.khat[(o + bb) * hd + e];
                    dk[bb * hd + e] += d * s.khat[(o + a) * hd + e];
                }
            }
            for (int j = 0; j < n; j++) {
                // masks are exactly 0 or 1 in the forward: a masked token's metric is 0 and gets no
                // gradient; otherwise k̂ = k̄/‖k̄‖ and dk̄ = (dk̂ − k̂·(k̂·dk̂)) / ‖k̄‖
                int r = (o + j) * hd;
                if (maskIn[o + j] == 0f) {
                    Arrays.fill(s.dKbar, r, r + hd, 0f);
                    continue;
                }
                float dot = 0f, norm = s.knorm[o + j];
                for (int e = 0; e < hd; e++) dot += s.khat[r + e] * dk[j * hd + e];
                for (int e = 0; e < hd; e++) s.dKbar[r + e] = (dk[j * hd + e] - s.khat[r + e] * dot) / norm;
            }
        });
        double gm = 0, gp = 0;
        for (int b = 0; b < batch; b++) {
            gm += dThM[b];
            gp += dThP[b];
        }
        if (mergeGrad != null && mergeGrad[block] != null) mergeGrad[block][0] += (float) gm;
        if (pruneGrad != null && pruneGrad[block] != null) pruneGrad[block][0] += (float) gp;
        return dRec;
    }

    private int heads = 1; // of the last forward, for the importance's 1/(H·N)

    /** What A token {@code ia} of image {@code b} offers its partner's importance max (0 unless merged; the class token 0). */
    private float mergeScore(State s, int b, int ia) {
        return ia == 0 || !s.hardM[b * nA + ia] ? 0f : s.s[b * n + 2 * ia];
    }

    @Override
    public void afterAttention(int block, float[] dqkv, float[] dMask, int c, int heads) {
        State s = st[block];
        final int hd = headDim, ld = 3 * c;
        for (int j = 0; j < total; j++) {
            for (int h = 0; h < heads; h++) {
                for (int e = 0; e < hd; e++) dqkv[j * ld + c + h * hd + e] += s.dKbar[j * hd + e] / heads;
            }
        }
        if (block > 0 && dMask != null) {
            float[] d = st[block - 1].dMaskOut;
            for (int j = 0; j < total; j++) d[j] += dMask[j];
        }
    }

    /**
     * The reference's MAC-ratio regulariser {@code λ·(r − target)²} with
     * {@code r = (1/L) Σ_l [2·m̄_{l−1}·n·d² + (m̄_{l−1}·n)²·d + m̄_l·n·d·h] / (2·n·d² + n²·d + n·d·h)},
     * m̄_l the mean of block l's output mask over batch and tokens (m̄_{−1} = 1), h the MLP
     * width — half of each part's MACs; the reference writes {@code 4·n·d²} for the MLP, i.e.
     * h = 4d, where the two agree. Returns the loss and adds its gradient to the masks. Call
     * after the forward, before the backward.
     */
    public double regularizer(double target, double lambda, int dim, int mlp) {
        double[] m = new double[depth + 1];
        m[0] = 1;
        for (int l = 0; l < depth; l++) {
            double sum = 0;
            for (float v : st[l].maskOut) sum += v;
            m[l + 1] = sum / total;
        }
        double nd = n, d = dim, h = mlp, den = 2 * nd * d * d + nd * nd * d + nd * d * h, r = 0;
        for (int l = 0; l < depth; l++) r += (2 * m[l] * nd * d * d + (m[l] * nd) * (m[l] * nd) * d + m[l + 1] * nd * d * h) / den / depth;
        double dr = 2 * lambda * (r - target);
        for (int l = 0; l < depth; l++) {
            // m̄_l (output of block l) enters term l (as m_{l+1}) and term l+1 (as m_l)
            double g = nd * d * h / den / depth;
            if (l + 1 < depth) g += (2 * nd * d * d + 2 * m[l + 1] * nd * nd * d) / den / depth;
            float per = (float) (dr * g / total);
            float[] dm = st[l].dMaskOut;
            for (int j = 0; j < total; j++) dm[j] += per;
        }
        lastRatio = r;
        return lambda * (r - target) * (r - target);
    }

    private double lastRatio = Double.NaN;

    /** r of the last {@link #regularizer} call (the training graph's MAC ratio). */
    public double lastRatio() {
        return lastRatio;
    }

    /** Block {@code block}'s output mask of the last forward ([T]). */
    public float[] mask(int block) {
        return st[block].maskOut;
    }
}
