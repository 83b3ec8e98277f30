package io.vitrim.measure;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The FP32 FMA peak the JVM reaches on this machine: independent register-resident FMA chains
 * (enough to cover the FMA latency) on the preferred species, run on every thread at once. This
 * measured peak, not the data-sheet one, is the denominator of vitrim's efficiency figures — the
 * same 2-vCPU machine class has measured 454 GFLOP/s (AMD Zen 5) and 225 GFLOP/s (Zen 4).
 */
public final class PeakFlops {
    private PeakFlops() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int CHAINS = 12;
    /** Where the burn results go, so the JIT cannot drop the work. */
    static volatile float sink;

    /** {@code iters × CHAINS} vector FMAs; returns a value so the JIT cannot drop the work. */
    static float burn(float seed, int iters) {
        FloatVector a = FloatVector.broadcast(S, 0.999999f), b = FloatVector.broadcast(S, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(S, seed), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0,
                c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < iters; i++) {
            c0 = c0.fma(a, b); c1 = c1.fma(a, b); c2 = c2.fma(a, b); c3 = c3.fma(a, b);
            c4 = c4.fma(a, b); c5 = c5.fma(a, b); c6 = c6.fma(a, b); c7 = c7.fma(a, b);
            c8 = c8.fma(a, b); c9 = c9.fma(a, b); c10 = c10.fma(a, b); c11 = c11.fma(a, b);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(VectorOperators.ADD);
    }

    /** FLOPs of one {@link #burn} call. */
    static double flopsPerCall(int iters) {
        return 2.0 * S.length() * CHAINS * (double) iters;
    }

    /**
     * Median GFLOP/s of {@code reps} runs of {@code iters} FMA iterations on each of {@code threads}
     * threads at once, after a JIT warm-up (20M iterations take ≈ 0.1–0.2 s on AVX-512).
     */
    public static double measure(int threads, int iters, int reps) {
        if (threads < 1 || iters < 1 || reps < 1) throw new IllegalArgumentException("threads, iters and reps must be positive");
        for (int i = 0; i < 3; i++) burn(i, Math.min(iters, 2_000_000)); // JIT warm-up
        ExecutorService ex = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "vitrim-peak");
            t.setDaemon(true);
            return t;
        });
        try {
            double[] g = new double[reps];
            for (int rep = 0; rep < reps; rep++) {
                List<Future<Float>> fs = new ArrayList<>();
                long t0 = System.nanoTime();
                for (int k = 0; k < threads; k++) {
                    float seed = rep + k;
                    fs.add(ex.submit(() -> burn(seed, iters)));
                }
                float sum = 0;
                for (Future<Float> f : fs) sum += f.get();
                g[rep] = threads * flopsPerCall(iters) / (System.nanoTime() - t0);
                sink = sum;
            }
            Arrays.sort(g);
            return g[reps / 2];
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while measuring the FMA peak", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("FMA peak measurement failed", e.getCause());
        } finally {
            ex.shutdownNow();
        }
    }

    /** A short description of the kernel, for reports. */
    public static String describe() {
        return S.length() + "-lane FP32 FMAs, " + CHAINS + " independent chains per thread";
    }
}
