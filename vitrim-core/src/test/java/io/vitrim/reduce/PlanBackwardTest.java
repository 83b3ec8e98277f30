package io.vitrim.reduce;

import io.vitrim.engine.Parallel;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The backward of an applied {@link Plan} (ToMe's size-weighted merge, pruning, PPT-style
 * weighted merges) against central finite differences of a double-precision reference: the
 * plan's decisions and the sizes are constants, the rows are the variables.
 */
class PlanBackwardTest {
    static final int C = 5;

    /** Two images (7 and 6 tokens), sizes from an earlier merge, a plan that merges, prunes and keeps. */
    static Plan plan(TokenState s, boolean weighted) {
        Plan p = Plan.forState(s);
        // image 0: 0 kept; 1,3 → 1; 2 dropped; 4,5,6 → 2; → 3 tokens
        int[] a0 = {0, 1, -1, 1, 2, 2, 2};
        // image 1: 0 kept; 1 dropped; 2 → 1; 3,4 → 2; 5 dropped
        int[] a1 = {0, -1, 1, 2, 2, -1};
        for (int i = 0; i < 7; i++) p.send(i, a0[i]);
        for (int i = 0; i < 6; i++) p.send(7 + i, a1[i]);
        p.count(0, 3);
        p.count(1, 3);
        p.markMerges();
        if (weighted) {
            float[] w = new float[13];
            for (int i = 0; i < 13; i++) w[i] = 0.5f + 0.1f * i;
            p.weights(w);
        }
        return p;
    }

    static double[] reference(double[] x, float[] size, Plan p, int[] off, float[] weights) {
        double[] y = new double[6 * C], wsum = new double[6];
        for (int b = 0; b < 2; b++) {
            for (int i = off[b]; i < off[b + 1]; i++) {
                int d = p.assign(i);
                if (d < 0) continue;
                int g = b * 3 + d;
                double a = size[i] * (weights == null ? 1 : weights[i]);
                wsum[g] += a;
                for (int j = 0; j < C; j++) y[g * C + j] += a * x[i * C + j];
            }
        }
        for (int g = 0; g < 6; g++) for (int j = 0; j < C; j++) y[g * C + j] /= wsum[g];
        return y;
    }

    @Test
    void transposedGatherMatchesFiniteDifferences() {
        SplittableRandom r = new SplittableRandom(3);
        for (boolean weighted : new boolean[] {false, true}) {
            double[] x = new double[13 * C], w = new double[6 * C];
            for (int i = 0; i < x.length; i++) x[i] = r.nextDouble() * 2 - 1;
            for (int i = 0; i < w.length; i++) w[i] = r.nextDouble() * 2 - 1;
            float[] xf = new float[x.length];
            for (int i = 0; i < x.length; i++) xf[i] = (float) x[i];
            int[] off = {0, 7, 13};
            TokenState s = new TokenState(2, C, 1, 7, 3, xf, off, false, Parallel.serial());
            float[] size = {1, 2, 1, 3, 1, 1, 2, 1, 1, 4, 1, 2, 1};
            s.size = size.clone();
            Plan p = plan(s, weighted);
            PlanApplier.Recording rec = new PlanApplier.Recording();
            PlanApplier.apply(Parallel.serial(), s, p, new float[13 * C], rec);
            double[] y = reference(x, size, p, off, p.weights());
            for (int i = 0; i < y.length; i++) assertThat((double) s.x()[i]).isCloseTo(y[i], org.assertj.core.data.Offset.offset(1e-6));
            float[] dy = new float[w.length], dx = new float[x.length];
            for (int i = 0; i < w.length; i++) dy[i] = (float) w[i];
            java.util.Arrays.fill(dx, 7f); // overwritten, dropped rows too
            rec.backward(Parallel.create(2), dy, C, dx);
            for (int i = 0; i < x.length; i++) {
                double old = x[i], h = 1e-6;
                x[i] = old + h;
                double lp = dot(w, reference(x, size, p, off, p.weights()));
                x[i] = old - h;
                double lm = dot(w, reference(x, size, p, off, p.weights()));
                x[i] = old;
                assertThat((double) dx[i]).as("dx[%d] weighted=%s", i, weighted).isCloseTo((lp - lm) / (2 * h), org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}
