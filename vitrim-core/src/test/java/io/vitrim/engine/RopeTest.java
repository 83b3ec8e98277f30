package io.vitrim.engine;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Rope} against a naive double-precision rotation written from timm's
 * {@code RotaryEmbeddingCat} + {@code apply_rot_embed_cat} (interleaved pairs, row angles first),
 * for grid positions (its table), fractional positions (merged tokens), rows without a position
 * (prefix tokens) and v, which it must not touch.
 */
class RopeTest {

    static double[] naive(float[] v, int o, double y, double x, int hd, int gh, int gw, int refH, int refW, double temp) {
        int nb = hd / 4;
        double ty = refH > 0 ? y / gh * refH : y, tx = refW > 0 ? x / gw * refW : x;
        double[] out = new double[hd];
        for (int p = 0; p < hd / 2; p++) {
            double f = 1.0 / Math.pow(temp, (double) (p % nb) / nb);
            double a = (p < nb ? ty : tx) * f;
            double v0 = v[o + 2 * p], v1 = v[o + 2 * p + 1];
            out[2 * p] = v0 * Math.cos(a) - v1 * Math.sin(a);
            out[2 * p + 1] = v1 * Math.cos(a) + v0 * Math.sin(a);
        }
        return out;
    }

    @Test
    void rotatesQueriesAndKeysByTheirPositions() {
        int heads = 3, hd = 16, c = heads * hd, gh = 5, gw = 7, rows = 40;
        SplittableRandom r = new SplittableRandom(5);
        for (int[] ref : new int[][] {{16, 16}, {0, 0}, {4, 9}}) {
            Rope rope = new Rope(hd, gh, gw, ref[0], ref[1], 10000f);
            float[] qkv = new float[rows * 3 * c], pos = new float[2 * rows];
            for (int i = 0; i < qkv.length; i++) qkv[i] = (float) r.nextGaussian();
            for (int t = 0; t < rows; t++) {
                if (t % 9 == 0) {
                    pos[2 * t] = pos[2 * t + 1] = Float.NaN; // a prefix token
                } else if (t % 3 == 0) {
                    pos[2 * t] = (float) (r.nextDouble() * (gh - 1)); // a merged token's mean position
                    pos[2 * t + 1] = (float) (r.nextDouble() * (gw - 1));
                } else {
                    pos[2 * t] = r.nextInt(gh);
                    pos[2 * t + 1] = r.nextInt(gw);
                }
            }
            float[] in = qkv.clone();
            try (Parallel par = Parallel.create(2)) {
                rope.apply(par, qkv, rows, c, heads, pos);
            }
            for (int t = 0; t < rows; t++) {
                for (int part = 0; part < 3; part++) {
                    for (int h = 0; h < heads; h++) {
                        int o = t * 3 * c + part * c + h * hd;
                        if (part == 2 || Float.isNaN(pos[2 * t])) {
                            for (int j = 0; j < hd; j++) assertThat(qkv[o + j]).isEqualTo(in[o + j]);
                            continue;
                        }
                        double[] want = naive(in, o, pos[2 * t], pos[2 * t + 1], hd, gh, gw, ref[0], ref[1], 10000);
                        for (int j = 0; j < hd; j++) {
                            // angles up to ~16 rad, rounded to float as timm does: a few 1e-6 apart
                            assertThat(Math.abs(qkv[o + j] - want[j])).as("ref %dx%d row %d part %d head %d [%d]", ref[0], ref[1], t, part, h, j)
                                    .isLessThan(1e-5);
                        }
                    }
                }
            }
        }
    }

    /**
     * A grid position reads the table, a position one ulp off it takes the formula: the two agree
     * to float rounding; coordinates are rounded as timm's float32 {@code x / f * r}.
     */
    @Test
    void tableAndFormulaAgree() {
        int hd = 8, c = hd;
        Rope rope = new Rope(hd, 4, 4, 16, 16, 10000f);
        float[] a = new float[3 * c], b;
        for (int i = 0; i < a.length; i++) a[i] = i + 0.5f;
        b = a.clone();
        try (Parallel par = Parallel.serial()) {
            rope.apply(par, a, 1, c, 1, new float[] {2f, 3f});
            // just off the grid: computed on the spot, and next to the table's value
            rope.apply(par, b, 1, c, 1, new float[] {Math.nextUp(2f), 3f});
        }
        for (int j = 0; j < 2 * c; j++) assertThat(Math.abs(a[j] - b[j])).isLessThan(1e-4f);
        assertThat(Rope.coord(2f, 4, 16)).isEqualTo(8f);
        assertThat(Rope.coord(2f, 14, 16)).isEqualTo(2f / 14 * 16);
    }
}
