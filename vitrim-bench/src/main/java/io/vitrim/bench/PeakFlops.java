package io.vitrim.bench;

/**
 * Prints the FP32 FMA peak per thread count ({@link io.vitrim.measure.PeakFlops}); {@code vitrim
 * bench --peak} measures the same for its own thread count.
 * <p>
 * Run: {@code java --add-modules jdk.incubator.vector -cp vitrim-bench/target/vitrim-bench.jar io.vitrim.bench.PeakFlops [threads]}
 */
public final class PeakFlops {
    private PeakFlops() {}

    public static void main(String[] args) {
        int maxThreads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        System.out.println(io.vitrim.measure.PeakFlops.describe());
        for (int t = 1; t <= maxThreads; t++) {
            System.out.printf("%d thread(s): %.0f GFLOP/s (median of 5)%n", t, io.vitrim.measure.PeakFlops.measure(t, 20_000_000, 5));
        }
    }
}
