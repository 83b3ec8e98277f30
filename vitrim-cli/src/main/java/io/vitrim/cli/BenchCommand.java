package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.io.Json;
import io.vitrim.measure.PeakFlops;
import io.vitrim.measure.SystemInfo;
import io.vitrim.measure.Throughput;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Reductions;
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
        description = {"Images/s of the forward pass, per reduction method, as a ratio to 'none' measured in the same process.",
            "JIT warm-up first, then rounds in which every method runs once; medians are reported."},
        footer = {"", "Examples:",
            "  vitrim bench                                     # DeiT-S/16, random weights, batch 32",
            "  vitrim bench --arch deit_small_patch16_224 --batch 1 --threads 2",
            "  vitrim bench --reduce tome:r=13 --reduce ppt --json",
            "  vitrim bench --peak                              # also: share of this machine's FMA peak",
            "  vitrim bench --reduce tome:r=13 --breakdown      # time per part of the forward pass",
            "  vitrim bench --model models/deit-s --batch 64 --rounds 20"})
final class BenchCommand implements Callable<Integer> {
    static final String DEFAULT_ARCH = "deit_small_patch16_224";

    @Mixin
    ModelOptions model;

    @Mixin
    ThreadOption threads;

    @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC",
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

    @Option(names = "--peak", description = "First measure this machine's FP32 FMA peak on the same threads (≈ 2 s), then report each method's share of it.")
    boolean peak;

    @Option(names = "--breakdown", description = "Also print where the time goes: per part of the forward pass (norms, each GEMM,"
            + " attention, reduction, ...), each method's median ms per batch and its speed-up over 'none' next to that part's MAC ratio.")
    boolean breakdown;

    @Option(names = "--json", description = "Print the results as one JSON object.")
    boolean json;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (batch < 1 || batch > 4096) throw new VitrimException("--batch " + batch + ": must be between 1 and 4096");
        if (rounds < 1) throw new VitrimException("--rounds " + rounds + ": must be at least 1");
        if (!(warmup >= 0)) throw new VitrimException("--warmup " + warmup + ": must be >= 0");
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        int n = threads.get();
        try (VisionTransformer m = model.load(n, DEFAULT_ARCH)) {
            List<TokenReducer> reducers = new ArrayList<>();
            reducers.add(TokenReducer.NONE);
            for (String r : reduce) {
                TokenReducer t = Reductions.parse(r, m.config());
                if (!t.spec().equals("none")) reducers.add(t);
            }
            String header = String.format(Locale.ROOT, "%s: %s, batch %d, %s, %s", "vitrim bench", model.describe(), batch, threadsText(n), SystemInfo.summary());
            if (!json) {
                out.println(header);
                out.flush();
            }
            Progress progress = new Progress(err, !json);
            double peakGflops = Double.NaN;
            if (peak) {
                progress.status("measuring the FMA peak on " + threadsText(n));
                peakGflops = PeakFlops.measure(n, 20_000_000, 5);
                if (!json) {
                    progress.done();
                    out.printf(Locale.ROOT, "FP32 FMA peak: %.0f GFLOP/s on %s (%s)%n", peakGflops, threadsText(n), PeakFlops.describe());
                    out.flush();
                }
            }
            List<Throughput.Result> res = Throughput.measure(m, reducers,
                    new Throughput.Settings(batch, warmup, 2, rounds, 1234), progress::status);
            progress.done();
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
                    if (breakdown) {
                        Map<String, Object> ph = new LinkedHashMap<>();
                        for (Trace.Phase p : Trace.Phase.values()) {
                            ph.put(p.name().toLowerCase(Locale.ROOT), Map.of("median_ms", r.phaseMillis(p), "gmacs", r.phaseGmacs(p)));
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
                if (breakdown) printBreakdown(out, res);
            }
        }
        out.flush();
        return 0;
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
