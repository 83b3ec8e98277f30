package io.vitrim.engine;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code C[M, N] (= | +=) A[M, K] · B[K, N] + bias}, optionally followed by GELU, with B
 * pre-packed ({@link PackedMatrix}). GotoBLAS-style blocking (MC × KC blocks of A stay in L2, a
 * KC × NR sliver of B in L1) around an MR × NR register tile: 8 × 32 on AVX-512 (16
 * accumulators), 6 × 16 or 4 × 16 on AVX2 ({@link #MR}).
 *
 * <p>A row-major A is read in place — the kernel broadcasts from MR row streams — when a task
 * meets few B panels (batch 1: the packing pass would not pay); a task meeting at least
 * {@link #PACK_A_MIN_PANELS} packs its block first. A strided (transposed) A — dyᵀ in a weight
 * gradient — is always packed per block as GotoBLAS does ({@link #packA}: MR rows adjacent per k,
 * so the copy reads the source along its contiguous axis) and run by {@code kernel8p}; on AVX2,
 * which has no packed-A kernel, each block is copied into a row-major {@code [mc][kc]} buffer
 * that stays in L2 ({@code copyBlock}) and run by the usual kernels.
 *
 * <p>Determinism: every element of C is accumulated over k in the same order (KC blocks in
 * sequence, FMA inside) whatever the thread count or tile position — edge tiles run the same
 * kernel on a scratch tile — so results are bit-identical across thread counts.
 */
public final class Gemm {
    private Gemm() {}

    static final VectorSpecies<Float> F = VecMath.F;
    static final int V = F.length();
    /** Columns per register tile: two vectors. */
    public static final int NR = 2 * V;
    /**
     * Rows per register tile: 8 with 32 vector registers (AVX-512). With 16 (AVX2), 6 where the JIT
     * keeps a 6 × 16 tile's twelve accumulators in registers, else 4 ({@link Jit#rows});
     * {@code -Dvitrim.gemm.mr=4|6} overrides it on AVX2 (for benchmarks and tests). Every tile
     * height sums each element over k in the same order: results do not depend on it.
     */
    public static final int MR = V >= 16 ? 8 : Jit.rows(V);
    static final int KC_MAX = 256;
    static final int MC_MAX = MR * (V >= 16 ? 16 : 21);

    /** What to do with C. */
    public enum Mode {
        /** C = A·B + bias */
        SET,
        /** C += A·B + bias (a residual connection fused into the GEMM) */
        ADD,
        /** C = GELU(A·B + bias) */
        SET_GELU
    }

    private static final float[] ZERO_TILE = new float[MR * NR];

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(
            () -> new float[][] {new float[MC_MAX * KC_MAX], new float[MR * NR]});

    /**
     * Row-major A with row stride {@code lda}: {@code A[i][k] = a[aOff + i·lda + k]};
     * C row-major with row stride {@code ldc}.
     */
    public static void gemm(Parallel par, float[] a, int aOff, int lda, int m,
                            PackedMatrix b, float[] c, int cOff, int ldc, Mode mode) {
        gemm(par, a, aOff, lda, 1, m, b, c, cOff, ldc, mode);
    }

    /**
     * General A strides: {@code A[i][k] = a[aOff + i·aRow + k·aCol]} (use aRow=1, aCol=lda for
     * a transposed operand).
     */
    public static void gemm(Parallel par, float[] a, int aOff, int aRow, int aCol, int m,
                            PackedMatrix b, float[] c, int cOff, int ldc, Mode mode) {
        if (m <= 0) return;
        final float[] aa = a;
        final int ao = aOff, ar = aRow, ac = aCol;
        final int n = b.n;
        final int panels = (n + NR - 1) / NR;
        final int threads = par.threads();
        // Even M blocks of at most MC_MAX rows (multiples of MR); split N too when M alone
        // cannot give every thread a few tasks.
        int mBlocks = (m + MC_MAX - 1) / MC_MAX;
        int want = threads == 1 ? 1 : 4 * threads;
        // M alone gives every thread several tasks: whole rows of panels per task (A packed once per block)
        boolean mOnly = mBlocks >= want;
        int nChunks = mOnly ? 1 : Math.max(1, Math.min(panels, (want + mBlocks - 1) / mBlocks));
        if (threads > 1 && !mOnly) nChunks = balancedChunks(panels, mBlocks, nChunks, threads);
        // A strided A is packed per task: splitting only M packs each row once (measured 6–11 %
        // faster) — unless M has too few tiles for the threads (a weight gradient of a small head)
        if (aCol != 1 && (m + MR - 1) / MR >= threads) nChunks = 1;
        if (threads > 1 && mBlocks * nChunks < want && mBlocks < (m + MR - 1) / MR) {
            mBlocks = Math.min((m + MR - 1) / MR, (want + nChunks - 1) / nChunks);
        }
        int rows = roundUp((m + mBlocks - 1) / mBlocks, MR);
        if (threads > 1 && nChunks == 1) rows = balancedRows(m, rows, threads);
        final int mc = rows;
        final int mTasks = (m + mc - 1) / mc;
        final int chunks = nChunks;
        par.forEach(mTasks * chunks, task -> {
            int ib = task / chunks, jc = task % chunks;
            int i0 = ib * mc;
            // panels split as evenly as possible between chunks
            int p0 = (int) ((long) jc * panels / chunks), p1 = (int) ((long) (jc + 1) * panels / chunks);
            float[][] s = SCRATCH.get();
            block(aa, ao, ar, ac, i0, Math.min(mc, m - i0), b.data, b.k, n, b.bias,
                    p0, p1, c, cOff, ldc, mode, s[0], s[1]);
        });
    }

    /**
     * The smallest chunk count {@code ≥ min} that splits {@code panels} into equal chunks and gives
     * a task count divisible by the thread count, so no thread is left with one extra chunk at the
     * end of the GEMM (e.g. 12 panels, 8 wanted: 12 chunks of 1 instead of 8 chunks of 1 or 2);
     * {@code min} when there is none. At batch 1 with reduced token counts this lifted ToMe's
     * speed-up from 1.63 to 1.67 and LGTM's from 1.44 to 1.51 (proj and fc2 have 12 panels).
     */
    static int balancedChunks(int panels, int mBlocks, int min, int threads) {
        for (int c = min; c <= panels; c++) {
            if (panels % c == 0 && (mBlocks * c) % threads == 0) return c;
        }
        return min;
    }

    /**
     * Rows per M task: {@code mc0} or the largest multiple of MR below it (down to ¾ of it) whose
     * task count the threads share evenly — e.g. 5,472 rows: 43 tasks of 128 → 46 of 120.
     */
    static int balancedRows(int m, int mc0, int threads) {
        for (int mc = mc0; mc >= Math.max(MR, mc0 * 3 / 4); mc -= MR) {
            if (((m + mc - 1) / mc) % threads == 0) return mc;
        }
        return mc0;
    }

    private static int roundUp(int x, int m) {
        return (x + m - 1) / m * m;
    }

    /**
     * Single-threaded GEMM on a B packed by {@link #packB}, for kernels that already run one
     * task per thread (attention heads).
     */
    public static void gemmSerial(float[] a, int aOff, int aRow, int aCol, int m,
                                  float[] bPacked, int k, int n, float[] c, int cOff, int ldc, Mode mode) {
        float[][] s = SCRATCH.get();
        int panels = (n + NR - 1) / NR;
        for (int i0 = 0; i0 < m; i0 += MC_MAX) {
            block(a, aOff, aRow, aCol, i0, Math.min(MC_MAX, m - i0), bPacked, k, n, null, 0, panels,
                    c, cOff, ldc, mode, s[0], s[1]);
        }
    }

    /** Floats needed to pack a B of k × n. */
    public static int packedSize(int k, int n) {
        return Math.multiplyExact(Math.multiplyExact((n + NR - 1) / NR, k), NR);
    }

    /**
     * Packs {@code B[k][n] = src[off + k·rowStride + n·colStride]} into NR-column panels
     * ({@link PackedMatrix} layout), zero-filling the padding columns.
     */
    public static void packB(float[] src, int off, int rowStride, int colStride, int k, int n, float[] dst) {
        packPanels(src, off, rowStride, colStride, k, n, 0, (n + NR - 1) / NR, dst);
    }

    /** {@link #packB} with the panels shared between the threads (training packs large activations every step). */
    public static void packB(Parallel par, float[] src, int off, int rowStride, int colStride, int k, int n, float[] dst) {
        par.forRange((n + NR - 1) / NR, 1, (p0, p1) -> packPanels(src, off, rowStride, colStride, k, n, p0, p1, dst));
    }

    private static void packPanels(float[] src, int off, int rowStride, int colStride, int k, int n, int p0, int p1, float[] dst) {
        for (int p = p0; p < p1; p++) {
            int j0 = p * NR;
            int nc = Math.min(NR, n - j0);
            int base = p * k * NR;
            if (colStride == 1 && nc == NR) {
                // two vector copies per row: System.arraycopy's call costs more than 16 floats
                for (int kk = 0; kk < k; kk++) {
                    int s = off + kk * rowStride + j0, d = base + kk * NR;
                    FloatVector.fromArray(F, src, s).intoArray(dst, d);
                    FloatVector.fromArray(F, src, s + V).intoArray(dst, d + V);
                }
                continue;
            }
            for (int kk = 0; kk < k; kk++) {
                int srcRow = off + kk * rowStride;
                int d = base + kk * NR;
                for (int j = 0; j < nc; j++) dst[d + j] = src[srcRow + (j0 + j) * colStride];
                for (int j = nc; j < NR; j++) dst[d + j] = 0f;
            }
        }
    }

    /** A blocks up to this many floats stay in L2 whole: then B is read panel by panel, front to back. */
    static final int PANEL_ORDER_MAX_A = 64 * 1024;

    private static void block(float[] a, int aOff, int aRow, int aCol, int i0, int mc,
                              float[] bData, int k, int n, float[] bBias, int p0, int p1,
                              float[] c, int cOff, int ldc, Mode mode, float[] abuf, float[] tile) {
        final int kBlocks = (k + KC_MAX - 1) / KC_MAX;
        final int kcMax = (k + kBlocks - 1) / kBlocks;
        if (aCol == 1 && mc * k <= PANEL_ORDER_MAX_A) {
            // Few rows (batch 1, reduced token counts): each weight is used by few rows, so the
            // GEMM streams B from memory. Walking each panel's K blocks in turn reads B as one
            // sequential stream the hardware prefetcher can follow; the A rows stay in L2.
            // Every C element still sums its K blocks in order: same bits as the other order.
            for (int p = p0; p < p1; p++) {
                for (int pc = 0; pc < k; pc += kcMax) {
                    tiles(a, aOff + i0 * aRow + pc, aRow, i0, mc, bData, k, n, bBias, p, p + 1, pc, Math.min(kcMax, k - pc),
                            c, cOff, ldc, mode, tile);
                }
            }
            return;
        }
        for (int pc = 0; pc < k; pc += kcMax) {
            int kc = Math.min(kcMax, k - pc);
            if (aCol == 1 && !(MR == 8 && p1 - p0 >= PACK_A_MIN_PANELS)) {
                tiles(a, aOff + i0 * aRow + pc, aRow, i0, mc, bData, k, n, bBias, p0, p1, pc, kc, c, cOff, ldc, mode, tile);
            } else if (MR == 8) {
                // packed as GotoBLAS does, then the packed-A kernel. A strided A (dyᵀ of a weight
                // gradient) must be; a row-major one gains when its block meets many panels: the
                // 8 rows of a tile become one contiguous stream instead of 8 strided ones next to
                // a B sliver that fills L1 (fc2, K = 1536: 157–169 → 177–185 GFLOP/s on a Zen 4)
                packA(a, aOff, aRow, aCol, i0, mc, pc, kc, abuf);
                tiles(abuf, 0, PACKED, i0, mc, bData, k, n, bBias, p0, p1, pc, kc, c, cOff, ldc, mode, tile);
            } else {
                copyBlock(a, aOff, aRow, aCol, i0, mc, pc, kc, abuf);
                tiles(abuf, 0, kc, i0, mc, bData, k, n, bBias, p0, p1, pc, kc, c, cOff, ldc, mode, tile);
            }
        }
    }

    /**
     * Packs A[i0:i0+mc, p0:p0+kc] into MR-row tiles, k-major inside a tile with the MR rows
     * adjacent: {@code dst[t·kc + kk·MR + r] = A[i0 + t + r][p0 + kk]} for tile start t. Rows past
     * mc repeat the last row (their results are discarded). For a transposed A the MR values of
     * one k are contiguous in the source, so the copy streams.
     */
    static void packA(float[] a, int aOff, int aRow, int aCol, int i0, int mc, int p0, int kc, float[] dst) {
        for (int t = 0; t < mc; t += MR) {
            int last = Math.min(MR, mc - t) - 1, base = t * kc;
            for (int kk = 0; kk < kc; kk++) {
                int src = aOff + (i0 + t) * aRow + (p0 + kk) * aCol, d = base + kk * MR;
                for (int r = 0; r < MR; r++) dst[d + r] = a[src + Math.min(r, last) * aRow];
            }
        }
    }

    /** {@code lda} value that marks an A packed by {@link #packA} (tile r starts at {@code r·kc}). */
    private static final int PACKED = -1;

    /** A row-major A block is packed when one task multiplies it by at least this many B panels. */
    static final int PACK_A_MIN_PANELS = 8;

    /**
     * The register tiles of one K block {@code [pc, pc + kc)} for panels {@code [p0, p1)} and rows
     * {@code [i0, i0 + mc)}; A row-major with row stride {@code lda}, or packed ({@link #PACKED}).
     */
    private static void tiles(float[] as, int aBase, int lda, int i0, int mc, float[] bData, int k, int n, float[] bBias,
                              int p0, int p1, int pc, int kc, float[] c, int cOff, int ldc, Mode mode, float[] tile) {
        boolean first = pc == 0;
        boolean last = pc + kc == k;
        boolean loadC = !first || mode == Mode.ADD;
        float[] bias = first ? bBias : null;
        boolean gelu = last && mode == Mode.SET_GELU;
        for (int p = p0; p < p1; p++) {
            int j0 = p * NR;
            int nc = Math.min(NR, n - j0);
            int bo = p * k * NR + pc * NR;
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = Math.min(MR, mc - ir);
                int co = cOff + (i0 + ir) * ldc + j0;
                int ao = aBase + ir * (lda == PACKED ? kc : lda);
                if (mr == MR && nc == NR) {
                    // full tiles call their kernel straight from here: a dispatcher in between was
                    // inlined into this loop in some JVMs and not in others (the JIT logs of a fast
                    // and a slow process differed there), so the hot path no longer depends on it
                    if (lda == PACKED) kernel8p(as, ao, bData, bo, kc, c, co, ldc, loadC, bias, j0);
                    else if (MR == 8) kernel8(as, ao, lda, MR, bData, bo, kc, c, co, ldc, loadC, bias, j0);
                    else if (MR == 6) kernel6(as, ao, lda, MR, bData, bo, kc, c, co, ldc, loadC, bias, j0);
                    else kernel4(as, ao, lda, MR, bData, bo, kc, c, co, ldc, loadC, bias, j0);
                    if (gelu) geluRows(c, co, ldc, MR);
                } else {
                    edgeTile(as, ao, lda, mr, nc, bData, bo, kc, c, co, ldc, loadC, bias, j0, gelu, tile);
                }
            }
        }
    }

    private static void geluRows(float[] c, int co, int ldc, int rows) {
        for (int r = 0; r < rows; r++) VecMath.geluInPlace(c, co + r * ldc, NR);
    }

    /**
     * A tile cut by the edge of C ({@code mr} rows, {@code nc} columns): computed on the scratch
     * {@code tile} and copied out. A short remainder runs a 1- or 4-row kernel, a last panel of at
     * most one vector of columns a half-width one — same per-element FMA order, less work (token
     * counts like 49 or 97 leave one row; 4 rows for it cost 2-5 % of such a GEMM; Q·Kᵀ at 197
     * tokens has 5 columns in its last 32-column panel).
     */
    private static void edgeTile(float[] a, int ao, int lda, int mr, int nc, float[] b, int bo, int kc,
                                 float[] c, int co, int ldc, boolean loadC, float[] bias, int biasOff, boolean gelu, float[] tile) {
        java.util.Arrays.fill(tile, 0f);
        if (loadC) for (int r = 0; r < mr; r++) System.arraycopy(c, co + r * ldc, tile, r * NR, nc);
        int rows = lda == PACKED ? MR : mr == 1 ? 1 : mr <= 4 ? 4 : MR;
        if (lda == PACKED) kernel8p(a, ao, b, bo, kc, tile, 0, NR, loadC, bias, biasOff);
        else if (rows == MR && MR == 8 && nc <= V) kernel8h(a, ao, lda, mr, b, bo, kc, tile, 0, NR, loadC, bias, biasOff);
        else if (rows == 1) kernel1(a, ao, b, bo, kc, tile, 0, loadC, bias, biasOff);
        else if (rows == 4) kernel4(a, ao, lda, mr, b, bo, kc, tile, 0, NR, loadC, bias, biasOff);
        else if (MR == 8) kernel8(a, ao, lda, mr, b, bo, kc, tile, 0, NR, loadC, bias, biasOff);
        else kernel6(a, ao, lda, mr, b, bo, kc, tile, 0, NR, loadC, bias, biasOff);
        if (gelu) geluRows(tile, 0, NR, Math.min(rows, mr));
        for (int r = 0; r < mr; r++) System.arraycopy(tile, r * NR, c, co + r * ldc, nc);
    }

    /**
     * Copies the strided block A[i0:i0+mc, p0:p0+kc] into a row-major {@code [mc][kc]} buffer,
     * in strips of 16 k so the source lines being gathered stay in cache (a transposed A is read
     * along its rows).
     */
    private static void copyBlock(float[] a, int aOff, int aRow, int aCol, int i0, int mc, int p0, int kc, float[] dst) {
        for (int k0 = 0; k0 < kc; k0 += 16) {
            int k1 = Math.min(kc, k0 + 16);
            for (int r = 0; r < mc; r++) {
                int src = aOff + (i0 + r) * aRow + p0 * aCol;
                int d = r * kc;
                for (int kk = k0; kk < k1; kk++) dst[d + kk] = a[src + kk * aCol];
            }
        }
    }

    /*
     * The kernels: one MR × NR tile (or 1 / 4 rows) {@code C = (loadC ? C : 0) + bias + A_rows · B_sliver},
     * where A row r starts at {@code ao + r·lda} (rows past {@code mr} repeat the last valid row; the
     * caller discards them). Vectors never cross a method boundary here: a non-inlined helper taking
     * a vector makes C2 box it, which halves the speed (measured).
     */

    /** One row: {@code C[0, 0:NR] = (loadC ? C : 0) + bias + a_row · B_sliver}. */
    private static void kernel1(float[] a, int a0, float[] b, int bo, int kc, float[] c, int co,
                                boolean loadC, float[] bias, int biasOff) {
        float[] src = loadC ? c : ZERO_TILE;
        int s0 = loadC ? co : 0;
        float[] bsrc = bias != null ? bias : ZERO_TILE;
        int bOff = bias != null ? biasOff : 0;
        FloatVector c00 = FloatVector.fromArray(F, src, s0).add(FloatVector.fromArray(F, bsrc, bOff));
        FloatVector c01 = FloatVector.fromArray(F, src, s0 + V).add(FloatVector.fromArray(F, bsrc, bOff + V));
        for (int kk = 0; kk < kc; kk++) {
            int bi = bo + kk * (2 * V);
            FloatVector x = FloatVector.broadcast(F, a[a0 + kk]);
            c00 = x.fma(FloatVector.fromArray(F, b, bi), c00);
            c01 = x.fma(FloatVector.fromArray(F, b, bi + V), c01);
        }
        c00.intoArray(c, co);
        c01.intoArray(c, co + V);
    }

    /** {@link #kernel8} on the first vector of columns only (a panel's last ≤ V columns). */
    private static void kernel8h(float[] a, int a0, int lda, int mr, float[] b, int bo, int kc, float[] c, int co, int ldc,
                                 boolean loadC, float[] bias, int biasOff) {
        int a1 = a0 + Math.min(1, mr - 1) * lda, a2 = a0 + Math.min(2, mr - 1) * lda, a3 = a0 + Math.min(3, mr - 1) * lda;
        int a4 = a0 + Math.min(4, mr - 1) * lda, a5 = a0 + Math.min(5, mr - 1) * lda, a6 = a0 + Math.min(6, mr - 1) * lda;
        int a7 = a0 + Math.min(7, mr - 1) * lda;
        float[] src = loadC ? c : ZERO_TILE;
        int s0 = loadC ? co : 0, sld = loadC ? ldc : NR;
        float[] bsrc = bias != null ? bias : ZERO_TILE;
        FloatVector bias0 = FloatVector.fromArray(F, bsrc, bias != null ? biasOff : 0);
        int s1 = s0 + sld, s2 = s1 + sld, s3 = s2 + sld, s4 = s3 + sld, s5 = s4 + sld, s6 = s5 + sld, s7 = s6 + sld;
        FloatVector c0 = FloatVector.fromArray(F, src, s0).add(bias0), c1 = FloatVector.fromArray(F, src, s1).add(bias0);
        FloatVector c2 = FloatVector.fromArray(F, src, s2).add(bias0), c3 = FloatVector.fromArray(F, src, s3).add(bias0);
        FloatVector c4 = FloatVector.fromArray(F, src, s4).add(bias0), c5 = FloatVector.fromArray(F, src, s5).add(bias0);
        FloatVector c6 = FloatVector.fromArray(F, src, s6).add(bias0), c7 = FloatVector.fromArray(F, src, s7).add(bias0);
        for (int kk = 0; kk < kc; kk++) {
            FloatVector b0 = FloatVector.fromArray(F, b, bo + kk * (2 * V));
            c0 = FloatVector.broadcast(F, a[a0 + kk]).fma(b0, c0);
            c1 = FloatVector.broadcast(F, a[a1 + kk]).fma(b0, c1);
            c2 = FloatVector.broadcast(F, a[a2 + kk]).fma(b0, c2);
            c3 = FloatVector.broadcast(F, a[a3 + kk]).fma(b0, c3);
            c4 = FloatVector.broadcast(F, a[a4 + kk]).fma(b0, c4);
            c5 = FloatVector.broadcast(F, a[a5 + kk]).fma(b0, c5);
            c6 = FloatVector.broadcast(F, a[a6 + kk]).fma(b0, c6);
            c7 = FloatVector.broadcast(F, a[a7 + kk]).fma(b0, c7);
        }
        c0.intoArray(c, co);
        c1.intoArray(c, co + ldc);
        c2.intoArray(c, co + 2 * ldc);
        c3.intoArray(c, co + 3 * ldc);
        c4.intoArray(c, co + 4 * ldc);
        c5.intoArray(c, co + 5 * ldc);
        c6.intoArray(c, co + 6 * ldc);
        c7.intoArray(c, co + 7 * ldc);
    }

    private static void kernel4(float[] a, int a0, int lda, int mr, float[] b, int bo, int kc, float[] c, int co, int ldc,
                                boolean loadC, float[] bias, int biasOff) {
        int a1 = a0 + Math.min(1, mr - 1) * lda, a2 = a0 + Math.min(2, mr - 1) * lda, a3 = a0 + Math.min(3, mr - 1) * lda;
        float[] src = loadC ? c : ZERO_TILE;
        int s0 = loadC ? co : 0, sld = loadC ? ldc : NR;
        float[] bsrc = bias != null ? bias : ZERO_TILE;
        int bOff = bias != null ? biasOff : 0;
        FloatVector bias0 = FloatVector.fromArray(F, bsrc, bOff), bias1 = FloatVector.fromArray(F, bsrc, bOff + V);
        int s1 = s0 + sld, s2 = s1 + sld, s3 = s2 + sld;
        FloatVector c00 = FloatVector.fromArray(F, src, s0).add(bias0), c01 = FloatVector.fromArray(F, src, s0 + V).add(bias1);
        FloatVector c10 = FloatVector.fromArray(F, src, s1).add(bias0), c11 = FloatVector.fromArray(F, src, s1 + V).add(bias1);
        FloatVector c20 = FloatVector.fromArray(F, src, s2).add(bias0), c21 = FloatVector.fromArray(F, src, s2 + V).add(bias1);
        FloatVector c30 = FloatVector.fromArray(F, src, s3).add(bias0), c31 = FloatVector.fromArray(F, src, s3 + V).add(bias1);
        for (int kk = 0; kk < kc; kk++) {
            int bi = bo + kk * (2 * V);
            FloatVector b0 = FloatVector.fromArray(F, b, bi);
            FloatVector b1 = FloatVector.fromArray(F, b, bi + V);
            FloatVector x;
            x = FloatVector.broadcast(F, a[a0 + kk]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(F, a[a1 + kk]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(F, a[a2 + kk]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(F, a[a3 + kk]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
        }
        int r1 = co + ldc, r2 = r1 + ldc, r3 = r2 + ldc;
        c00.intoArray(c, co); c01.intoArray(c, co + V);
        c10.intoArray(c, r1); c11.intoArray(c, r1 + V);
        c20.intoArray(c, r2); c21.intoArray(c, r2 + V);
        c30.intoArray(c, r3); c31.intoArray(c, r3 + V);
    }

    private static void kernel8(float[] a, int a0, int lda, int mr, float[] b, int bo, int kc, float[] c, int co, int ldc,
                                boolean loadC, float[] bias, int biasOff) {
        int a1 = a0 + Math.min(1, mr - 1) * lda, a2 = a0 + Math.min(2, mr - 1) * lda, a3 = a0 + Math.min(3, mr - 1) * lda;
        int a4 = a0 + Math.min(4, mr - 1) * lda, a5 = a0 + Math.min(5, mr - 1) * lda, a6 = a0 + Math.min(6, mr - 1) * lda;
        int a7 = a0 + Math.min(7, mr - 1) * lda;
        float[] src = loadC ? c : ZERO_TILE;
        int s0 = loadC ? co : 0, sld = loadC ? ldc : NR;
        float[] bsrc = bias != null ? bias : ZERO_TILE;
        int bOff = bias != null ? biasOff : 0;
        FloatVector bias0 = FloatVector.fromArray(F, bsrc, bOff), bias1 = FloatVector.fromArray(F, bsrc, bOff + V);
        int s1 = s0 + sld, s2 = s1 + sld, s3 = s2 + sld, s4 = s3 + sld, s5 = s4 + sld, s6 = s5 + sld, s7 = s6 + sld;
        FloatVector c00 = FloatVector.fromArray(F, src, s0).add(bias0), c01 = FloatVector.fromArray(F, src, s0 + V).add(bias1);
        FloatVector c10 = FloatVector.fromArray(F, src, s1).add(bias0), c11 = FloatVector.fromArray(F, src, s1 + V).add(bias1);
        FloatVector c20 = FloatVector.fromArray(F, src, s2).add(bias0), c21 = FloatVector.fromArray(F, src, s2 + V).add(bias1);
        FloatVector c30 = FloatVector.fromArray(F, src, s3).add(bias0), c31 = FloatVector.fromArray(F, src, s3 + V).add(bias1);
        FloatVector c40 = FloatVector.fromArray(F, src, s4).add(bias0), c41 = FloatVector.fromArray(F, src, s4 + V).add(bias1);
        FloatVector c50 = FloatVector.fromArray(F, src, s5).add(bias0), c51 = FloatVector.fromArray(F, src, s5 + V).add(bias1);
        FloatVector c60 = FloatVector.fromArray(F, src, s6).add(bias0), c61 = FloatVector.fromArray(F, src, s6 + V).add(bias1);
        FloatVector c70 = FloatVector.fromArray(F, src, s7).add(bias0), c71 = FloatVector.fromArray(F, src, s7 + V).add(bias1);
        for (int kk = 0; kk < kc; kk++) {
            int bi = bo + kk * (2 * V);
            FloatVector b0 = FloatVector.fromArray(F, b, bi);
            FloatVector b1 = FloatVector.fromArray(F, b, bi + V);
            FloatVector x;
            x = FloatVector.broadcast(F, a[a0 + kk]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(F, a[a1 + kk]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(F, a[a2 + kk]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(F, a[a3 + kk]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(F, a[a4 + kk]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(F, a[a5 + kk]); c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            x = FloatVector.broadcast(F, a[a6 + kk]); c60 = x.fma(b0, c60); c61 = x.fma(b1, c61);
            x = FloatVector.broadcast(F, a[a7 + kk]); c70 = x.fma(b0, c70); c71 = x.fma(b1, c71);
        }
        int r1 = co + ldc, r2 = r1 + ldc, r3 = r2 + ldc, r4 = r3 + ldc, r5 = r4 + ldc, r6 = r5 + ldc, r7 = r6 + ldc;
        c00.intoArray(c, co); c01.intoArray(c, co + V);
        c10.intoArray(c, r1); c11.intoArray(c, r1 + V);
        c20.intoArray(c, r2); c21.intoArray(c, r2 + V);
        c30.intoArray(c, r3); c31.intoArray(c, r3 + V);
        c40.intoArray(c, r4); c41.intoArray(c, r4 + V);
        c50.intoArray(c, r5); c51.intoArray(c, r5 + V);
        c60.intoArray(c, r6); c61.intoArray(c, r6 + V);
        c70.intoArray(c, r7); c71.intoArray(c, r7 + V);
    }

    /**
     * {@link #kernel8} on an A packed by {@link #packA} (8 rows adjacent per k). A separate copy on
     * purpose: one kernel taking the k-stride as a parameter loses C2's range-check elimination on
     * the A loads and measured 188 → 153 GFLOP/s on the forward GEMMs.
     */
    private static void kernel8p(float[] a, int a0, float[] b, int bo, int kc, float[] c, int co, int ldc,
                                boolean loadC, float[] bias, int biasOff) {
        float[] src = loadC ? c : ZERO_TILE;
        int s0 = loadC ? co : 0, sld = loadC ? ldc : NR;
        float[] bsrc = bias != null ? bias : ZERO_TILE;
        int bOff = bias != null ? biasOff : 0;
        FloatVector bias0 = FloatVector.fromArray(F, bsrc, bOff), bias1 = FloatVector.fromArray(F, bsrc, bOff + V);
        int s1 = s0 + sld, s2 = s1 + sld, s3 = s2 + sld, s4 = s3 + sld, s5 = s4 + sld, s6 = s5 + sld, s7 = s6 + sld;
        FloatVector c00 = FloatVector.fromArray(F, src, s0).add(bias0), c01 = FloatVector.fromArray(F, src, s0 + V).add(bias1);
        FloatVector c10 = FloatVector.fromArray(F, src, s1).add(bias0), c11 = FloatVector.fromArray(F, src, s1 + V).add(bias1);
        FloatVector c20 = FloatVector.fromArray(F, src, s2).add(bias0), c21 = FloatVector.fromArray(F, src, s2 + V).add(bias1);
        FloatVector c30 = FloatVector.fromArray(F, src, s3).add(bias0), c31 = FloatVector.fromArray(F, src, s3 + V).add(bias1);
        FloatVector c40 = FloatVector.fromArray(F, src, s4).add(bias0), c41 = FloatVector.fromArray(F, src, s4 + V).add(bias1);
        FloatVector c50 = FloatVector.fromArray(F, src, s5).add(bias0), c51 = FloatVector.fromArray(F, src, s5 + V).add(bias1);
        FloatVector c60 = FloatVector.fromArray(F, src, s6).add(bias0), c61 = FloatVector.fromArray(F, src, s6 + V).add(bias1);
        FloatVector c70 = FloatVector.fromArray(F, src, s7).add(bias0), c71 = FloatVector.fromArray(F, src, s7 + V).add(bias1);
        for (int kk = 0; kk < kc; kk++) {
            int bi = bo + kk * (2 * V);
            FloatVector b0 = FloatVector.fromArray(F, b, bi);
            FloatVector b1 = FloatVector.fromArray(F, b, bi + V);
            int ai = a0 + kk * 8;
            FloatVector x;
            x = FloatVector.broadcast(F, a[ai + 0]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(F, a[ai + 1]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(F, a[ai + 2]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(F, a[ai + 3]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(F, a[ai + 4]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(F, a[ai + 5]); c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            x = FloatVector.broadcast(F, a[ai + 6]); c60 = x.fma(b0, c60); c61 = x.fma(b1, c61);
            x = FloatVector.broadcast(F, a[ai + 7]); c70 = x.fma(b0, c70); c71 = x.fma(b1, c71);
        }
        int r1 = co + ldc, r2 = r1 + ldc, r3 = r2 + ldc, r4 = r3 + ldc, r5 = r4 + ldc, r6 = r5 + ldc, r7 = r6 + ldc;
        c00.intoArray(c, co); c01.intoArray(c, co + V);
        c10.intoArray(c, r1); c11.intoArray(c, r1 + V);
        c20.intoArray(c, r2); c21.intoArray(c, r2 + V);
        c30.intoArray(c, r3); c31.intoArray(c, r3 + V);
        c40.intoArray(c, r4); c41.intoArray(c, r4 + V);
        c50.intoArray(c, r5); c51.intoArray(c, r5 + V);
        c60.intoArray(c, r6); c61.intoArray(c, r6 + V);
        c70.intoArray(c, r7); c71.intoArray(c, r7 + V);
    }

    private static void kernel6(float[] a, int a0, int lda, int mr, float[] b, int bo, int kc, float[] c, int co, int ldc,
                                boolean loadC, float[] bias, int biasOff) {
        int a1 = a0 + Math.min(1, mr - 1) * lda, a2 = a0 + Math.min(2, mr - 1) * lda, a3 = a0 + Math.min(3, mr - 1) * lda;
        int a4 = a0 + Math.min(4, mr - 1) * lda, a5 = a0 + Math.min(5, mr - 1) * lda;
        float[] src = loadC ? c : ZERO_TILE;
        int s0 = loadC ? co : 0, sld = loadC ? ldc : NR;
        float[] bsrc = bias != null ? bias : ZERO_TILE;
        int bOff = bias != null ? biasOff : 0;
        FloatVector bias0 = FloatVector.fromArray(F, bsrc, bOff), bias1 = FloatVector.fromArray(F, bsrc, bOff + V);
        int s1 = s0 + sld, s2 = s1 + sld, s3 = s2 + sld, s4 = s3 + sld, s5 = s4 + sld;
        FloatVector c00 = FloatVector.fromArray(F, src, s0).add(bias0), c01 = FloatVector.fromArray(F, src, s0 + V).add(bias1);
        FloatVector c10 = FloatVector.fromArray(F, src, s1).add(bias0), c11 = FloatVector.fromArray(F, src, s1 + V).add(bias1);
        FloatVector c20 = FloatVector.fromArray(F, src, s2).add(bias0), c21 = FloatVector.fromArray(F, src, s2 + V).add(bias1);
        FloatVector c30 = FloatVector.fromArray(F, src, s3).add(bias0), c31 = FloatVector.fromArray(F, src, s3 + V).add(bias1);
        FloatVector c40 = FloatVector.fromArray(F, src, s4).add(bias0), c41 = FloatVector.fromArray(F, src, s4 + V).add(bias1);
        FloatVector c50 = FloatVector.fromArray(F, src, s5).add(bias0), c51 = FloatVector.fromArray(F, src, s5 + V).add(bias1);
        for (int kk = 0; kk < kc; kk++) {
            int bi = bo + kk * (2 * V);
            FloatVector b0 = FloatVector.fromArray(F, b, bi);
            FloatVector b1 = FloatVector.fromArray(F, b, bi + V);
            FloatVector x;
            x = FloatVector.broadcast(F, a[a0 + kk]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(F, a[a1 + kk]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(F, a[a2 + kk]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(F, a[a3 + kk]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(F, a[a4 + kk]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(F, a[a5 + kk]); c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
        }
        int r1 = co + ldc, r2 = r1 + ldc, r3 = r2 + ldc, r4 = r3 + ldc, r5 = r4 + ldc;
        c00.intoArray(c, co); c01.intoArray(c, co + V);
        c10.intoArray(c, r1); c11.intoArray(c, r1 + V);
        c20.intoArray(c, r2); c21.intoArray(c, r2 + V);
        c30.intoArray(c, r3); c31.intoArray(c, r3 + V);
        c40.intoArray(c, r4); c41.intoArray(c, r4 + V);
        c50.intoArray(c, r5); c51.intoArray(c, r5 + V);
    }
}
