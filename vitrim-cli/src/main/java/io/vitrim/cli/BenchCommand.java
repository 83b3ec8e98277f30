package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.io.Json;
import io.vitrim.measure.SystemInfo;
import io.vitrim.measure.Throughput;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Reductions;
import io.vitrim.reduce.TokenReducer;
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
            String header = String.format(Locale.ROOT, "%s: %s, batch %d, %d threads, %s", "vitrim bench", model.describe(), batch, n, SystemInfo.summary());
            if (!json) {
                out.println(header);
                out.flush();
            }
            Progress progress = new Progress(err, !json);
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
                List<Object> rs = new ArrayList<>();
                for (Throughput.Result r : res) {
                    Map<String, Object> e = new LinkedHashMap<>();
                    e.put("spec", r.spec());
                    e.put("images_per_s", r.imagesPerSecond());
                    e.put("median_ms", r.medianMillis());
                    e.put("gmacs", r.gmacs());
                    e.put("mac_ratio", r.macRatio());
                    e.put("speedup", r.speedup());
                    e.put("reduction_overhead", r.overheadFraction());
                    e.put("runs_ms", r.runMillis());
                    rs.add(e);
                }
                o.put("results", rs);
                out.println(Json.write(o));
            } else {
                out.printf(Locale.ROOT, "%-34s %9s %11s %8s %10s %9s %9s%n", "method", "img/s", "ms/batch", "GMACs", "MAC ratio", "speed-up", "overhead");
                for (Throughput.Result r : res) {
                    out.printf(Locale.ROOT, "%-34s %9.1f %11.1f %8.3f %9.2fx %8.2fx %8.1f%%%n", r.spec(), r.imagesPerSecond(), r.medianMillis(),
                            r.gmacs(), r.macRatio(), r.speedup(), 100 * r.overheadFraction());
                }
                out.println("(speed-up: median time of 'none' / median time of the method, same process; overhead: share of the"
                        + " forward time spent deciding and applying the reduction)");
            }
        }
        out.flush();
        return 0;
    }
}
