package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.io.Json;
import io.vitrim.measure.PeakFlops;
import io.vitrim.measure.SystemInfo;
import io.vitrim.measure.Throughput;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Methods;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.reduce.Trace;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "bench", sortOptions = false, mixinStandardHelpOptions = true,
        header = "Images/s per reduction method, as a ratio to 'none'.",
        description = "Images/s of the forward pass, per reduction method, as a ratio to 'none' measured in the same process. JIT warm-up first, then rounds in which every method runs once; medians are reported.",
        footer = {"", "Examples:",
            "  vitrim bench                             # the embedded model, batch 32",
            "  vitrim bench --arch deit_small_patch16_224 --batch 1 --threads 2",
            "  vitrim bench --arch deit_small_patch16_224 --reduce tome:r=13 --json",
            "  vitrim bench --peak                      # also: share of the FMA peak",
            "  vitrim bench --reduce tome:r=8 --breakdown   # time per part",
            "  vitrim bench --batch 1 --reduce ppt:r=16,layers=2/5/7 --forks 5",
            "  vitrim bench --arch vit_base_patch16_clip_224 --images photos/ \\",
            "      --reduce ltmp:merge=0.9,prune=off   # data-dependent: time on photos",
            "  vitrim bench --model models/deit-s --batch 64 --rounds 20"})
final class BenchCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

    @Mixin
    ThreadOption threads;

    @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", completionCandidates = ReduceCandidates.class,
            description = "A reduction to measure (repeatable); 'none' is always measured first as the baseline.")
    List<String> reduce = new ArrayList<>();

    @Option(names = {"-b", "--batch"}, paramLabel = "N", defaultValue = "32", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--warmup", paramLabel = "SECONDS", defaultValue = "10",
            description = "JIT warm-up time before measuring (default: ${DEFAULT-VALUE}).")
    double warmup;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "10",
            description = "Measured rounds; each runs every method once (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--images", paramLabel = "ZIP|DIR|FILE",
            description = "Time on these photos (repeatable; the first --batch of them, repeated if fewer) instead of seeded noise."
                    + " LTMP and PPT reduce real images differently from noise (on noise LTMP merges almost nothing), so their"
                    + " speed-ups mean something only on photos like the ones their accuracy comes from.")
    List<java.nio.file.Path> images = new ArrayList<>();

    @Option(names = "--peak", description = "First measure this machine's FP32 FMA peak on the same threads (≈ 2 s), then report each method's share of it.")
    boolean peak;

    @Option(names = "--breakdown", description = "Also print where the time goes: per part of the forward pass (norms, each GEMM,"
            + " attention, reduction, ...), each method's median ms per batch and its speed-up over 'none' next to that part's MAC ratio.")
    boolean breakdown;

    @Option(names = "--restore", paramLabel = "output|llf", defaultValue = "output",
            description = "A segmentation model: pruned tokens come back after the last block (output) or before it (llf) (default: ${DEFAULT-VALUE}).")
    String restore;

    @Option(names = "--json", description = "Print the results as one JSON object.")
    boolean json;

    @Option(names = "--forks", paramLabel = "N", defaultValue = "1",
            description = "Measure in N fresh JVMs, one after the other (as JMH forks do), and report per method the median over the forks"
                    + " and each fork's speed-up: the ratio to 'none' moves between JVM processes more than between rounds"
                    + " (default: ${DEFAULT-VALUE}, this JVM).")
    int forks;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (batch < 1 || batch > 4096) throw new VitrimException("--batch " + batch + ": must be between 1 and 4096");
        if (rounds < 1) throw new VitrimException("--rounds " + rounds + ": must be at least 1");
        if (!(warmup >= 0)) throw new VitrimException("--warmup " + warmup + ": must be >= 0");
        if (forks < 1 || forks > 100) throw new VitrimException("--forks " + forks + ": must be between 1 and 100");
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        int n = threads.get();
        String header = String.format(Locale.ROOT, "%s: %s, batch %d, %s, %s, timed on %s", "vitrim bench", model.describe(), batch, threadsText(n),
                SystemInfo.summary(), inputText());
        Progress progress = new Progress(err, !json);
        double peakGflops = Double.NaN;
        List<Throughput.Result> res;
        double[][] forkSpeedups = null;
        if (forks > 1) {
            BenchForks.Summary sum = BenchForks.summarise(
                    BenchForks.run(BenchForks.withoutForks(spec.commandLine().getParseResult().originalArgs()), forks, progress), batch, peak);
            res = sum.results();
            forkSpeedups = sum.speedups();
            peakGflops = sum.peakGflops();
            if (!json) {
                out.println(header + ", " + forks + " forks (fresh JVMs)");
                if (peak) out.printf(Locale.ROOT, "FP32 FMA peak: %.0f GFLOP/s on %s (median of the forks; %s)%n", peakGflops, threadsText(n), PeakFlops.describe());
            }
        } else {
            try (VisionTransformer m = model.load(n)) {
                List<TokenReducer> reducers = new ArrayList<>();
                reducers.add(TokenReducer.NONE);
                for (String r : reduce) {
                    TokenReducer t = io.vitrim.io.SideWeights.reducer(m, r);
                    if (!t.spec().equals("none")) reducers.add(t);
                }
                if (!json) {
                    out.println(header);
                    out.flush();
                }
                if (peak) {
                    progress.status("measuring the FMA peak on " + threadsText(n));
                    peakGflops = PeakFlops.measure(n, 20_000_000, 5);
                    if (!json) {
                        progress.done();
                        out.printf(Locale.ROOT, "FP32 FMA peak: %.0f GFLOP/s on %s (%s)%n", peakGflops, threadsText(n), PeakFlops.describe());
                        out.flush();
                    }
                }
                // a segmentation model is timed segmenting (dense reductions, restores, decoder and per-patch gather)
                Throughput.Pass pass = m.segmentation() == null ? (px, b, r) -> m.forward(px, b, r, false).trace()
                        : (px, b, r) -> m.segment(px, b, r, SegmentationTraining.restore(restore)).trace();
                res = Throughput.measure(m, reducers, new Throughput.Settings(batch, warmup, 2, rounds, 1234), progress::status, photos(m, n), pass);
                progress.done();
            }
        }
        print(out, n, res, peakGflops, forkSpeedups);
        out.flush();
        SpeedNote.print(err, "vitrim bench"); // after the results, so an error stays the only line on stderr
        return 0;
    }

    /** The results as a table (and breakdown, and per-fork speed-ups) or as one JSON object. */
    private void print(PrintWriter out, int n, List<Throughput.Result> res, double peakGflops, double[][] forkSpeedups) {
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("model", model.describe());
            o.put("batch", batch);
            o.put("threads", n);
            o.put("jdk", SystemInfo.jdk());
            o.put("cpu", SystemInfo.cpu());
            o.put("vector", SystemInfo.vector());
            o.put("warmup_s", warmup);
            o.put("rounds", rounds);
            o.put("forks", forks);
            o.put("input", inputText());
            if (peak) o.put("peak_gflops", peakGflops);
            List<Object> rs = new ArrayList<>();
            for (Throughput.Result r : res) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("spec", r.spec());
                e.put("images_per_s", r.imagesPerSecond());
                e.put("median_ms", r.medianMillis());
                e.put("gmacs", r.gmacs());
                e.put("mac_ratio", r.macRatio());
                e.put("speedup", r.speedup());
                e.put("gflops", gflops(r));
                if (peak) e.put("peak_fraction", gflops(r) / peakGflops);
                e.put("reduction_overhead", r.overheadFraction());
                e.put("runs_ms", r.runMillis());
                if (forkSpeedups != null) e.put("speedup_per_fork", forkSpeedups[rs.size()]);
                if (breakdown) {
                    Map<String, Object> ph = new LinkedHashMap<>();
                    for (Trace.Phase p : Trace.Phase.values()) {
                        ph.put(BenchForks.key(p), Map.of("median_ms", r.phaseMillis(p), "gmacs", r.phaseGmacs(p)));
                    }
                    e.put("phases", ph);
                }
                rs.add(e);
            }
            o.put("results", rs);
            out.println(Json.write(o));
        } else {
            String peakHead = peak ? String.format(Locale.ROOT, " %7s", "% peak") : "";
            out.printf(Locale.ROOT, "%-34s %9s %11s %8s %9s %10s %9s %9s%s%n", "method", "img/s", "ms/batch", "GMACs", "GFLOP/s",
                    "MAC ratio", "speed-up", "overhead", peakHead);
            for (Throughput.Result r : res) {
                String share = peak ? String.format(Locale.ROOT, " %6.1f%%", 100 * gflops(r) / peakGflops) : "";
                out.printf(Locale.ROOT, "%-34s %9.1f %11.1f %8.3f %9.1f %9.2fx %8.2fx %8.1f%%%s%n", r.spec(), r.imagesPerSecond(),
                        r.medianMillis(), r.gmacs(), gflops(r), r.macRatio(), r.speedup(), 100 * r.overheadFraction(), share);
            }
            out.println("(GFLOP/s: 2 × GMACs × img/s, the work each method actually does; speed-up: median time of 'none' /"
                    + " median time of the method, same process; overhead: share of the forward time spent deciding and applying"
                    + " the reduction)");
            if (forkSpeedups != null) printForks(out, res, forkSpeedups);
            if (breakdown) printBreakdown(out, res);
        }
    }

    /** What the timed batch holds: seeded noise, or the photos of --images. */
    private String inputText() {
        return images.isEmpty() ? "seeded noise" : "photos from " + images.stream().map(Object::toString).collect(java.util.stream.Collectors.joining(", "));
    }

    /** The timed batch from --images: the first {@code batch} photos, repeated if there are fewer; null for noise. */
    private float[] photos(VisionTransformer m, int threads) {
        if (images.isEmpty()) return null;
        if (m.preprocess() == null) throw new VitrimException("--images: this model has no preprocessing config");
        try (Inputs in = Inputs.collect(images)) {
            if (in.items.isEmpty()) throw new VitrimException("--images: no images in " + images);
            int per = 3 * m.config().imgHeight() * m.config().imgWidth(), k = Math.min(batch, in.items.size());
            float[] px = new float[batch * per];
            try (BatchDecoder decoder = new BatchDecoder(new io.vitrim.image.Preprocessor(m.preprocess()), per, threads)) {
                float[] first = decoder.decode(in.items, 0, k);
                for (int b = 0; b < batch; b++) System.arraycopy(first, (b % k) * per, px, b * per, per);
            }
            return px;
        }
    }

    /** Each fork's speed-ups, and speed-up ÷ MAC ratio: median and range over the forks. */
    private static void printForks(PrintWriter out, List<Throughput.Result> res, double[][] speedups) {
        int forks = speedups[0].length;
        out.println();
        out.println("speed-up in each fork (a fresh JVM each; the table above shows medians over the " + forks + " forks)");
        for (int i = 1; i < res.size(); i++) {
            Throughput.Result r = res.get(i);
            StringBuilder l = new StringBuilder(String.format(Locale.ROOT, "%-34s", r.spec()));
            double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
            for (double v : speedups[i]) {
                l.append(String.format(Locale.ROOT, " %5.2fx", v));
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
            l.append(String.format(Locale.ROOT, "   ÷ MAC ratio: median %.3f, range %.3f–%.3f",
                    Throughput.median(speedups[i]) / r.macRatio(), lo / r.macRatio(), hi / r.macRatio()));
            out.println(l);
        }
    }

    /** Per phase: ms per batch of every method, and for the reduced ones speed-up (MAC ratio) over 'none'. */
    private static void printBreakdown(PrintWriter out, List<Throughput.Result> res) {
        Throughput.Result base = res.get(0);
        out.println();
        out.println("where the time goes (median ms per batch of each part; for each method: speed-up over 'none' of that part, its MAC ratio"
                + " in brackets; the medians of the parts need not add up to the median of the whole)");
        StringBuilder h = new StringBuilder(String.format(Locale.ROOT, "%-18s %8s", "part", "none"));
        for (int i = 1; i < res.size(); i++) h.append(String.format(Locale.ROOT, "  %-24s", abbreviate(res.get(i).spec(), 24)));
        out.println(h);
        double[] total = new double[res.size()];
        for (Trace.Phase p : Trace.Phase.values()) {
            StringBuilder l = new StringBuilder(String.format(Locale.ROOT, "%-18s %8.1f", p.label(), base.phaseMillis(p)));
            for (int i = 1; i < res.size(); i++) {
                Throughput.Result r = res.get(i);
                double ms = r.phaseMillis(p);
                String ratio = ms > 0 && base.phaseMillis(p) > 0 ? String.format(Locale.ROOT, "%.2fx", base.phaseMillis(p) / ms) : "";
                String mac = r.phaseGmacs(p) > 0 ? String.format(Locale.ROOT, "(%.2fx)", base.phaseGmacs(p) / r.phaseGmacs(p)) : "";
                l.append(String.format(Locale.ROOT, "  %8.1f %6s %-9s", ms, ratio, mac));
            }
            out.println(l);
            for (int i = 0; i < res.size(); i++) total[i] += res.get(i).phaseMillis(p);
        }
        StringBuilder l = new StringBuilder(String.format(Locale.ROOT, "%-18s %8.1f", "sum of parts", total[0]));
        for (int i = 1; i < res.size(); i++) {
            l.append(String.format(Locale.ROOT, "  %8.1f %5.2fx %-9s", total[i], total[0] / total[i],
                    String.format(Locale.ROOT, "(%.2fx)", res.get(i).macRatio())));
        }
        out.println(l);
    }

    private static String abbreviate(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 1) + "…";
    }

    private static String threadsText(int n) {
        return n + (n == 1 ? " thread" : " threads");
    }

    /** FLOP/s of the multiply-adds the method performs (2 FLOPs per MAC). */
    private static double gflops(Throughput.Result r) {
        return 2 * r.gmacs() * r.imagesPerSecond();
    }
}
