package io.vitrim.engine;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Multi-head self-attention over a packed batch: image {@code b} owns token rows
 * {@code [offsets[b], offsets[b+1])}, so images may have different token counts.
 *
 * <p>Per (image, head) task: {@code S = Q·Kᵀ} and {@code O = P·V} run on the packed GEMM
 * (K and V packed per task), the softmax in between adds the scale and an optional per-key
 * bias (proportional attention's {@code ln size}). Layouts follow timm: {@code qkv [T, 3C]} with
 * q, k, v at column offsets 0, C, 2C and head h at {@code h·hd} inside each; output {@code [T, C]}
 * head-major.
 *
 * <p>Logits are {@code (q·k)·scale + bias_j} as in timm 0.4.12 / ToMe.
 */
public final class Attention {
    private Attention() {}

    private static final int V = VecMath.VLEN;

    /** Optional per-head outputs a token reducer may ask for; any field may be null. */
    public static final class Probes {
        /** [T·H]: P[h][0][j] for each key j (the class-token query row), row-major (token, head). */
        public float[] clsRow;
        /** [T·H]: Σ_i P[h][i][j] (attention received by key j), row-major (token, head). */
        public float[] received;
        /**
         * Keep what backward needs per task ({@code [n, n]}): the post-softmax probabilities, or with
         * a key mask the unmasked weights {@code U = exp(l − max)/Z} (training: needed by backward).
         */
        public float[][] probs;
        /** With a key mask: per task {@code [n]}, each query row's {@code ε/(n·Z)} (the ε term of P). */
        public float[][] rowEps;
    }

    /**
     * A soft key mask: per key token {@code m_j ∈ [0, 1]}, applied as
     * {@code P_ij = (exp(l_ij − max_i)·m_j + ε/n) / (Σ_k exp(l_ik − max_i)·m_k + ε)} (LTMP's
     * masked softmax; ε = 0 outside its training mode). The row max runs over all keys, masked or
     * not. Unlike a bias {@code ln m}, it has a gradient at {@code m_j = 0}.
     */
    public record KeyMask(float[] mask, float eps) {}

    /** Gradients of the per-key terms, accumulated by {@link #backward} when not null. */
    public static final class KeyGrads {
        /** [T] dL/d(key bias): Σ over heads and query rows of dL/dlogit. */
        public float[] bias;
        /** [T] dL/d(key mask). */
        public float[] mask;
    }

    private static final class Scratch {
        float[] kPacked = new float[0];
        float[] vPacked = new float[0];
        float[] s = new float[0];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * @param qkv      [T, 3C] projected tokens
     * @param offsets  [B+1] token row ranges of the images
     * @param keyBias  [T] additive bias per key token (null = none)
     * @param out      [T, C] attention output (before proj)
     * @param probes   optional statistics (null = none)
     */
    public static void forward(Parallel par, float[] qkv, int[] offsets, int batch, int c, int heads,
                               float[] keyBias, float[] out, Probes probes) {
        forward(par, qkv, offsets, batch, c, heads, keyBias, null, out, probes);
    }

    /** As above, with an optional soft key mask (null = none). */
    public static void forward(Parallel par, float[] qkv, int[] offsets, int batch, int c, int heads,
                               float[] keyBias, KeyMask mask, float[] out, Probes probes) {
        final int hd = c / heads;
        final float scale = (float) (1.0 / Math.sqrt(hd));
        if (probes != null && probes.probs != null && probes.probs.length < batch * heads) {
            throw new IllegalArgumentException("probes.probs needs " + batch * heads + " slots");
        }
        if (mask != null && probes != null && probes.probs != null && (probes.rowEps == null || probes.rowEps.length < batch * heads)) {
            throw new IllegalArgumentException("with a key mask, probes.rowEps needs " + batch * heads + " slots");
        }
        par.forEach(batch * heads, task -> {
            int b = task / heads, h = task % heads;
            int o = offsets[b], n = offsets[b + 1] - o;
            head(qkv, o, n, c, h, hd, scale, keyBias, mask, out, probes, task);
        });
    }

    private static void head(float[] qkv, int o, int n, int c, int h, int hd, float scale, float[] keyBias, KeyMask mask,
                             float[] out, Probes probes, int task) {
        Scratch s = SCRATCH.get();
        int ld = 3 * c;
        int kSize = Gemm.packedSize(hd, n), vSize = Gemm.packedSize(n, hd);
        if (s.kPacked.length < kSize) s.kPacked = new float[kSize];
        if (s.vPacked.length < vSize) s.vPacked = new float[vSize];
        float[] p;
        if (mask != null) {
            // P in scratch for P·V; U (and ε/(nZ) per row) kept for backward when asked
            if (s.s.length < n * n) s.s = new float[n * n];
            p = s.s;
        } else if (probes != null && probes.probs != null) {
            p = probes.probs[task];
            if (p == null || p.length < n * n) p = probes.probs[task] = new float[n * n];
        } else {
            if (s.s.length < n * n) s.s = new float[n * n];
            p = s.s;
        }
        // Kᵀ [hd, n]: B[e][j] = k_j[e]
        Gemm.packB(qkv, o * ld + c + h * hd, 1, ld, hd, n, s.kPacked);
        // S = Q Kᵀ [n, n]
        Gemm.gemmSerial(qkv, o * ld + h * hd, ld, 1, n, s.kPacked, hd, n, p, 0, n, Gemm.Mode.SET);
        if (mask == null) {
            for (int i = 0; i < n; i++) softmaxRow(p, i * n, n, scale, keyBias, o);
        } else {
            float[] u = null, rowEps = null;
            if (probes != null && probes.probs != null) {
                u = probes.probs[task];
                if (u == null || u.length < n * n) u = probes.probs[task] = new float[n * n];
                rowEps = probes.rowEps[task];
                if (rowEps == null || rowEps.length < n) rowEps = probes.rowEps[task] = new float[n];
            }
            for (int i = 0; i < n; i++) maskedSoftmaxRow(p, i * n, n, scale, keyBias, o, mask.mask(), mask.eps(), u, rowEps, i);
        }
        if (probes != null) {
            int heads = c / hd;
            if (probes.clsRow != null) {
                for (int j = 0; j < n; j++) probes.clsRow[(o + j) * heads + h] = p[j];
            }
            if (probes.received != null) {
                for (int j = 0; j < n; j++) {
                    float acc = 0f;
                    for (int i = 0; i < n; i++) acc += p[i * n + j];
                    probes.received[(o + j) * heads + h] = acc;
                }
            }
        }
        // V [n, hd]
        Gemm.packB(qkv, o * ld + 2 * c + h * hd, ld, 1, n, hd, s.vPacked);
        // O = P V → out[o + i][h·hd + e]
        Gemm.gemmSerial(p, 0, n, 1, n, s.vPacked, n, hd, out, o * c + h * hd, c, Gemm.Mode.SET);
    }

    private static final class BackScratch {
        float[] pa = new float[0], dp = new float[0], pm = new float[0];
    }

    private static final ThreadLocal<BackScratch> BACK = ThreadLocal.withInitial(BackScratch::new);

    private static float[] grow(float[] a, int n) {
        return a.length >= n ? a : new float[n];
    }

    /**
     * Backward of {@link #forward} given the probabilities it kept ({@code probs[b·H + h]},
     * {@code [n, n]}) and {@code dOut [T, C]}: writes {@code dqkv [T, 3C]} (overwrites).
     * Per (image, head): {@code dV = Pᵀ·dO}, {@code dP = dO·Vᵀ},
     * {@code dS = P ⊙ (dP − rowsum(dP ⊙ P))·scale}, {@code dQ = dS·K}, {@code dK = dSᵀ·Q}.
     */
    public static void backward(Parallel par, float[] qkv, int[] offsets, int batch, int c, int heads,
                                float[][] probs, float[] dOut, float[] dqkv) {
        backward(par, qkv, offsets, batch, c, heads, probs, null, null, dOut, dqkv, null);
    }

    /**
     * As above, for a forward with a key bias and/or a {@link KeyMask}: with a mask, {@code probs}
     * and {@code rowEps} are what {@link Probes} kept. When {@code keyGrads} is not null, adds the
     * gradients of the key bias ({@code dL/dl_ij} summed over heads and query rows) and of the
     * mask ({@code Σ_i (dP_ij − Σ_k dP_ik P_ik)·U_ij}) into its arrays — summed over heads in
     * head order, so the result does not depend on the thread count.
     */
    public static void backward(Parallel par, float[] qkv, int[] offsets, int batch, int c, int heads,
                                float[][] probs, float[][] rowEps, KeyMask mask, float[] dOut, float[] dqkv,
                                KeyGrads keyGrads) {
        backward(par, qkv, offsets, batch, c, heads, probs, rowEps, mask, dOut, dqkv, keyGrads, null);
    }

    /**
     * As above, with an upstream gradient on the attention each key receives: {@code dReceived [T]}
     * is dL/dP_hij for every head h and query row i of key j (a loss on Σ_h Σ_i P_hij, LTMP's
     * importance, with its scaling folded in); null = none.
     */
    public static void backward(Parallel par, float[] qkv, int[] offsets, int batch, int c, int heads,
                                float[][] probs, float[][] rowEps, KeyMask mask, float[] dOut, float[] dqkv,
                                KeyGrads keyGrads, float[] dReceived) {
        final int hd = c / heads, ld = 3 * c;
        final float scale = (float) (1.0 / Math.sqrt(hd));
        final boolean wantBias = keyGrads != null && keyGrads.bias != null;
        final boolean wantMask = keyGrads != null && keyGrads.mask != null && mask != null;
        final float[][] partBias = wantBias ? new float[batch * heads][] : null;
        final float[][] partMask = wantMask ? new float[batch * heads][] : null;
        par.forEach(batch * heads, task -> {
            int b = task / heads, h = task % heads;
            int o = offsets[b], n = offsets[b + 1] - o;
            BackScratch s = BACK.get();
            s.pa = grow(s.pa, Math.max(Gemm.packedSize(n, hd), Gemm.packedSize(hd, n)));
            s.dp = grow(s.dp, n * n);
            float[] p = probs[task], u = null;
            if (mask != null) {
                // P = U ⊙ m + ε/(nZ), rebuilt from what forward kept
                u = p;
                s.pm = grow(s.pm, n * n);
                p = s.pm;
                float[] m = mask.mask(), re = rowEps[task];
                for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) p[i * n + j] = u[i * n + j] * m[o + j] + re[i];
            }
            // dV = Pᵀ dO : A = Pᵀ [n, n], B = dO_h [n, hd]
            Gemm.packB(dOut, o * c + h * hd, c, 1, n, hd, s.pa);
            Gemm.gemmSerial(p, 0, 1, n, n, s.pa, n, hd, dqkv, o * ld + 2 * c + h * hd, ld, Gemm.Mode.SET);
            // dP = dO Vᵀ : A = dO_h [n, hd], B = Vᵀ [hd, n]
            Gemm.packB(qkv, o * ld + 2 * c + h * hd, 1, ld, hd, n, s.pa);
            float[] dp = s.dp;
            Gemm.gemmSerial(dOut, o * c + h * hd, c, 1, n, s.pa, hd, n, dp, 0, n, Gemm.Mode.SET);
            if (dReceived != null) for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) dp[i * n + j] += dReceived[o + j];
            float[] db = wantBias ? (partBias[task] = new float[n]) : null;
            float[] dm = wantMask ? (partMask[task] = new float[n]) : null;
            if (mask == null) {
                // dS = P ⊙ (dP − Σ_j dP·P) · scale, in place in dp
                for (int i = 0; i < n; i++) {
                    float dot = 0f;
                    for (int j = 0; j < n; j++) dot += dp[i * n + j] * p[i * n + j];
                    for (int j = 0; j < n; j++) {
                        float dl = p[i * n + j] * (dp[i * n + j] - dot);
                        if (db != null) db[j] += dl;
                        dp[i * n + j] = dl * scale;
                    }
                }
            } else {
                // g = dP − Σ_k dP·P;  dl = g ⊙ U ⊙ m;  dm_j = Σ_i g_ij U_ij
                // with ε > 0, P is not shift-invariant: the row max (a function of the logits, as
                // torch.max is under autograd) gets dL/dM = Σ_j dP_ij·(P_ij·Σ_k U_ik m_k − U_ij m_j)
                float[] m = mask.mask();
                boolean viaMax = mask.eps() != 0f;
                for (int i = 0; i < n; i++) {
                    float dot = 0f, dmax = 0f;
                    int arg = 0;
                    for (int j = 0; j < n; j++) dot += dp[i * n + j] * p[i * n + j];
                    if (viaMax) {
                        float sz = 0f;
                        for (int j = 0; j < n; j++) {
                            sz += u[i * n + j] * m[o + j];
                            if (u[i * n + j] > u[i * n + arg]) arg = j;
                        }
                        for (int j = 0; j < n; j++) dmax += dp[i * n + j] * (p[i * n + j] * sz - u[i * n + j] * m[o + j]);
                    }
                    for (int j = 0; j < n; j++) {
                        float gu = (dp[i * n + j] - dot) * u[i * n + j];
                        if (dm != null) dm[j] += gu;
                        float dl = gu * m[o + j];
                        if (viaMax && j == arg) dl += dmax;
                        if (db != null) db[j] += dl;
                        dp[i * n + j] = dl * scale;
                    }
                }
            }
            // dQ = dS K : B = K [n, hd]
            Gemm.packB(qkv, o * ld + c + h * hd, ld, 1, n, hd, s.pa);
            Gemm.gemmSerial(dp, 0, n, 1, n, s.pa, n, hd, dqkv, o * ld + h * hd, ld, Gemm.Mode.SET);
            // dK = dSᵀ Q : A = dSᵀ, B = Q [n, hd]
            Gemm.packB(qkv, o * ld + h * hd, ld, 1, n, hd, s.pa);
            Gemm.gemmSerial(dp, 0, 1, n, n, s.pa, n, hd, dqkv, o * ld + c + h * hd, ld, Gemm.Mode.SET);
        });
        for (int b = 0; b < batch; b++) {
            int o = offsets[b], n = offsets[b + 1] - o;
            for (int h = 0; h < heads; h++) {
                for (int j = 0; j < n; j++) {
                    if (wantBias) keyGrads.bias[o + j] += partBias[b * heads + h][j];
                    if (wantMask) keyGrads.mask[o + j] += partMask[b * heads + h][j];
                }
            }
        }
    }

    /**
     * In place: row ← masked softmax of {@code row·scale + bias} ({@link KeyMask}); when {@code u}
     * is not null also stores {@code U_ij = e_ij/Z} (unmasked) and {@code ε/(n·Z)}. Scalar: used
     * by training with LTMP's masks only.
     */
    static void maskedSoftmaxRow(float[] a, int off, int n, float scale, float[] bias, int bo, float[] mask, float eps,
                                 float[] u, float[] rowEps, int row) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            float l = bias == null ? a[off + j] * scale : Math.fma(a[off + j], scale, bias[bo + j]);
            a[off + j] = l;
            max = Math.max(max, l);
        }
        float sum = 0f;
        for (int j = 0; j < n; j++) {
            float e = VecMath.exp(a[off + j] - max);
            a[off + j] = e;
            sum += e * mask[bo + j];
        }
        float z = sum + eps, inv = 1f / z, add = eps / n / z;
        for (int j = 0; j < n; j++) {
            float e = a[off + j];
            if (u != null) u[off + j] = e * inv;
            a[off + j] = e * mask[bo + j] * inv + add;
        }
        if (rowEps != null) rowEps[row] = add;
    }

    /** In place: row ← softmax(row·scale + bias[bo + j]). */
    public static void softmaxRow(float[] a, int off, int n, float scale, float[] bias, int bo) {
        FloatVector vs = FloatVector.broadcast(VecMath.F, scale);
        FloatVector vmax = FloatVector.broadcast(VecMath.F, Float.NEGATIVE_INFINITY);
        int bound = VecMath.F.loopBound(n);
        int j = 0;
        if (bias != null) {
            for (; j < bound; j += V) {
                FloatVector x = FloatVector.fromArray(VecMath.F, a, off + j)
                        .fma(vs, FloatVector.fromArray(VecMath.F, bias, bo + j));
                x.intoArray(a, off + j);
                vmax = vmax.lanewise(VectorOperators.MAX, x);
            }
            for (; j < n; j++) a[off + j] = Math.fma(a[off + j], scale, bias[bo + j]);
        } else {
            for (; j < bound; j += V) {
                FloatVector x = FloatVector.fromArray(VecMath.F, a, off + j).mul(vs);
                x.intoArray(a, off + j);
                vmax = vmax.lanewise(VectorOperators.MAX, x);
            }
            for (; j < n; j++) a[off + j] = a[off + j] * scale;
        }
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (j = bound; j < n; j++) max = Math.max(max, a[off + j]);
        FloatVector vm = FloatVector.broadcast(VecMath.F, max);
        FloatVector vsum = FloatVector.zero(VecMath.F);
        for (j = 0; j < bound; j += V) {
            FloatVector e = VecMath.exp(FloatVector.fromArray(VecMath.F, a, off + j).sub(vm));
            e.intoArray(a, off + j);
            vsum = vsum.add(e);
        }
        float sum = vsum.reduceLanes(VectorOperators.ADD);
        for (; j < n; j++) {
            float e = VecMath.exp(a[off + j] - max);
            a[off + j] = e;
            sum += e;
        }
        FloatVector vinv = FloatVector.broadcast(VecMath.F, 1f / sum);
        for (j = 0; j < bound; j += V) {
            FloatVector.fromArray(VecMath.F, a, off + j).mul(vinv).intoArray(a, off + j);
        }
        float inv = 1f / sum;
        for (; j < n; j++) a[off + j] *= inv;
    }
}
