package io.vitrim.model;

import io.vitrim.engine.Parallel;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The bias gradient's column sums: against a double-precision sum, and the same bits on any thread count. */
class ColumnSumsTest {
    @Test
    void matchesNaiveAndIsThreadCountIndependent() {
        int rows = 3 * Linear.SUM_ROWS + 37, n = 45;
        SplittableRandom r = new SplittableRandom(3);
        float[] a = new float[rows * n];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        float[] first = null;
        for (int threads = 1; threads <= 3; threads++) {
            float[] acc = new float[n];
            for (int j = 0; j < n; j++) acc[j] = j; // accumulates onto what is there
            try (Parallel par = Parallel.create(threads)) {
                Linear.columnSums(par, a, rows, n, acc);
            }
            for (int j = 0; j < n; j++) {
                double want = j;
                for (int q = 0; q < rows; q++) want += a[q * n + j];
                assertThat((double) acc[j]).as("column %d", j).isCloseTo(want, within(1e-4 * Math.sqrt(rows)));
            }
            if (first == null) first = acc;
            else assertThat(acc).as("threads=%d", threads).containsExactly(first);
        }
    }
}
