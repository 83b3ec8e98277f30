package io.vitrim.engine;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

class LayerNormTest {
    @Test
    void matchesNaiveOnOddWidthsInPlaceAndStrided() {
        for (int c : new int[] {1, 7, 33, 384, 1001}) {
            int rows = 13, ld = c + 3;
            float[] x = GemmTest.rand(rows * ld, c);
            for (int i = 0; i < x.length; i++) x[i] = x[i] * 3 + 5; // offset mean: tests the two-pass variance
            float[] g = GemmTest.rand(c, 1), b = GemmTest.rand(c, 2);
            float[] y = new float[rows * c];
            float[] mean = new float[rows], rstd = new float[rows];
            try (Parallel par = Parallel.create(2)) {
                LayerNorm.forward(par, x, 0, ld, rows, c, g, b, 1e-6f, y, 0, c, mean, rstd);
            }
            for (int r = 0; r < rows; r++) {
                double[] ref = Naive.layerNorm(x, r * ld, c, g, b, 1e-6);
                for (int i = 0; i < c; i++) assertThat((double) y[r * c + i]).isCloseTo(ref[i], offset(3e-5));
            }
            float[] copy = x.clone();
            LayerNorm.forward(Parallel.serial(), copy, 0, ld, rows, c, g, b, 1e-6f, copy, 0, ld, null, null);
            for (int r = 0; r < rows; r++) for (int i = 0; i < c; i++) assertThat(copy[r * ld + i]).isEqualTo(y[r * c + i]);
        }
    }
}
