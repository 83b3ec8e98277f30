package io.vitrim.bench;

import io.vitrim.engine.Gemm;
import io.vitrim.engine.PackedMatrix;
import io.vitrim.engine.Parallel;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Why batch-1 token reduction falls short of its MAC ratio: the GEMMs of a DeiT-S block at the
 * token counts a reduced model sees, with the weights of 12 blocks cycled (88 MB, larger than
 * the 32 MB L3 — what a real forward pass does, every weight read from memory once per image)
 * against one block's weights re-used (cache-resident). With few rows each weight is used
 * few times, so the cold case becomes bound by memory bandwidth, not FMAs.
 * <p>
 * Run: {@code java --add-modules jdk.incubator.vector -cp vitrim-bench/target/vitrim-bench.jar io.vitrim.bench.ColdWeights [threads]}
 */
public final class ColdWeights {
    static final int C = 384, HIDDEN = 1536, BLOCKS = 12;

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        SplittableRandom r = new SplittableRandom(0);
        PackedMatrix[][] w = new PackedMatrix[BLOCKS][];
        for (int b = 0; b < BLOCKS; b++) {
            w[b] = new PackedMatrix[] {random(r, 3 * C, C), random(r, C, C), random(r, HIDDEN, C), random(r, C, HIDDEN)};
        }
        float[] x = new float[197 * HIDDEN], out = new float[197 * HIDDEN];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        double macsPerRow = (3.0 * C * C + C * C + 2.0 * C * HIDDEN);
        System.out.printf("DeiT-S block GEMMs (qkv, proj, fc1, fc2), %d threads; weights %.0f MB over %d blocks%n",
                threads, BLOCKS * macsPerRow * 4 / 1e6, BLOCKS);
        System.out.println("tokens  cold GFLOP/s  hot GFLOP/s  cold/hot  cold weight GB/s");
        try (Parallel par = Parallel.create(threads)) {
            for (int m : new int[] {197, 150, 100, 70, 41, 20}) {
                double cold = run(par, w, x, out, m, true), hot = run(par, w, x, out, m, false);
                double flop = 2 * macsPerRow * m * BLOCKS;
                double bytes = macsPerRow * 4 * BLOCKS;
                System.out.printf("%6d  %12.0f  %11.0f  %8.2f  %16.1f%n", m, flop / cold, flop / hot, hot / cold, bytes / cold);
            }
        }
    }

    /** Median nanoseconds of one pass over 12 blocks' GEMMs (cold: each block its own weights). */
    static double run(Parallel par, PackedMatrix[][] w, float[] x, float[] out, int m, boolean cold) {
        double[] t = new double[15];
        for (int rep = -5; rep < t.length; rep++) {
            long t0 = System.nanoTime();
            for (int b = 0; b < BLOCKS; b++) {
                PackedMatrix[] bw = w[cold ? b : 0];
                Gemm.gemm(par, x, 0, C, m, bw[0], out, 0, 3 * C, Gemm.Mode.SET);
                Gemm.gemm(par, x, 0, C, m, bw[1], out, 0, C, Gemm.Mode.SET);
                Gemm.gemm(par, x, 0, C, m, bw[2], out, 0, HIDDEN, Gemm.Mode.SET);
                Gemm.gemm(par, x, 0, HIDDEN, m, bw[3], out, 0, C, Gemm.Mode.SET);
            }
            if (rep >= 0) t[rep] = System.nanoTime() - t0;
        }
        Arrays.sort(t);
        return t[t.length / 2];
    }

    static PackedMatrix random(SplittableRandom r, int out, int in) {
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextGaussian() * 0.02);
        return PackedMatrix.ofLinearWeight(w, out, in, null);
    }
}
