package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.cli.report.ParetoReport;
import io.vitrim.data.LabelledImages;
import io.vitrim.io.Json;
import io.vitrim.measure.Accuracy;
import io.vitrim.measure.Pareto;
import io.vitrim.measure.SystemInfo;
import io.vitrim.measure.Throughput;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Methods;
import io.vitrim.reduce.Spec;
import io.vitrim.reduce.TokenReducer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "pareto", sortOptions = false, mixinStandardHelpOptions = true,
        header = "Accuracy vs speed of every method over a grid of knobs.",
        description = {"Sweep every token-reduction method over a grid of its knobs and measure, per point, top-1 accuracy, GMACs per image, images/s and speed-up over 'none' (same process). Writes results.csv, results.json, plots (PNG, SVG) and a self-contained report.html; points already measured (points.jsonl in --out) are reused.",
            "",
            "On a segmentation model (and a segmentation set as --data) the accuracy is mIoU (with pixel accuracy beside it) and each point is timed segmenting: every method made dense, pruned tokens restored as --restore says."},
        footer = {"", "Examples:",
            "  vitrim pareto --out docs/results     # embedded model, CIFAR-10 test set",
            "  vitrim pareto --methods tome,ppt --limit 2000 --out /tmp/p",
            "  vitrim pareto --retime --out docs/results     # the same points, timed again",
            "  vitrim pareto --model models/deit-s --data val.zip --point tome:r=13 \\",
            "      --point ppt --out /tmp/p",
            "  vitrim pareto --model models/camvid-vit9 --data camvid/val.zip \\",
            "      --restore llf --out /tmp/seg"})
final class ParetoCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    ThreadOption threads;

    @Option(names = "--data", paramLabel = "ZIP|DIR", description = "Labelled images (default: ../shared/data/cifar10/test.zip when present).")
    Path data;

    @Option(names = "--methods", split = ",", paramLabel = "M", description = "Methods to sweep (default: every registered method).")
    List<String> methods;

    @Option(names = "--point", paramLabel = "SPEC[@DIR]",
            description = "An extra point (repeatable); with --no-grid only these are measured. SPEC@DIR runs SPEC on the model folder DIR "
                    + "instead, a fine-tuned variant of --model with its shapes (e.g. cropr@cropr-12, none@dense-ft), timed in its own process slot "
                    + "against its own none.")
    List<String> points = new ArrayList<>();

    @Option(names = "--no-grid", description = "Measure only the --point specs (and none).")
    boolean noGrid;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "0", description = "Accuracy on an evenly spread subset of N images (0 = all).")
    int limit;

    @Option(names = {"-b", "--batch"}, defaultValue = "128", description = "Batch size for accuracy and speed (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--warmup", paramLabel = "SECONDS", defaultValue = "10", description = "JIT warm-up before the first speed measurement (default: ${DEFAULT-VALUE}).")
    double warmup;

    @Option(names = "--rounds", defaultValue = "7", description = "Timed rounds per point, each running none and the point (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--retime", description = "Time every point again, cached ones too, keeping their cached accuracy "
            + "(accuracy is deterministic, speed depends on the machine and its load).")
    boolean retime;

    @Option(names = {"-o", "--out"}, paramLabel = "DIR", required = true, description = "Output folder (also the cache of measured points).")
    Path out;

    @Option(names = "--restore", paramLabel = "output|llf", defaultValue = "output",
            description = "Segmentation: pruned tokens come back after the last block (output) or before it (llf) (default: ${DEFAULT-VALUE}).")
    String restore;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr(), stdout = spec.commandLine().getOut();
        if (batch < 1 || rounds < 1 || limit < 0) throw new VitrimException("--batch and --rounds must be >= 1, --limit >= 0");
        int n = threads.get();
        io.vitrim.reduce.Dense.Restore when = SegmentationTraining.restore(restore);
        try (VisionTransformer m = model.loadTask(n)) {
            boolean seg = m.segmentation() != null;
            if (data == null) {
                if (seg) throw new VitrimException("a segmentation model needs --data, a segmentation set (e.g. ../shared/data/camvid/val.zip)");
                Path d = Path.of(System.getProperty("vitrim.home", "."), "..", "shared", "data", "cifar10", "test.zip").normalize();
                if (!Files.exists(d)) throw new VitrimException("no --data given and " + d + " does not exist");
                data = d;
            }
            String modelName = model.describe();
            // the grid: validated before any measuring
            List<String> specs = new ArrayList<>();
            specs.add("none");
            List<String> ms = methods != null ? methods : new ArrayList<>(Methods.methods().keySet());
            for (String meth : ms) {
                if (!Methods.methods().containsKey(meth)) {
                    throw new VitrimException("--methods " + meth + ": unknown method; valid: " + String.join(", ", Methods.methods().keySet()));
                }
            }
            if (!noGrid) for (String meth : ms) for (String s : Pareto.defaultGrid(meth, m.config())) if (!specs.contains(s)) specs.add(s);
            for (String p : points) {
                Variant v = Variant.of(p);
                if (v.dir == null) io.vitrim.io.SideWeights.reducer(m, p);
                else try (VisionTransformer vm = v.load(m, n)) {
                    io.vitrim.io.SideWeights.reducer(vm, v.spec);
                }
                if (!specs.contains(p)) specs.add(p);
            }
            if (specs.size() < 2) throw new VitrimException("empty grid: no method produced a point for this model (check --methods / --point)");
            Progress progress = new Progress(err, true);
            progress.status("loading " + data);
            Data d = seg ? Data.segmentation(data, m, limit, when) : Data.classification(data, m, n, limit, k -> progress.status("loading " + k + " images"));
            Files.createDirectories(out);
            Path cache = out.resolve("points.jsonl");
            String key = modelName + "@" + model.fingerprint() + "|" + data + "|" + d.size() + "|" + batch + "|" + n + "|timed-on-data"
                    + (seg ? "|segmentation-" + restore : "");
            Map<String, Map<String, Object>> cached = readCache(cache, key);
            // a point on other weights than its folder or side file now holds is measured again — and priced so by the ETA
            for (String s : specs) {
                Map<String, Object> row = cached.get(s);
                String f = row == null ? null : Variant.of(s).fingerprint();
                if (f != null && !f.equals(row.get("variant_fingerprint"))) cached.remove(s);
            }
            // timing runs on real images (the first batch of the data, repeated if it is smaller)
            float[] timing = d.timing(m, batch);
            List<Pareto.Point> results = new ArrayList<>();
            int done = 0, measured = 0, retimed = 0;
            double freshSeconds = 0, retimeSeconds = 0; // time spent on points measured and on points only timed again
            boolean warm = false;
            for (int i = 0; i < specs.size(); i++) {
                String s = specs.get(i);
                Variant variant = Variant.of(s);
                Map<String, Object> row = cached.get(s);
                boolean fresh = row == null;
                if (fresh || retime) {
                    long pointStart = System.nanoTime();
                    String weights = variant.fingerprint(); // before reading them: a file replaced meanwhile is measured next time
                    try (VisionTransformer pm = variant.dir == null ? null : variant.load(m, n)) {
                        VisionTransformer vm = pm == null ? m : pm;
                        TokenReducer r = io.vitrim.io.SideWeights.reducer(vm, variant.spec);
                        Throughput.Pass pass = d.pass(vm);
                        if (!warm) {
                            progress.status("JIT warm-up " + warmup + " s");
                            Throughput.measure(vm, List.of(TokenReducer.NONE, r), new Throughput.Settings(batch, warmup, 2, 1, 1), null, timing, pass);
                            warm = true;
                        }
                        final int idx = i;
                        final String eta = eta(freshSeconds, measured, retimeSeconds, retimed, specs.subList(i, specs.size()), cached, retime);
                        double[] a = fresh ? d.evaluate(vm, r, batch, k -> progress.status(String.format(Locale.ROOT,
                                "point %d/%d %s: accuracy %d/%d%s", idx + 1, specs.size(), s, k, d.size(), eta)))
                                : new double[] {num(row, "top1"), num(row, "top5"), num(row, "gmacs")};
                        progress.status(String.format(Locale.ROOT, "point %d/%d %s: timing", i + 1, specs.size(), s));
                        List<Throughput.Result> tr = Throughput.measure(vm, List.of(TokenReducer.NONE, r), new Throughput.Settings(batch, 0, 1, rounds, 1), null,
                                timing, pass);
                        Throughput.Result t = tr.get(1);
                        row = new LinkedHashMap<>();
                        row.put("key", key);
                        row.put("method", Spec.parse(variant.spec).method());
                        row.put("spec", s);
                        if (weights != null) row.put("variant_fingerprint", weights);
                        row.put("top1", a[0]); // the task's accuracy: top-1, or mIoU
                        row.put("top5", a[1]); // top-5, or pixel accuracy
                        row.put("gmacs", a[2]);
                        row.put("images_per_s", s.equals("none") ? tr.get(0).imagesPerSecond() : t.imagesPerSecond());
                        row.put("speedup", s.equals("none") ? 1.0 : t.speedup());
                        Files.writeString(cache, Json.write(row) + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                        if (fresh) measured++;
                        else retimed++;
                    }
                    if (fresh) freshSeconds += (System.nanoTime() - pointStart) / 1e9;
                    else retimeSeconds += (System.nanoTime() - pointStart) / 1e9;
                }
                done++;
                results.add(new Pareto.Point((String) row.get("method"), s, i, num(row, "top1"), num(row, "top5"), num(row, "gmacs"), 0,
                        num(row, "images_per_s"), num(row, "speedup")));
            }
            progress.done();
            // MAC ratios against the measured none point
            double denseMacs = results.get(0).gmacs();
            List<Pareto.Point> pts = new ArrayList<>();
            for (Pareto.Point p : results) {
                pts.add(new Pareto.Point(p.method(), p.spec(), p.order(), p.top1(), p.top5(), p.gmacs(), denseMacs / p.gmacs(), p.imagesPerSecond(), p.speedup()));
            }
            Map<String, Object> meta = new LinkedHashMap<>();
            meta.put("model", modelName);
            meta.put("architecture", m.config().architecture() + " (embed " + m.config().embedDim() + ", depth " + m.config().depth()
                    + ", heads " + m.config().numHeads() + ", patch " + m.config().patchSize() + ", " + m.config().imgHeight() + "x" + m.config().imgWidth() + ")");
            meta.put("task", seg ? "segmentation (pruned tokens restored: " + restore + ")" : "classification");
            meta.put("data", data.toString());
            meta.put("images", d.size());
            meta.put("batch", batch);
            meta.put("threads", n);
            meta.put("rounds", rounds);
            meta.put("cpu", SystemInfo.cpu());
            meta.put("jdk", SystemInfo.jdk());
            meta.put("vector", SystemInfo.vector());
            meta.put("commit", commit());
            meta.put("date", ZonedDateTime.now().withNano(0).toString());
            meta.put("measured_now", measured);
            meta.put("from_cache", done - measured - retimed);
            meta.put("retimed_now", retimed);
            ParetoReport.Metric metric = seg ? ParetoReport.Metric.SEGMENTATION : ParetoReport.Metric.CLASSIFICATION;
            ParetoReport.write(out, pts, meta, metric);
            stdout.println("wrote " + out.resolve("report.html") + " (" + pts.size() + " points, " + measured + " measured now"
                    + (retime ? ", " + retimed + " cached ones timed again" : "") + ")");
            for (double b : ParetoReport.BUDGETS) {
                Pareto.Point p = Pareto.bestAtLeast(pts, b);
                stdout.printf(Locale.ROOT, "  >= %.1fx: %s%n", b, p == null ? "no point reaches this speed-up"
                        : String.format(Locale.ROOT, "%s  %s %.2f%%  %.2fx", p.spec(), metric.label(), 100 * p.top1(), p.speedup()));
            }
            if (measured + retimed > 0) SpeedNote.print(err, "vitrim pareto"); // after the results: an error stays the only stderr line
        }
        stdout.flush();
        return 0;
    }

    /** The evaluated images of a classifier or a segmentation model: accuracy, timing batch, timed pass. */
    interface Data {
        int size();

        /** {accuracy (top-1 or mIoU), second figure (top-5 or pixel accuracy), GMACs per image}. */
        double[] evaluate(VisionTransformer m, TokenReducer r, int batch, java.util.function.IntConsumer progress);

        /** The first {@code batch} images (repeated if fewer), preprocessed. */
        float[] timing(VisionTransformer m, int batch);

        Throughput.Pass pass(VisionTransformer m);

        static Data classification(Path data, VisionTransformer m, int threads, int limit, java.util.function.IntConsumer loading) {
            LabelledImages d = LabelledImages.load(data, m.preprocess(), threads, limit, loading);
            int[] map = EvalCommand.classMap(d, m, data);
            return new Data() {
                public int size() {
                    return d.size();
                }

                public double[] evaluate(VisionTransformer vm, TokenReducer r, int batch, java.util.function.IntConsumer progress) {
                    Accuracy.Result a = Accuracy.evaluate(vm, d, r, batch, map, progress);
                    return new double[] {a.top1Rate(), a.top5Rate(), a.gmacs()};
                }

                public float[] timing(VisionTransformer vm, int batch) {
                    int per = 3 * vm.config().imgHeight() * vm.config().imgWidth();
                    float[] px = new float[batch * per];
                    for (int b = 0; b < batch; b++) d.toTensor(b % d.size(), vm.preprocess().mean(), vm.preprocess().std(), px, b * per);
                    return px;
                }

                public Throughput.Pass pass(VisionTransformer vm) {
                    return (px, b, r) -> vm.forward(px, b, r, false).trace();
                }
            };
        }

        static Data segmentation(Path data, VisionTransformer m, int limit, io.vitrim.reduce.Dense.Restore when) {
            var task = m.segmentation();
            io.vitrim.data.SegmentationImages d = io.vitrim.data.SegmentationImages.load(data, task.numClasses(), task.ignoreIndex(), limit);
            return new Data() {
                public int size() {
                    return d.size();
                }

                public double[] evaluate(VisionTransformer vm, TokenReducer r, int batch, java.util.function.IntConsumer progress) {
                    var a = io.vitrim.measure.SegmentationMetrics.evaluate(vm, d, r, when, Math.min(batch, 16), progress);
                    return new double[] {a.metrics().meanIoU(), a.metrics().pixelAccuracy(), a.gmacs()};
                }

                public float[] timing(VisionTransformer vm, int batch) {
                    io.vitrim.image.Preprocessor pre = new io.vitrim.image.Preprocessor(vm.preprocess());
                    int per = 3 * vm.config().imgHeight() * vm.config().imgWidth();
                    float[] px = new float[batch * per];
                    for (int b = 0; b < batch; b++) pre.toTensor(d.get(b % d.size()).image(), px, b * per);
                    return px;
                }

                public Throughput.Pass pass(VisionTransformer vm) {
                    return (px, b, r) -> vm.segment(px, b, r, when).trace();
                }
            };
        }
    }

    /** A point's spec and the fine-tuned model folder it runs on (null: the report's model). */
    record Variant(String spec, Path dir) {
        static Variant of(String point) {
            int at = point.lastIndexOf('@');
            if (at < 0) return new Variant(point, null);
            String dir = point.substring(at + 1).trim();
            if (dir.isEmpty() || at == 0) throw new VitrimException("--point " + point + ": expected SPEC@DIR, e.g. cropr@models/cropr-12");
            return new Variant(point.substring(0, at).trim(), Path.of(dir));
        }

        /** The variant model; it must have the base model's shapes (so speed-ups compare). */
        VisionTransformer load(VisionTransformer base, int threads) {
            VisionTransformer v = io.vitrim.io.ModelLoader.read(dir, null).build(threads);
            var a = base.config();
            var b = v.config();
            if (a.numTokens() != b.numTokens() || a.embedDim() != b.embedDim() || a.depth() != b.depth() || a.numHeads() != b.numHeads()
                    || a.mlpHidden() != b.mlpHidden() || a.numClasses() != b.numClasses() || a.globalPool() != b.globalPool()) {
                v.close();
                throw VitrimException.of(dir, "is not a variant of the report's model (tokens, width, depth, heads, MLP, classes and pooling must match)");
            }
            if (base.labels() != null && v.labels() != null && !base.labels().equals(v.labels())) {
                v.close();
                throw VitrimException.of(dir, "has other labels than the report's model");
            }
            return v;
        }

        /**
         * A content hash of the weights this point runs on beyond the report's model: its folder
         * and its method-weights file ({@code file=}, e.g. learned LTMP thresholds); null for neither.
         */
        String fingerprint() {
            Path side = io.vitrim.io.SideWeights.file(spec);
            if (dir == null && side == null) return null;
            return (dir == null ? "" : ModelOptions.fingerprintOf(dir)) + (side == null ? "" : "+" + ModelOptions.fingerprintOf(side));
        }
    }

    /**
     * Time left for the points from the current one on: those not in the cache at the mean time of
     * a measured point, cached ones (when timed again) at the mean time of a retimed one — or of a
     * measured one, an upper bound, until one was retimed. Empty before any point was measured.
     */
    static String eta(double freshSeconds, int measured, double retimeSeconds, int retimed, List<String> left,
                      Map<String, Map<String, Object>> cached, boolean retime) {
        if (measured == 0) return "";
        double perFresh = freshSeconds / measured, perRetime = retimed > 0 ? retimeSeconds / retimed : perFresh;
        double s = 0;
        for (String spec : left) s += !cached.containsKey(spec) ? perFresh : retime ? perRetime : 0;
        return String.format(Locale.ROOT, ", ETA %s", TrainProgress.duration(s));
    }

    private static double num(Map<String, Object> row, String k) {
        return ((Number) row.get(k)).doubleValue();
    }

    /** Cached rows of this model/data/batch/threads, by spec (unparsable lines from an interrupted write are ignored). */
    static Map<String, Map<String, Object>> readCache(Path cache, String key) throws IOException {
        Map<String, Map<String, Object>> rows = new LinkedHashMap<>();
        if (!Files.exists(cache)) return rows;
        for (String line : Files.readAllLines(cache, StandardCharsets.UTF_8)) {
            try {
                Map<String, Object> o = Json.parseObject(line);
                if (key.equals(o.get("key"))) rows.put((String) o.get("spec"), o);
            } catch (RuntimeException e) {
                // a torn last line
            }
        }
        return rows;
    }

    static String commit() {
        try {
            Path home = Path.of(System.getProperty("vitrim.home", "."));
            Process p = new ProcessBuilder("git", "-C", home.toString(), "rev-parse", "--short", "HEAD").redirectErrorStream(true).start();
            String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.waitFor() == 0 ? s : "unknown";
        } catch (IOException e) {
            return "unknown";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }
}
