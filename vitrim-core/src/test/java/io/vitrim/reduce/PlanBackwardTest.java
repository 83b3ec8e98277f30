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

    /**
     * Park → merge → restore, as Cropr with last-layer fusion does: image 0 parks rows 2 and 5,
     * image 1 parks row 1; the remaining rows merge pairwise; the parked rows come back after the
     * live ones. The map from the first rows to the last is linear; its backward routes the
     * restored rows' gradients through the park slots.
     */
    static double[] parkMergeRestore(double[] x, float[] size, PlanApplier.Recording[] rec) {
        float[] xf = new float[x.length];
        for (int i = 0; i < x.length; i++) xf[i] = (float) x[i];
        return toDouble(parkMergeRestoreF(xf, size, rec));
    }

    static float[] parkMergeRestoreF(float[] x, float[] size, PlanApplier.Recording[] rec) {
        TokenState s = new TokenState(2, C, 1, 7, 3, x.clone(), new int[] {0, 7, 13}, true, Parallel.serial());
        s.size = size.clone();
        s.source[1][6] = -1; // image 1 holds 6 of the 7 original tokens (one pruned earlier)
        Plan p1 = Plan.forState(s);
        int[] a0 = {0, 1, Plan.PARK, 2, 3, Plan.PARK, 4};
        int[] a1 = {0, Plan.PARK, 1, 2, 3, 4};
        for (int i = 0; i < 7; i++) if (a0[i] == Plan.PARK) p1.park(i); else p1.send(i, a0[i]);
        for (int i = 0; i < 6; i++) if (a1[i] == Plan.PARK) p1.park(7 + i); else p1.send(7 + i, a1[i]);
        p1.count(0, 5);
        p1.count(1, 5);
        float[] spare = new float[13 * C];
        spare = PlanApplier.apply(Parallel.serial(), s, p1, spare, rec == null ? null : (rec[0] = new PlanApplier.Recording()));
        Plan p2 = Plan.forState(s); // 5 → 3 per image: 0 | 1,2 | 3,4
        for (int b = 0; b < 2; b++) {
            int o = s.offset(b);
            int[] a = {0, 1, 1, 2, 2};
            for (int i = 0; i < 5; i++) p2.send(o + i, a[i]);
            p2.count(b, 3);
        }
        p2.markMerges();
        spare = PlanApplier.apply(Parallel.serial(), s, p2, spare, rec == null ? null : (rec[1] = new PlanApplier.Recording()));
        assertThat(s.waiting()).isEqualTo(3);
        PlanApplier.restore(Parallel.serial(), s, spare, rec == null ? null : (rec[2] = new PlanApplier.Recording()));
        assertThat(s.count(0)).isEqualTo(5);
        assertThat(s.count(1)).isEqualTo(4);
        assertThat(s.waiting()).isZero();
        // every original token is somewhere again: parked ones at the end of their image
        assertThat(s.source()[0]).containsExactly(0, 1, 3, 1, 2, 4, 2);
        assertThat(s.source()[1]).containsExactly(0, 3, 1, 1, 2, 2, -1);
        return java.util.Arrays.copyOf(s.x(), s.total() * C);
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    @Test
    void parkedTokensComeBackWithTheirRepresentationAndTheirGradient() {
        SplittableRandom r = new SplittableRandom(5);
        double[] x = new double[13 * C];
        for (int i = 0; i < x.length; i++) x[i] = r.nextDouble() * 2 - 1;
        float[] size = {1, 2, 1, 3, 1, 1, 2, 1, 1, 4, 1, 2, 1};
        PlanApplier.Recording[] rec = new PlanApplier.Recording[3];
        float[] xf = new float[x.length];
        for (int i = 0; i < x.length; i++) xf[i] = (float) x[i];
        float[] y = parkMergeRestoreF(xf, size, rec);
        // the restored rows are the parked rows, bit for bit
        assertThat(java.util.Arrays.copyOfRange(y, 3 * C, 4 * C)).containsExactly(java.util.Arrays.copyOfRange(xf, 2 * C, 3 * C));
        assertThat(java.util.Arrays.copyOfRange(y, 4 * C, 5 * C)).containsExactly(java.util.Arrays.copyOfRange(xf, 5 * C, 6 * C));
        assertThat(java.util.Arrays.copyOfRange(y, 8 * C, 9 * C)).containsExactly(java.util.Arrays.copyOfRange(xf, 8 * C, 9 * C));
        double[] w = new double[y.length];
        for (int i = 0; i < w.length; i++) w[i] = r.nextDouble() * 2 - 1;
        float[] dy = new float[w.length];
        for (int i = 0; i < w.length; i++) dy[i] = (float) w[i];
        PlanApplier.SlotGrads slots = new PlanApplier.SlotGrads();
        float[] d2 = new float[13 * C], d1 = new float[13 * C], d0 = new float[13 * C];
        rec[2].backward(Parallel.serial(), dy, C, d2, slots);
        rec[1].backward(Parallel.serial(), d2, C, d1, slots);
        rec[0].backward(Parallel.create(2), d1, C, d0, slots);
        for (int i = 0; i < x.length; i++) {
            double old = x[i], h = 1e-3; // the map is linear: any step is exact up to float rounding
            x[i] = old + h;
            double lp = dot(w, parkMergeRestore(x, size, null));
            x[i] = old - h;
            double lm = dot(w, parkMergeRestore(x, size, null));
            x[i] = old;
            assertThat((double) d0[i]).as("dx[%d]", i).isCloseTo((lp - lm) / (2 * h), org.assertj.core.data.Offset.offset(2e-3));
        }
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}
