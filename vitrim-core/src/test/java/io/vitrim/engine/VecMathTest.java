package io.vitrim.engine;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class VecMathTest {

    @Test
    void expIsAccurateAndVectorMatchesScalar() {
        float[] xs = new float[VecMath.VLEN];
        double maxRel = 0;
        for (float x = -90f; x <= 88f; x += 0.0137f) {
            for (int i = 0; i < xs.length; i++) xs[i] = x + i * 1e-3f;
            float[] v = new float[xs.length];
            VecMath.exp(FloatVector.fromArray(VecMath.F, xs, 0)).intoArray(v, 0);
            for (int i = 0; i < xs.length; i++) {
                float s = VecMath.exp(xs[i]);
                assertThat(v[i]).as("vector vs scalar at %s", xs[i]).isEqualTo(s);
                double want = Math.exp(xs[i]);
                if (want > 1e-37) maxRel = Math.max(maxRel, Math.abs(s - want) / want);
                else assertThat((double) s).isLessThan(2e-37);
            }
        }
        assertThat(maxRel).isLessThan(3e-7);
        assertThat(VecMath.exp(Float.NEGATIVE_INFINITY)).isZero();
    }

    @Test
    void erfAndGeluAreAccurate() {
        double maxErf = 0, maxGelu = 0;
        float[] xs = new float[VecMath.VLEN];
        for (float x = -8f; x <= 8f; x += 0.0031f) {
            for (int i = 0; i < xs.length; i++) xs[i] = x + i * 1e-4f;
            float[] e = new float[xs.length], g = new float[xs.length];
            FloatVector vx = FloatVector.fromArray(VecMath.F, xs, 0);
            VecMath.erf(vx).intoArray(e, 0);
            VecMath.gelu(vx).intoArray(g, 0);
            for (int i = 0; i < xs.length; i++) {
                assertThat(e[i]).isEqualTo(VecMath.erf(xs[i]));
                assertThat(g[i]).isEqualTo(VecMath.gelu(xs[i]));
                maxErf = Math.max(maxErf, Math.abs(e[i] - Naive.erf(xs[i])));
                maxGelu = Math.max(maxGelu, Math.abs(g[i] - Naive.gelu(xs[i])) / Math.max(1, Math.abs(xs[i])));
            }
        }
        assertThat(maxErf).isLessThan(5e-7);
        assertThat(maxGelu).isLessThan(5e-7);
    }

    @Test
    void quickGeluIsAccurateAndVectorMatchesScalar() {
        float[] xs = new float[VecMath.VLEN];
        double maxErr = 0;
        for (float x = -100f; x <= 100f; x += 0.0173f) {
            for (int i = 0; i < xs.length; i++) xs[i] = x + i * 1e-3f;
            float[] v = xs.clone();
            VecMath.quickGeluInPlace(v, 0, v.length);
            for (int i = 0; i < xs.length; i++) {
                assertThat(v[i]).as("vector vs scalar at %s", xs[i]).isEqualTo(VecMath.quickGelu(xs[i]));
                double want = xs[i] / (1 + Math.exp(-1.702 * xs[i]));
                maxErr = Math.max(maxErr, Math.abs(v[i] - want) / Math.max(1, Math.abs(want)));
            }
        }
        assertThat(maxErr).isLessThan(1e-6);
    }

    /** SwiGLU over a row whose width leaves a scalar tail: SiLU(gate)·value, vector and tail alike. */
    @Test
    void swigluIsAccurateAndVectorMatchesScalar() {
        int h = 3 * VecMath.VLEN + 5;
        float[] in = new float[2 * h + 3], out = new float[h + 2];
        java.util.SplittableRandom r = new java.util.SplittableRandom(9);
        for (int i = 0; i < in.length; i++) in[i] = (float) (r.nextGaussian() * 30);
        VecMath.swiglu(in, 3, out, 2, h);
        for (int j = 0; j < h; j++) {
            float g = in[3 + j], v = in[3 + h + j];
            assertThat(out[2 + j]).as("vector vs scalar at %d", j).isEqualTo(VecMath.silu(g) * v);
            double want = g / (1 + Math.exp(-(double) g)) * v;
            assertThat(Math.abs(out[2 + j] - want)).as("at %d", j).isLessThanOrEqualTo(1e-6 * Math.max(1, Math.abs(want)));
        }
        assertThat(out[0]).isZero();
        assertThat(out[1]).isZero();
    }
}
