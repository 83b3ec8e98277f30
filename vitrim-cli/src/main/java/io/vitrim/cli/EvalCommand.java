package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.data.LabelledImages;
import io.vitrim.io.Json;
import io.vitrim.measure.Accuracy;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Methods;
import io.vitrim.reduce.TokenReducer;
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
        header = "Top-1 / top-5 accuracy on labelled images, per reduction.",
        description = "Top-1 (and top-5) accuracy of a model on labelled images (<class>/<image> in a zip or folder), per reduction.",
        footer = {"", "Examples:",
            "  vitrim eval --data test.zip                   # the embedded model",
            "  vitrim eval --data test.zip --reduce tome:r=4 --reduce ppt:r=16,layers=2/4",
            "  vitrim eval --model models/deit-s --data val.zip --limit 1000 --json"})
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

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (batch < 1) throw new VitrimException("--batch " + batch + ": must be at least 1");
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        int n = threads.get();
        try (VisionTransformer m = model.loadClassifier(n, null)) {
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
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("model", model.describe());
                o.put("data", data.toString());
                o.put("results", rows);
                out.println(Json.write(o));
            }
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
