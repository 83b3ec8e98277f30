package io.vitrim.engine;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class GemmTest {

    static float[] rand(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        return v;
    }

    static void assertClose(float[] got, int off, int ld, double[] want, int m, int n, double tol) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double w = want[i * n + j];
                assertThat((double) got[off + i * ld + j]).as("C[%d][%d]", i, j).isCloseTo(w, org.assertj.core.data.Offset.offset(tol * (1 + Math.abs(w))));
            }
        }
    }

    /** Odd sizes that are not multiples of MR=8, NR=32, KC=256 or MC=128, plus exact multiples; small A blocks take the panel-by-panel order, large ones (k = 1100) the K-block order. */
    @ParameterizedTest
    @CsvSource({"1,1,1", "7,5,3", "9,33,31", "13,257,65", "129,300,97", "200,384,1152", "64,64,64", "3,513,40", "257,17,33", "150,1100,70", "20,1100,45"})
    void matchesNaiveForAllModes(int m, int k, int n) {
        float[] a = rand(m * k, 1), w = rand(n * k, 2), bias = rand(n, 3);
        PackedMatrix pb = PackedMatrix.ofLinearWeight(w, n, k, bias);
        // B[k][n] = W[n][k]
        float[] bRow = new float[k * n];
        for (int q = 0; q < k; q++) for (int j = 0; j < n; j++) bRow[q * n + j] = w[j * k + q];
        double[] ref = Naive.matmul(a, 0, k, 1, m, bRow, k, n, bias);
        double tol = 1e-5 * Math.sqrt(k);
        for (int threads : new int[] {1, 2, 3}) {
            try (Parallel par = Parallel.create(threads)) {
                float[] c = new float[m * n];
                Gemm.gemm(par, a, 0, k, m, pb, c, 0, n, Gemm.Mode.SET);
                assertClose(c, 0, n, ref, m, n, tol);

                // ADD onto existing values, with a row stride wider than n
                int ldc = n + 5;
                float[] c2 = rand(m * ldc, 4), before = c2.clone();
                Gemm.gemm(par, a, 0, k, m, pb, c2, 0, ldc, Gemm.Mode.ADD);
                double[] refAdd = new double[m * n];
                for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) refAdd[i * n + j] = ref[i * n + j] + before[i * ldc + j];
                assertClose(c2, 0, ldc, refAdd, m, n, tol);
                for (int i = 0; i < m; i++) for (int j = n; j < ldc; j++) assertThat(c2[i * ldc + j]).isEqualTo(before[i * ldc + j]);

                float[] c3 = new float[m * n];
                Gemm.gemm(par, a, 0, k, m, pb, c3, 0, n, Gemm.Mode.SET_GELU);
                double[] refG = Arrays.stream(ref).map(Naive::gelu).toArray();
                assertClose(c3, 0, n, refG, m, n, tol);
            }
        }
    }

    /** A strided (transposed) A, as in a weight gradient dyᵀ·x: packed per block, every mode, K past one block. */
    @Test
    void transposedAndOffsetOperands() {
        int[][] sizes = {{37, 45, 29}, {8, 600, 33}, {203, 530, 70}, {1, 17, 5}};
        for (int[] s : sizes) {
            int m = s[0], k = s[1], n = s[2];
            float[] at = rand(k * m + 7, 5); // A stored transposed: A[i][q] = at[7 + q*m + i]
            float[] bRow = rand(k * n, 6), bias = rand(n, 12), c0 = rand(3 + m * n, 13);
            PackedMatrix pb = PackedMatrix.pack(bRow, 0, n, 1, k, n, bias);
            double[] ref = Naive.matmul(at, 7, 1, m, m, bRow, k, n, bias);
            double tol = 1e-4 * Math.sqrt(k / 45.0);
            float[] first = null;
            for (int threads = 1; threads <= 3; threads++) {
                try (Parallel par = Parallel.create(threads)) {
                    float[] c = new float[3 + m * n];
                    Gemm.gemm(par, at, 7, 1, m, m, pb, c, 3, n, Gemm.Mode.SET);
                    assertClose(c, 3, n, ref, m, n, tol);
                    if (first == null) first = c;
                    else assertThat(c).as("m=%d k=%d n=%d threads=%d", m, k, n, threads).containsExactly(first);

                    float[] c2 = c0.clone();
                    Gemm.gemm(par, at, 7, 1, m, m, pb, c2, 3, n, Gemm.Mode.ADD);
                    double[] refAdd = new double[m * n];
                    for (int i = 0; i < m * n; i++) refAdd[i] = ref[i] + c0[3 + i];
                    assertClose(c2, 3, n, refAdd, m, n, tol);

                    float[] c3 = new float[3 + m * n];
                    Gemm.gemm(par, at, 7, 1, m, m, pb, c3, 3, n, Gemm.Mode.SET_GELU);
                    assertClose(c3, 3, n, Arrays.stream(ref).map(Naive::gelu).toArray(), m, n, tol);
                }
            }
        }
    }

    @Test
    void bitIdenticalAcrossThreadCounts() {
        assertSameBitsOnThreads(211, 300, 130, 4, Gemm.Mode.SET_GELU, 7);
    }

    /** C computed on 1..maxThreads threads, compared bit for bit with the single-threaded C. */
    private static void assertSameBitsOnThreads(int m, int k, int n, int maxThreads, Gemm.Mode mode, long seed) {
        float[] a = rand(m * k, seed), w = rand(n * k, seed + 1), bias = rand(n, seed + 2);
        PackedMatrix pb = PackedMatrix.ofLinearWeight(w, n, k, bias);
        float[] ref = null;
        for (int threads = 1; threads <= maxThreads; threads++) {
            float[] c = new float[m * n];
            try (Parallel par = Parallel.create(threads)) {
                Gemm.gemm(par, a, 0, k, m, pb, c, 0, n, mode);
            }
            if (ref == null) ref = c;
            else assertThat(Arrays.mismatch(c, ref)).as("first differing element, %dx%dx%d, threads=%d", m, k, n, threads).isEqualTo(-1);
        }
    }

    /** Column chunks of equal size whose task count the threads share evenly; the minimum when none exists. */
    @Test
    void balancedColumnChunks() {
        assertThat(Gemm.balancedChunks(12, 1, 8, 2)).isEqualTo(12); // DeiT-S proj/fc2 at batch 1: not 8 chunks of 1 or 2
        assertThat(Gemm.balancedChunks(36, 1, 8, 2)).isEqualTo(12);
        assertThat(Gemm.balancedChunks(48, 1, 8, 2)).isEqualTo(8);
        assertThat(Gemm.balancedChunks(12, 2, 4, 2)).isEqualTo(4);
        assertThat(Gemm.balancedChunks(12, 1, 8, 3)).isEqualTo(12);
        assertThat(Gemm.balancedChunks(7, 1, 7, 2)).isEqualTo(7); // nothing fits: unchanged
        assertThat(Gemm.balancedChunks(7, 3, 1, 2)).isEqualTo(1);
        // rows step down by the register tile's MR: 8 with 512-bit vectors, 6 or 4 with 256-bit ones (AVX2)
        assertThat(Gemm.MR).isIn(4, 6, 8);
        // 43 tasks of 128 → 46 of 120 (MR 6: 45 of 122 → 48 of 116; MR 4: 45 of 124 → 46 of 120)
        assertThat(Gemm.balancedRows(5472, 128, 2)).isEqualTo(Gemm.MR == 6 ? 116 : 120);
        assertThat(Gemm.balancedRows(6304, 128, 2)).isEqualTo(128); // 50 tasks already
        // 8 tasks of 128 → 9 of 120 (MR 6: of 122; MR 4: of 124)
        assertThat(Gemm.balancedRows(1001, 128, 3)).isEqualTo(Gemm.MR == 8 ? 120 : Gemm.MR == 6 ? 122 : 124);
        assertThat(Gemm.balancedRows(129, 8, 2)).isEqualTo(8);      // ¾ floor: never below MR (17 tasks either way)
        // and the split never changes a bit: reduced-token shapes with 12 and 36 panels, 1–3 threads;
        // the 200-row ones pack A on one thread (all panels in one task) but not on three, the
        // 1,379-row one has its row blocks resized on 2 threads and its columns split evenly on 3;
        // 41 and 49 rows end in a one-row tile (kernel1 on 2–3 threads, the packed 8-row kernel on one);
        // 1,160 columns end in an 8-column panel (half-width kernel unless A is packed)
        for (int[] s : new int[][] {{54, 384, 384}, {41, 1536, 384}, {49, 384, 1536}, {200, 384, 1160}, {93, 384, 1152}, {200, 384, 1152}, {200, 1536, 384}, {1379, 384, 384}}) {
            assertSameBitsOnThreads(s[0], s[1], s[2], 3, Gemm.Mode.ADD, 12);
        }
    }

    /**
     * The panel layout, read off element by element: {@code dst[p·k·NR + q·NR + j] = B[q][p·NR + j]},
     * zeros past n — for row-major (the vector copy), padded-row and strided sources, serial and
     * on 1–3 threads, over a buffer that held garbage.
     */
    @Test
    void packedPanelsMatchTheirDefinition() {
        int k = 37, nr = Gemm.NR;
        for (int n : new int[] {nr, 2 * nr + 5, 3, 4 * nr}) {
            for (int[] stride : new int[][] {{n, 1}, {n + 9, 1}, {1, k + 2}}) {
                int rowStride = stride[0], colStride = stride[1], off = 4;
                float[] src = rand(off + (k - 1) * rowStride + (n - 1) * colStride + 1, n);
                float[] want = new float[Gemm.packedSize(k, n)];
                for (int p = 0; p * nr < n; p++) {
                    for (int q = 0; q < k; q++) {
                        for (int j = 0; j < nr && p * nr + j < n; j++) {
                            want[p * k * nr + q * nr + j] = src[off + q * rowStride + (p * nr + j) * colStride];
                        }
                    }
                }
                float[] serial = rand(want.length, 99);
                Gemm.packB(src, off, rowStride, colStride, k, n, serial);
                assertThat(serial).as("n=%d strides %d/%d serial", n, rowStride, colStride).containsExactly(want);
                for (int threads = 1; threads <= 3; threads++) {
                    float[] got = rand(want.length, 98);
                    try (Parallel par = Parallel.create(threads)) {
                        Gemm.packB(par, src, off, rowStride, colStride, k, n, got);
                    }
                    assertThat(got).as("n=%d strides %d/%d threads %d", n, rowStride, colStride, threads).containsExactly(want);
                }
            }
        }
    }

    @Test
    void serialGemmOnPackedBuffer() {
        int m = 70, k = 19, n = 50;
        float[] a = rand(m * k, 10), bRow = rand(k * n, 11);
        float[] packed = new float[Gemm.packedSize(k, n)];
        Gemm.packB(bRow, 0, n, 1, k, n, packed);
        float[] c = new float[m * n];
        Gemm.gemmSerial(a, 0, k, 1, m, packed, k, n, c, 0, n, Gemm.Mode.SET);
        assertClose(c, 0, n, Naive.matmul(a, 0, k, 1, m, bRow, k, n, null), m, n, 1e-5);
    }

    /** The build runs this class once more per AVX2 tile height (vitrim-core/pom.xml): the override must take. */
    @Test
    void avx2TileHeightFollowsTheOverride() {
        Integer forced = Jit.forcedRows();
        if (Gemm.V >= 16) assertThat(Gemm.MR).isEqualTo(8);
        else if (Gemm.V != 8) assertThat(Gemm.MR).isEqualTo(6);
        else if (forced != null) assertThat(Gemm.MR).isEqualTo(forced);
        else assertThat(Gemm.MR).isIn(4, 6); // unforced, the JIT's flags choose (Jit.rows; SystemInfoTest's notes)
    }
}
