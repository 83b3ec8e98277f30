package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.data.LabelledImages;
import io.vitrim.io.Json;
import io.vitrim.measure.Accuracy;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Methods;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.train.SamConfig;
import io.vitrim.train.Sharpness;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "eval", sortOptions = false, mixinStandardHelpOptions = true,
        header = "Top-1 / top-5 accuracy (or mIoU) per reduction.",
        description = {"Top-1 (and top-5) accuracy of a classifier on labelled images (<class>/<image> in a zip or folder), per reduction.",
            "",
            "A segmentation model is evaluated on images/<id> + labels/<id>.png (CamVid's zips): mIoU, per-class IoU and pixel accuracy, each mask upsampled from the patch grid to its label's full size; the ignore label is left out.",
            "",
            "--sharpness also measures how sharp the minimum a classifier sits in is (docs/training.md)."},
        footer = {"", "Examples:",
            "  vitrim eval --data test.zip                   # the embedded model",
            "  vitrim eval --data test.zip --reduce tome:r=4 --reduce ppt:r=16,layers=2/4",
            "  vitrim eval --model models/deit-s --data val.zip --limit 1000 --json",
            "  vitrim eval --model models/camvid-vit9 --data camvid/test.zip \\",
            "      --reduce tome:r=40 --restore llf",
            "  vitrim eval --model /tmp/sam-ft --data test.zip --sharpness 0.05"})
final class EvalCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    ThreadOption threads;

    @Option(names = "--data", paramLabel = "ZIP|DIR", required = true, description = "Labelled images; class folder names must match the model's labels.")
    Path data;

    @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", completionCandidates = ReduceCandidates.class, description = "Reduction to evaluate (repeatable); the unreduced baseline is always evaluated first, and each reduction is shown with its top-1 drop and MAC ratio.")
    List<String> reduce = new ArrayList<>();

    @Option(names = {"-b", "--batch"}, defaultValue = "100", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "0", description = "Evaluate an evenly spread subset of N images (0 = all).")
    int limit;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Option(names = "--restore", paramLabel = "output|llf", defaultValue = "output",
            description = "Segmentation: pruned tokens come back after the last block (output) or before it (llf) (default: ${DEFAULT-VALUE}).")
    String restore;

    @Option(names = "--sharpness", paramLabel = "RHO",
            description = "Also measure sharpness: the increase of the mean cross-entropy under the worst weight perturbation of "
                    + "L2 radius RHO that --sharpness-steps ascent steps find (dense model; each step a forward and backward pass "
                    + "over the images).")
    Double sharpness;

    @Option(names = "--sharpness-steps", paramLabel = "N", description = "Ascent steps of --sharpness (default: 5).")
    Integer sharpnessSteps;

    @Option(names = "--sharpness-images", paramLabel = "N",
            description = "Images of --sharpness, spread evenly over the data (default: 1000).")
    Integer sharpnessImages;

    @Option(names = "--sharpness-adaptive", description = "Measure within ASAM's scaled ball (|e / (|w| + 0.01)| <= RHO) instead.")
    boolean sharpnessAdaptive;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (batch < 1) throw new VitrimException("--batch " + batch + ": must be at least 1");
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        int n = threads.get();
        Sharpness.Settings sharp = sharpnessSettings();
        try (VisionTransformer m = model.loadTask(n)) {
            if (sharp != null && m.segmentation() != null) throw new VitrimException("--sharpness measures classifiers only");
            if (m.segmentation() != null) return segmentation(m, out, err, n);
            if (sharp != null) VisionTransformer.checkTrainable(m.config(), model.describe() + " (--sharpness needs its backward pass)");
            // the dense baseline always comes first, so every reduction shows what it costs
            List<TokenReducer> reducers = new ArrayList<>();
            reducers.add(TokenReducer.NONE);
            for (String r : reduce) if (!r.trim().equals("none")) reducers.add(io.vitrim.io.SideWeights.reducer(m, r));
            Progress p = new Progress(err, !json);
            LabelledImages d = LabelledImages.load(data, m.preprocess(), n, limit, k -> p.status("loading " + k + " images"));
            int[] map = classMap(d, m, data);
            List<Object> rows = new ArrayList<>();
            double denseTop1 = 0, denseMacs = 0;
            boolean top5 = m.config().numClasses() > 5;
            for (TokenReducer r : reducers) {
                Accuracy.Result a = Accuracy.evaluate(m, d, r, batch, map, k -> p.status(r.spec() + ": " + k + "/" + d.size()));
                p.done();
                if (r == TokenReducer.NONE) {
                    denseTop1 = a.top1Rate();
                    denseMacs = a.gmacs();
                }
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("spec", r.spec());
                o.put("images", a.images());
                o.put("top1", a.top1Rate());
                if (top5) o.put("top5", a.top5Rate());
                o.put("gmacs", a.gmacs());
                o.put("top1_drop", denseTop1 - a.top1Rate());
                o.put("mac_ratio", denseMacs / a.gmacs());
                rows.add(o);
                if (!json) {
                    String drop = r == TokenReducer.NONE ? "      (baseline)      "
                            : String.format(Locale.ROOT, "  %+6.2f pt  %5.2fx MACs", -100 * (denseTop1 - a.top1Rate()), denseMacs / a.gmacs());
                    out.printf(Locale.ROOT, "%-30s top-1 %6.2f%%%s%s  (%d images, %.3f GMACs)%n", r.spec(), 100 * a.top1Rate(),
                            top5 ? String.format(Locale.ROOT, "  top-5 %6.2f%%", 100 * a.top5Rate()) : "", drop, a.images(), a.gmacs());
                    out.flush();
                }
            }
            Sharpness.Result sr = null;
            if (sharp != null) {
                int passes = sharp.steps() + 1;
                sr = Sharpness.measure(m, d, map, sharpnessImages == null ? 1000 : sharpnessImages, sharp,
                        k -> p.status("sharpness: pass " + k + "/" + passes));
                p.done();
                if (!json) {
                    out.printf(Locale.ROOT, "sharpness (rho %s%s, %d ascent steps, %d images): clean loss %.4f, perturbed %.4f, increase %+.4f%n",
                            sharp.rho(), sharp.adaptive() ? " adaptive" : "", sharp.steps(), sr.images(), sr.cleanLoss(), sr.perturbedLoss(),
                            sr.increase());
                }
            }
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("model", model.describe());
                o.put("data", data.toString());
                o.put("results", rows);
                if (sr != null) o.put("sharpness", sr.toJson());
                out.println(Json.write(o));
            }
        }
        out.flush();
        return 0;
    }

    /** The --sharpness settings (null when not asked for); options of it without it are an error. */
    private Sharpness.Settings sharpnessSettings() {
        if (sharpness == null) {
            String stray = sharpnessSteps != null ? "--sharpness-steps" : sharpnessImages != null ? "--sharpness-images"
                    : sharpnessAdaptive ? "--sharpness-adaptive" : null;
            if (stray != null) throw new VitrimException(stray + " needs --sharpness RHO");
            return null;
        }
        if (sharpnessImages != null && sharpnessImages < 1) throw new VitrimException("--sharpness-images must be at least 1, got " + sharpnessImages);
        return new Sharpness.Settings(sharpness, sharpnessSteps == null ? 5 : sharpnessSteps, sharpnessAdaptive, SamConfig.ETA, batch);
    }

    /** mIoU, per-class IoU and pixel accuracy per reduction of a segmentation model. */
    private int segmentation(VisionTransformer m, PrintWriter out, PrintWriter err, int n) {
        io.vitrim.reduce.Dense.Restore when = SegmentationTraining.restore(restore);
        var task = m.segmentation();
        List<TokenReducer> reducers = new ArrayList<>();
        reducers.add(TokenReducer.NONE);
        for (String r : reduce) if (!r.trim().equals("none")) reducers.add(io.vitrim.io.SideWeights.reducer(m, r));
        Progress p = new Progress(err, !json);
        p.status("loading " + data);
        io.vitrim.data.SegmentationImages d = io.vitrim.data.SegmentationImages.load(data, task.numClasses(), task.ignoreIndex(), limit);
        List<String> names = m.labels();
        List<Object> rows = new ArrayList<>();
        double denseMiou = 0, denseMacs = 0;
        int sb = Math.min(batch, 16); // a segmentation batch holds full-size masks too
        for (TokenReducer r : reducers) {
            io.vitrim.measure.SegmentationMetrics.Result a = io.vitrim.measure.SegmentationMetrics.evaluate(m, d, r, when, sb,
                    k -> p.status(r.spec() + ": " + k + "/" + d.size()));
            p.done();
            double miou = a.metrics().meanIoU();
            if (r == TokenReducer.NONE) {
                denseMiou = miou;
                denseMacs = a.gmacs();
            }
            double[] iou = a.metrics().perClassIoU();
            Map<String, Object> perClass = new LinkedHashMap<>();
            for (int c = 0; c < iou.length; c++) perClass.put(names != null ? names.get(c) : String.valueOf(c), Double.isNaN(iou[c]) ? null : iou[c]);
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("spec", r.spec());
            if (r != TokenReducer.NONE) o.put("restore", when.name().toLowerCase(Locale.ROOT));
            o.put("images", a.images());
            o.put("miou", miou);
            o.put("pixel_acc", a.metrics().pixelAccuracy());
            o.put("per_class_iou", perClass);
            o.put("gmacs", a.gmacs());
            o.put("miou_drop", denseMiou - miou);
            o.put("mac_ratio", denseMacs / a.gmacs());
            rows.add(o);
            if (!json) {
                String drop = r == TokenReducer.NONE ? "      (baseline)      "
                        : String.format(Locale.ROOT, "  %+6.2f pt  %5.2fx MACs", -100 * (denseMiou - miou), denseMacs / a.gmacs());
                out.printf(Locale.ROOT, "%-30s mIoU %6.2f%%  pixel acc %6.2f%%%s  (%d images, %.3f GMACs)%n", r.spec(), 100 * miou,
                        100 * a.metrics().pixelAccuracy(), drop, a.images(), a.gmacs());
                StringBuilder b = new StringBuilder("    IoU:");
                for (Map.Entry<String, Object> e : perClass.entrySet()) {
                    b.append(' ').append(e.getKey()).append(' ').append(e.getValue() == null ? "-" : String.format(Locale.ROOT, "%.1f", 100 * (Double) e.getValue()));
                }
                out.println(b);
                out.flush();
            }
        }
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("model", model.describe());
            o.put("data", data.toString());
            o.put("task", "segmentation");
            o.put("results", rows);
            out.println(Json.write(o));
        }
        out.flush();
        return 0;
    }

    /** Dataset class → model class, matched by name; fails on labels that do not match. */
    static int[] classMap(LabelledImages d, VisionTransformer m, Path where) {
        List<String> labels = m.labels();
        int[] map = new int[d.classes().size()];
        if (labels == null) {
            if (d.classes().size() != m.config().numClasses()) {
                throw VitrimException.of(where, d.classes().size() + " classes but the model has " + m.config().numClasses() + " (and no label names)");
            }
            for (int i = 0; i < map.length; i++) map[i] = i;
            return map;
        }
        for (int i = 0; i < map.length; i++) {
            map[i] = labels.indexOf(d.classes().get(i));
            if (map[i] < 0) {
                throw VitrimException.of(where, "class \"" + d.classes().get(i) + "\" is not one of the model's labels (" + String.join(", ", labels) + ")");
            }
        }
        return map;
    }
}
