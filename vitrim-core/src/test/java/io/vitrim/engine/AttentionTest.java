package io.vitrim.engine;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

class AttentionTest {

    /** Reference attention for one image/head with optional key bias; returns P [n][n] and O [n][hd]. */
    static double[][][] reference(float[] qkv, int o, int n, int c, int h, int hd, float[] bias) {
        int ld = 3 * c;
        double scale = 1 / Math.sqrt(hd);
        double[][] p = new double[n][n];
        double[][] out = new double[n][hd];
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int e = 0; e < hd; e++) s += (double) qkv[(o + i) * ld + h * hd + e] * qkv[(o + j) * ld + c + h * hd + e];
                s = s * scale + (bias == null ? 0 : bias[o + j]);
                p[i][j] = s;
                max = Math.max(max, s);
            }
            double sum = 0;
            for (int j = 0; j < n; j++) sum += p[i][j] = Math.exp(p[i][j] - max);
            for (int j = 0; j < n; j++) p[i][j] /= sum;
            for (int e = 0; e < hd; e++) {
                double acc = 0;
                for (int j = 0; j < n; j++) acc += p[i][j] * qkv[(o + j) * ld + 2 * c + h * hd + e];
                out[i][e] = acc;
            }
        }
        return new double[][][] {p, out};
    }

    @Test
    void packedBatchWithDifferentLengthsBiasAndProbes() {
        int c = 60, heads = 3, hd = 20;
        int[] offsets = {0, 37, 38, 120}; // lengths 37, 1, 82
        int t = offsets[3];
        float[] qkv = GemmTest.rand(t * 3 * c, 21);
        for (int i = 0; i < qkv.length; i++) qkv[i] *= 2f;
        float[] bias = GemmTest.rand(t, 22);
        float[] out = new float[t * c];
        Attention.Probes pr = new Attention.Probes();
        pr.clsRow = new float[t * heads];
        pr.received = new float[t * heads];
        try (Parallel par = Parallel.create(2)) {
            Attention.forward(par, qkv, offsets, 3, c, heads, bias, out, pr);
        }
        for (int b = 0; b < 3; b++) {
            int o = offsets[b], n = offsets[b + 1] - o;
            for (int h = 0; h < heads; h++) {
                double[][][] ref = reference(qkv, o, n, c, h, hd, bias);
                for (int i = 0; i < n; i++) {
                    for (int e = 0; e < hd; e++) assertThat((double) out[(o + i) * c + h * hd + e]).isCloseTo(ref[1][i][e], offset(2e-5));
                }
                for (int j = 0; j < n; j++) {
                    assertThat((double) pr.clsRow[(o + j) * heads + h]).isCloseTo(ref[0][0][j], offset(1e-6));
                    double recv = 0;
                    for (int i = 0; i < n; i++) recv += ref[0][i][j];
                    assertThat((double) pr.received[(o + j) * heads + h]).isCloseTo(recv, offset(1e-5));
                }
            }
        }
    }

    @Test
    void minusInfinityBiasMasksAKey() {
        int c = 16, heads = 1, n = 5;
        float[] qkv = GemmTest.rand(n * 3 * c, 23);
        float[] bias = new float[n];
        bias[2] = Float.NEGATIVE_INFINITY;
        Attention.Probes pr = new Attention.Probes();
        pr.received = new float[n];
        Attention.forward(Parallel.serial(), qkv, new int[] {0, n}, 1, c, heads, bias, new float[n * c], pr);
        assertThat(pr.received[2]).isZero();
    }
}
