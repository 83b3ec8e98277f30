package io.vitrim.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The FP32 FMA peak the JVM reaches on this machine: independent register-resident FMA chains
 * (enough to cover the FMA latency) on the preferred species, per thread count. This measured
 * peak — not the data-sheet one — is the denominator of the efficiency figures in
 * docs/performance.md.
 * <p>
 * Run: {@code java --add-modules jdk.incubator.vector -cp vitrim-bench/target/vitrim-bench.jar io.vitrim.bench.PeakFlops [threads]}
 */
public final class PeakFlops {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int CHAINS = 12, ITERS = 20_000_000;

    /** {@code ITERS × CHAINS} FMAs; returns a value so the JIT cannot drop the work. */
    static float burn(float seed) {
        FloatVector a = FloatVector.broadcast(S, 0.999999f), b = FloatVector.broadcast(S, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(S, seed), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0,
                c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < ITERS; i++) {
            c0 = c0.fma(a, b); c1 = c1.fma(a, b); c2 = c2.fma(a, b); c3 = c3.fma(a, b);
            c4 = c4.fma(a, b); c5 = c5.fma(a, b); c6 = c6.fma(a, b); c7 = c7.fma(a, b);
            c8 = c8.fma(a, b); c9 = c9.fma(a, b); c10 = c10.fma(a, b); c11 = c11.fma(a, b);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    public static void main(String[] args) throws Exception {
        int maxThreads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        double flopsPerCall = 2.0 * S.length() * CHAINS * (double) ITERS;
        System.out.printf("species %s (%d lanes), %d FMA chains%n", S, S.length(), CHAINS);
        for (int i = 0; i < 3; i++) burn(i); // JIT warm-up
        for (int t = 1; t <= maxThreads; t++) {
            ExecutorService ex = Executors.newFixedThreadPool(t);
            double[] g = new double[5];
            for (int rep = 0; rep < g.length; rep++) {
                List<Future<Float>> fs = new ArrayList<>();
                long t0 = System.nanoTime();
                for (int k = 0; k < t; k++) {
                    float seed = rep + k;
                    fs.add(ex.submit(() -> burn(seed)));
                }
                float sink = 0;
                for (Future<Float> f : fs) sink += f.get();
                g[rep] = t * flopsPerCall / (System.nanoTime() - t0);
                if (sink == 42) System.out.print("");
            }
            ex.shutdown();
            Arrays.sort(g);
            System.out.printf("%d thread(s): %.0f GFLOP/s (median of %d; max %.0f)%n", t, g[g.length / 2], g.length, g[g.length - 1]);
        }
    }
}
