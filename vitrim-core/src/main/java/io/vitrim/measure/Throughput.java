package io.vitrim.measure;

import io.vitrim.model.Macs;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.reduce.Trace;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * Forward-pass throughput of several reducers on one model, measured the way
 * design.md §6 asks: JIT warm-up first, then rounds in which every reducer runs once
 * (so slow drifts of a shared machine hit all of them alike), median per reducer, and each
 * speed-up as a ratio to the first reducer (normally {@code none}) in the same process.
 */
public final class Throughput {
    private Throughput() {}

    /** Measurement settings. */
    public record Settings(int batch, double warmupSeconds, int minWarmupRuns, int rounds, long seed) {}

    /** One reducer's result. */
    public record Result(String spec, double[] runMillis, double medianMillis, double imagesPerSecond,
                         double gmacs, double macRatio, double speedup, double overheadFraction,
                         double[] phaseMillis, double[] phaseGmacs) {
        /** Median wall time of one phase of the forward pass, ms per batch. */
        public double phaseMillis(Trace.Phase p) {
            return phaseMillis[p.ordinal()];
        }

        /** GMACs per image of one phase. */
        public double phaseGmacs(Trace.Phase p) {
            return phaseGmacs[p.ordinal()];
        }
    }

    /**
     * @param progress receives short status lines (may be null)
     */
    public static List<Result> measure(VisionTransformer model, List<TokenReducer> reducers, Settings s, Consumer<String> progress) {
        return measure(model, reducers, s, progress, null);
    }

    /**
     * As above, timed on {@code images} ({@code [batch, 3, H, W]}, normalised) instead of noise:
     * data-dependent methods (LTMP, PPT) reduce real images differently from noise, so their
     * speed must be measured on the images their accuracy and MACs come from.
     */
    public static List<Result> measure(VisionTransformer model, List<TokenReducer> reducers, Settings s, Consumer<String> progress,
                                       float[] images) {
        return measure(model, reducers, s, progress, images, (px, b, r) -> model.forward(px, b, r, false).trace());
    }

    /** One timed pass of a model's task (a classifier's forward, a segmentation model's {@code segment}); its trace. */
    public interface Pass {
        Trace run(float[] pixels, int batch, TokenReducer reducer);
    }

    /** As above, timing {@code pass} (e.g. segmentation, whose dense reductions restore tokens and gather per patch). */
    public static List<Result> measure(VisionTransformer model, List<TokenReducer> reducers, Settings s, Consumer<String> progress,
                                       float[] images, Pass pass) {
        var cfg = model.config();
        int per = 3 * cfg.imgHeight() * cfg.imgWidth();
        float[] px = images;
        if (px == null) {
            px = new float[s.batch() * per];
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(s.seed());
            for (int i = 0; i < px.length; i++) px[i] = (float) rnd.nextGaussian();
        } else if (px.length != s.batch() * per) {
            throw new IllegalArgumentException("images hold " + px.length / per + " images, batch is " + s.batch());
        }
        double[] gmacs = new double[reducers.size()];
        double[][] phaseGmacs = new double[reducers.size()][];
        long start = System.nanoTime();
        int warmRuns = 0;
        while (true) {
            for (int i = 0; i < reducers.size(); i++) {
                Trace t = pass.run(px, s.batch(), reducers.get(i));
                gmacs[i] = Macs.mean(cfg, t) / 1e9;
                phaseGmacs[i] = java.util.Arrays.stream(Macs.byPhase(cfg, t)).map(v -> v / 1e9).toArray();
            }
            warmRuns++;
            double elapsed = (System.nanoTime() - start) / 1e9;
            if (progress != null) progress.accept(String.format("warm-up %.1f s (%d rounds)", elapsed, warmRuns));
            if (elapsed >= s.warmupSeconds() && warmRuns >= s.minWarmupRuns()) break;
        }
        double[][] ms = new double[reducers.size()][s.rounds()];
        double[][] overhead = new double[reducers.size()][s.rounds()];
        Trace.Phase[] phases = Trace.Phase.values();
        double[][][] phaseMs = new double[reducers.size()][phases.length][s.rounds()];
        for (int round = 0; round < s.rounds(); round++) {
            for (int i = 0; i < reducers.size(); i++) {
                long t0 = System.nanoTime();
                Trace t = pass.run(px, s.batch(), reducers.get(i));
                ms[i][round] = (System.nanoTime() - t0) / 1e6;
                overhead[i][round] = (double) t.reductionNanos() / t.forwardNanos();
                for (Trace.Phase p : phases) phaseMs[i][p.ordinal()][round] = t.phaseNanos(p) / 1e6;
            }
            if (progress != null) progress.accept(String.format("measuring: round %d/%d", round + 1, s.rounds()));
        }
        double base = median(ms[0]);
        double baseMacs = gmacs[0];
        List<Result> out = new ArrayList<>();
        for (int i = 0; i < reducers.size(); i++) {
            double med = median(ms[i]);
            double[] phaseMed = new double[phases.length];
            for (int p = 0; p < phases.length; p++) phaseMed[p] = median(phaseMs[i][p]);
            out.add(new Result(reducers.get(i).spec(), ms[i], med, s.batch() / (med / 1000), gmacs[i],
                    baseMacs / gmacs[i], base / med, median(overhead[i]), phaseMed, phaseGmacs[i]));
        }
        return out;
    }

    public static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        int n = c.length;
        return n % 2 == 1 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    }
}
