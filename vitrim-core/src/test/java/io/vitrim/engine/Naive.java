package io.vitrim.engine;

/** Straightforward double-precision references the kernels are tested against. */
final class Naive {
    private Naive() {}

    /** C = A[m,k]·B[k,n] (+ bias) with A(i,k) = a[aOff + i·aRow + k·aCol], B row-major. */
    static double[] matmul(float[] a, int aOff, int aRow, int aCol, int m, float[] b, int k, int n, float[] bias) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = bias == null ? 0 : bias[j];
                for (int q = 0; q < k; q++) s += (double) a[aOff + i * aRow + q * aCol] * b[q * n + j];
                c[i * n + j] = s;
            }
        }
        return c;
    }

    static double gelu(double x) {
        return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
    }

    /** erf to ~1e-15 (series for small |x|, continued fraction via erfc otherwise). */
    static double erf(double x) {
        double ax = Math.abs(x);
        if (ax < 2.5) {
            double sum = 0, term = ax;
            for (int n = 0; n < 200; n++) {
                double t = term / (2 * n + 1);
                sum += t;
                term *= -ax * ax / (n + 1);
                if (Math.abs(t) < 1e-17) break;
            }
            return Math.signum(x) * 2 / Math.sqrt(Math.PI) * sum;
        }
        // Lentz continued fraction for erfc
        double tiny = 1e-300, f = ax, c = ax, d = 0;
        for (int n = 1; n < 300; n++) {
            double an = n / 2.0;
            d = ax + an * d;
            d = d == 0 ? tiny : d;
            c = ax + an / c;
            c = c == 0 ? tiny : c;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) break;
        }
        double erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
        return Math.signum(x) * (1 - erfc);
    }

    static double[] layerNorm(float[] x, int off, int c, float[] g, float[] b, double eps) {
        double mean = 0;
        for (int i = 0; i < c; i++) mean += x[off + i];
        mean /= c;
        double var = 0;
        for (int i = 0; i < c; i++) var += (x[off + i] - mean) * (x[off + i] - mean);
        var /= c;
        double[] y = new double[c];
        for (int i = 0; i < c; i++) y[i] = (x[off + i] - mean) / Math.sqrt(var + eps) * g[i] + b[i];
        return y;
    }
}
