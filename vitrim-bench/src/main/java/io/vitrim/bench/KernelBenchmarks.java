package io.vitrim.bench;

import io.vitrim.engine.Attention;
import io.vitrim.engine.Gemm;
import io.vitrim.engine.LayerNorm;
import io.vitrim.engine.PackedMatrix;
import io.vitrim.engine.Parallel;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;

/**
 * JMH micro-benchmarks of the engine's kernels at DeiT-S shapes (batch 32 → 6304 token rows).
 * Run: {@code java --add-modules jdk.incubator.vector -cp vitrim-bench.jar org.openjdk.jmh.Main KernelBenchmarks}
 */
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class KernelBenchmarks {
    @Param({"6304", "197"})
    int rows;

    @Param({"2"})
    int threads;

    Parallel par;
    float[] x, ln, qkv, hidden, attn, gamma, beta;
    PackedMatrix wQkv, wFc1, wFc2;
    int[] offsets;

    static float[] rand(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian() * 0.5f;
        return v;
    }

    @Setup(Level.Trial)
    public void setup() {
        par = Parallel.create(threads);
        int c = 384;
        x = rand(rows * c, 1);
        ln = new float[rows * c];
        qkv = rand(rows * 3 * c, 2);
        hidden = new float[rows * 4 * c];
        attn = new float[rows * c];
        gamma = rand(c, 3);
        beta = rand(c, 4);
        wQkv = PackedMatrix.ofLinearWeight(rand(3 * c * c, 5), 3 * c, c, rand(3 * c, 6));
        wFc1 = PackedMatrix.ofLinearWeight(rand(4 * c * c, 7), 4 * c, c, rand(4 * c, 8));
        wFc2 = PackedMatrix.ofLinearWeight(rand(4 * c * c, 9), c, 4 * c, rand(c, 10));
        int images = Math.max(1, rows / 197);
        offsets = new int[images + 1];
        for (int b = 0; b <= images; b++) offsets[b] = b * 197;
    }

    @TearDown
    public void close() {
        par.close();
    }

    @Benchmark
    public void gemmQkv() {
        Gemm.gemm(par, x, 0, 384, rows, wQkv, qkv, 0, 3 * 384, Gemm.Mode.SET);
    }

    @Benchmark
    public void gemmFc1Gelu() {
        Gemm.gemm(par, x, 0, 384, rows, wFc1, hidden, 0, 4 * 384, Gemm.Mode.SET_GELU);
    }

    @Benchmark
    public void gemmFc2Residual() {
        Gemm.gemm(par, hidden, 0, 4 * 384, rows, wFc2, x, 0, 384, Gemm.Mode.ADD);
    }

    @Benchmark
    public void attention() {
        Attention.forward(par, qkv, offsets, offsets.length - 1, 384, 6, null, attn, null);
    }

    @Benchmark
    public void layerNorm() {
        LayerNorm.forward(par, x, 0, 384, rows, 384, gamma, beta, 1e-6f, ln, 0, 384, null, null);
    }
}
