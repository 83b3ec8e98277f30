package io.vitrim.train;

import io.vitrim.engine.Attention;
import io.vitrim.engine.LayerNorm;
import io.vitrim.engine.Parallel;
import io.vitrim.engine.VecMath;
import io.vitrim.model.Linear;
import io.vitrim.model.Param;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every backward against central finite differences of a double-precision reference forward, on
 * tiny shapes that are not multiples of the tile sizes. The loss is a fixed random projection
 * {@code L = Σ w_i·y_i}, so dL/dy = w.
 */
class GradientCheckTest {
    static final SplittableRandom R = new SplittableRandom(11);

    static double[] randD(int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = (R.nextDouble() * 2 - 1) * scale;
        return v;
    }

    static float[] f(double[] d) {
        float[] v = new float[d.length];
        for (int i = 0; i < d.length; i++) v[i] = (float) d[i];
        return v;
    }

    static double[] d(float[] f) {
        double[] v = new double[f.length];
        for (int i = 0; i < f.length; i++) v[i] = f[i];
        return v;
    }

    /** Central differences of L(x) = w·fwd(x) with respect to every element of x. */
    static double[] numeric(Function<double[], double[]> fwd, double[] x, double[] w) {
        double[] g = new double[x.length];
        double h = 1e-6;
        for (int i = 0; i < x.length; i++) {
            double old = x[i];
            x[i] = old + h;
            double lp = dot(w, fwd.apply(x));
            x[i] = old - h;
            double lm = dot(w, fwd.apply(x));
            x[i] = old;
            g[i] = (lp - lm) / (2 * h);
        }
        return g;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    static void assertClose(float[] got, double[] want, String what) {
        double max = 1e-9, err = 0;
        for (int i = 0; i < want.length; i++) {
            max = Math.max(max, Math.abs(want[i]));
            err = Math.max(err, Math.abs(got[i] - want[i]));
        }
        assertThat(err / max).as("%s: max error relative to max |grad| %.3g", what, max).isLessThan(2e-4);
    }

    // ------------------------------------------------------------------ LayerNorm

    static double[] layerNormRef(double[] x, double[] g, double[] b, int rows, int c) {
        double[] y = new double[rows * c];
        for (int r = 0; r < rows; r++) {
            double m = 0, v = 0;
            for (int i = 0; i < c; i++) m += x[r * c + i];
            m /= c;
            for (int i = 0; i < c; i++) v += (x[r * c + i] - m) * (x[r * c + i] - m);
            v /= c;
            for (int i = 0; i < c; i++) y[r * c + i] = (x[r * c + i] - m) / Math.sqrt(v + 1e-6) * g[i] + b[i];
        }
        return y;
    }

    @Test
    void layerNorm() {
        int rows = 5, c = 19;
        double[] x = randD(rows * c, 2), g = randD(c, 1), b = randD(c, 1), w = randD(rows * c, 1);
        float[] xf = f(x), y = new float[rows * c], mean = new float[rows], rstd = new float[rows];
        LayerNorm.forward(Parallel.serial(), xf, 0, c, rows, c, f(g), f(b), 1e-6f, y, 0, c, mean, rstd);
        float[] dx = new float[rows * c], dg = new float[c], db = new float[c];
        LayerNorm.backward(Parallel.serial(), xf, c, rows, c, f(g), mean, rstd, f(w), c, dx, c, false, dg, db);
        assertClose(dx, numeric(v -> layerNormRef(v, g, b, rows, c), x.clone(), w), "LayerNorm dx");
        assertClose(dg, numeric(v -> layerNormRef(x, v, b, rows, c), g.clone(), w), "LayerNorm dγ");
        assertClose(db, numeric(v -> layerNormRef(x, g, v, rows, c), b.clone(), w), "LayerNorm dβ");
        // accumulate mode adds onto what is there
        float[] acc = new float[rows * c];
        java.util.Arrays.fill(acc, 1f);
        LayerNorm.backward(Parallel.serial(), xf, c, rows, c, f(g), mean, rstd, f(w), c, acc, c, true, new float[c], new float[c]);
        for (int i = 0; i < acc.length; i++) assertThat(acc[i]).isCloseTo(1f + dx[i], org.assertj.core.data.Offset.offset(1e-6f));
    }

    // ------------------------------------------------------------------ attention

    /** out [T, C] from qkv [T, 3C] for packed images, with a per-key bias (no mask). */
    static double[] attentionRef(double[] qkv, int[] off, int c, int heads, double[] bias) {
        double[] ones = new double[bias.length];
        java.util.Arrays.fill(ones, 1);
        return maskedAttentionRef(qkv, off, c, heads, bias, ones, 0);
    }

    @Test
    void attention() {
        int c = 12, heads = 3;
        int[] off = {0, 5, 12};
        int t = 12;
        double[] qkv = randD(t * 3 * c, 1.5), bias = randD(t, 0.7), w = randD(t * c, 1);
        float[] out = new float[t * c];
        Attention.Probes pr = new Attention.Probes();
        pr.probs = new float[2 * heads][];
        Attention.forward(Parallel.serial(), f(qkv), off, 2, c, heads, f(bias), out, pr);
        float[] dqkv = new float[t * 3 * c];
        Attention.backward(Parallel.create(2), f(qkv), off, 2, c, heads, pr.probs, f(w), dqkv);
        assertClose(dqkv, numeric(v -> attentionRef(v, off, c, heads, bias), qkv.clone(), w), "attention dqkv");
    }

    /**
     * Attention with a per-key bias and LTMP's soft key mask,
     * {@code P_ij = (exp(l_ij − max)·m_j + ε/n) / (Σ_k exp(l_ik − max)·m_k + ε)}.
     */
    static double[] maskedAttentionRef(double[] qkv, int[] off, int c, int heads, double[] bias, double[] mask, double eps) {
        int t = off[off.length - 1], hd = c / heads, ld = 3 * c;
        double[] out = new double[t * c];
        for (int b = 0; b + 1 < off.length; b++) {
            int o = off[b], n = off[b + 1] - o;
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < n; i++) {
                    double[] s = new double[n];
                    double mx = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < n; j++) {
                        double acc = 0;
                        for (int e = 0; e < hd; e++) acc += qkv[(o + i) * ld + h * hd + e] * qkv[(o + j) * ld + c + h * hd + e];
                        s[j] = acc / Math.sqrt(hd) + bias[o + j];
                        mx = Math.max(mx, s[j]);
                    }
                    double z = eps;
                    for (int j = 0; j < n; j++) z += s[j] = Math.exp(s[j] - mx) * mask[o + j];
                    for (int e = 0; e < hd; e++) {
                        double acc = 0;
                        for (int j = 0; j < n; j++) acc += (s[j] + eps / n) / z * qkv[(o + j) * ld + 2 * c + h * hd + e];
                        out[(o + i) * c + h * hd + e] = acc;
                    }
                }
            }
        }
        return out;
    }

    @Test
    void attentionKeyBiasGradient() {
        // proportional attention's ln(size) as a bias with a gradient
        int c = 12, heads = 3, t = 12;
        int[] off = {0, 5, 12};
        double[] qkv = randD(t * 3 * c, 1.5), bias = randD(t, 0.7), w = randD(t * c, 1);
        Attention.Probes pr = new Attention.Probes();
        pr.probs = new float[2 * heads][];
        Attention.forward(Parallel.serial(), f(qkv), off, 2, c, heads, f(bias), null, new float[t * c], pr);
        float[] dqkv = new float[t * 3 * c];
        Attention.KeyGrads kg = new Attention.KeyGrads();
        kg.bias = new float[t];
        Attention.backward(Parallel.create(2), f(qkv), off, 2, c, heads, pr.probs, null, null, f(w), dqkv, kg);
        assertClose(kg.bias, numeric(v -> attentionRef(qkv, off, c, heads, v), bias.clone(), w), "attention d(key bias)");
        assertClose(dqkv, numeric(v -> attentionRef(v, off, c, heads, bias), qkv.clone(), w), "attention dqkv with bias");
    }

    @Test
    void attentionSoftMaskGradient() {
        int c = 12, heads = 3, t = 13;
        int[] off = {0, 6, 13};
        double[] qkv = randD(t * 3 * c, 1.5), bias = randD(t, 0.5), w = randD(t * c, 1);
        double[] mask = new double[t];
        for (int j = 0; j < t; j++) mask[j] = j % 4 == 1 ? 0.0 : j % 4 == 2 ? 0.3 + 0.1 * j / t : 1.0; // hard zeros, soft, ones
        for (double eps : new double[] {0.0, 0.05}) {
            Attention.Probes pr = new Attention.Probes();
            pr.probs = new float[2 * heads][];
            pr.rowEps = new float[2 * heads][];
            Attention.KeyMask km = new Attention.KeyMask(f(mask), (float) eps);
            float[] out = new float[t * c];
            Attention.forward(Parallel.serial(), f(qkv), off, 2, c, heads, f(bias), km, out, pr);
            double[] want = maskedAttentionRef(qkv, off, c, heads, bias, mask, eps);
            for (int i = 0; i < out.length; i++) assertThat((double) out[i]).isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-5));
            float[] dqkv = new float[t * 3 * c];
            Attention.KeyGrads kg = new Attention.KeyGrads();
            kg.bias = new float[t];
            kg.mask = new float[t];
            Attention.backward(Parallel.create(2), f(qkv), off, 2, c, heads, pr.probs, pr.rowEps, km, f(w), dqkv, kg);
            final double e = eps;
            assertClose(kg.mask, numeric(v -> maskedAttentionRef(qkv, off, c, heads, bias, v, e), mask.clone(), w), "d(mask), eps " + eps);
            assertClose(kg.bias, numeric(v -> maskedAttentionRef(qkv, off, c, heads, v, mask, e), bias.clone(), w), "d(bias) with mask, eps " + eps);
            assertClose(dqkv, numeric(v -> maskedAttentionRef(v, off, c, heads, bias, mask, e), qkv.clone(), w), "dqkv with mask, eps " + eps);
        }
    }

    // ------------------------------------------------------------------ linear, GELU, loss

    @Test
    void linearWithBias() {
        int rows = 7, in = 9, out = 11;
        double[] x = randD(rows * in, 1), wt = randD(out * in, 1), b = randD(out, 1), w = randD(rows * out, 1);
        Function<double[][], double[]> ref = a -> {
            double[] y = new double[rows * out];
            for (int r = 0; r < rows; r++) {
                for (int o = 0; o < out; o++) {
                    double s = a[2][o];
                    for (int i = 0; i < in; i++) s += a[0][r * in + i] * a[1][o * in + i];
                    y[r * out + o] = s;
                }
            }
            return y;
        };
        Param pw = new Param("x.weight", new int[] {out, in}, f(wt)).requireGrad();
        Param pb = new Param("x.bias", new int[] {out}, f(b)).requireGrad();
        Linear lin = new Linear(pw, pb);
        float[] dx = new float[rows * in];
        try (Parallel par = Parallel.create(2)) {
            lin.backward(par, f(x), f(w), rows, dx, false, new Linear.Scratch());
        }
        assertClose(dx, numeric(v -> ref.apply(new double[][] {v, wt, b}), x.clone(), w), "linear dx");
        assertClose(pw.grad, numeric(v -> ref.apply(new double[][] {x, v, b}), wt.clone(), w), "linear dW");
        assertClose(pb.grad, numeric(v -> ref.apply(new double[][] {x, wt, v}), b.clone(), w), "linear db");
    }

    @Test
    void gelu() {
        double[] x = randD(67, 4), w = randD(67, 1);
        float[] dy = f(w);
        VecMath.geluBackwardInPlace(dy, f(x), 0, 67);
        Function<double[], double[]> ref = v -> {
            double[] y = new double[v.length];
            for (int i = 0; i < v.length; i++) y[i] = 0.5 * v[i] * (1 + io.vitrim.engine.NaiveErf.erf(v[i] / Math.sqrt(2)));
            return y;
        };
        assertClose(dy, numeric(ref, x.clone(), w), "GELU");
    }

    @Test
    void softmaxCrossEntropyWithSoftTargets() {
        int batch = 3, k = 7;
        double[] logits = randD(batch * k, 3);
        float[] targets = SoftmaxCrossEntropy.smoothed(new int[] {2, 6, 0}, k, 0.1f);
        float[] grad = new float[batch * k];
        SoftmaxCrossEntropy.forwardBackward(f(logits), targets, batch, k, grad);
        Function<double[], double[]> loss = v -> {
            double total = 0;
            for (int b = 0; b < batch; b++) {
                double mx = Double.NEGATIVE_INFINITY, z = 0;
                for (int i = 0; i < k; i++) mx = Math.max(mx, v[b * k + i]);
                for (int i = 0; i < k; i++) z += Math.exp(v[b * k + i] - mx);
                for (int i = 0; i < k; i++) total -= targets[b * k + i] * (v[b * k + i] - mx - Math.log(z));
            }
            return new double[] {total / batch};
        };
        assertClose(grad, numeric(loss, logits.clone(), new double[] {1}), "cross-entropy");
    }
}
