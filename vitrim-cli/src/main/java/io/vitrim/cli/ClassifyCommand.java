package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.image.Preprocessor;
import io.vitrim.io.Json;
import io.vitrim.io.SafeTensors;
import io.vitrim.model.Prediction;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Methods;
import io.vitrim.reduce.TokenReducer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "classify", sortOptions = false, mixinStandardHelpOptions = true,
        header = "Classify images, optionally with token reduction.",
        description = "Classify images (files, folders, zips) or a pixel tensor, optionally with token reduction.",
        footer = {"", "Examples:",
            "  vitrim classify samples/                      # the embedded CIFAR-10 model",
            "  vitrim classify samples/ --compare tome:r=8   # with and without ToMe",
            "  vitrim classify --model models/deit-s photo.jpg photos/ more.zip",
            "  vitrim classify --model models/deit-s --reduce tome:r=13 --json photos/",
            "  vitrim classify --model models/deit-s --reduce ppt --explain photos/",
            "  vitrim classify --model m.safetensors --arch deit_small_patch16_224 cat.png",
            "  vitrim classify --model models/deit-s --pixels px.safetensors --json --logits",
            "", "Exit codes: 0 ok, 1 internal error, 2 bad input (one line on stderr)."})
final class ClassifyCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    ThreadOption threads;

    @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", completionCandidates = ReduceCandidates.class, defaultValue = "none",
            description = "Token reduction, e.g. tome:r=13 (default: ${DEFAULT-VALUE}). See 'vitrim info --methods'.")
    String reduce;

    @Option(names = "--compare", paramLabel = "SPEC", completionCandidates = ReduceCandidates.class,
            description = "Also classify every input with this reduction and report, per input and in total, how its result and cost compare.")
    String compare;

    @Option(names = {"-b", "--batch"}, paramLabel = "N", defaultValue = "16", description = "Images per forward pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = {"-k", "--topk"}, paramLabel = "K", defaultValue = "5", description = "Classes to report per input (default: ${DEFAULT-VALUE}).")
    int topk;

    @Option(names = "--json", description = "One JSON object per input: input, top, tokens (and logits with --logits).")
    boolean json;

    @Option(names = "--logits", description = "Include the raw logits in --json output.")
    boolean logits;

    @Option(names = "--explain", description = "After the results, print per block the mean token counts, MACs and reducer decisions (e.g. PPT's prune/pool counts); on stderr with --json.")
    boolean explain;

    @Option(names = "--pixels", paramLabel = "FILE",
            description = "A .safetensors file with pixel_values [B,3,H,W], already normalised (the exact-parity path).")
    Path pixels;

    @Parameters(paramLabel = "INPUT", arity = "0..*", description = "Image files, folders or zips of images.")
    List<Path> inputs = new ArrayList<>();

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (batch < 1) throw new VitrimException("--batch " + batch + ": must be at least 1");
        if (topk < 1) throw new VitrimException("--topk " + topk + ": must be at least 1");
        if (inputs.isEmpty() && pixels == null) throw new VitrimException("nothing to classify: give image files, folders or zips, or --pixels FILE");
        PrintWriter out = spec.commandLine().getOut();
        int nThreads = threads.get();
        // validate inputs before the (slower) model load
        float[] pixelData = null;
        int pixelBatch = 0;
        try (Inputs in = inputs.isEmpty() ? null : Inputs.collect(inputs);
             VisionTransformer m = model.loadClassifier(nThreads)) {
            TokenReducer reducer = io.vitrim.io.SideWeights.reducer(m, reduce);
            if (compare != null) {
                if (pixels != null) throw new VitrimException("--compare works on images, not with --pixels");
                comparison = new Comparison(reduce, compare, io.vitrim.io.SideWeights.reducer(m, compare), m.config());
            }
            explainer = explain ? new Explain(m.config()) : null;
            if (pixels != null) {
                pixelData = readPixels(pixels, m.config());
                pixelBatch = pixelData.length / (3 * m.config().imgHeight() * m.config().imgWidth());
                for (int s = 0; s < pixelBatch; s += batch) {
                    int n = Math.min(batch, pixelBatch - s);
                    float[] chunk = java.util.Arrays.copyOfRange(pixelData, s * 3 * m.config().imgHeight() * m.config().imgWidth(),
                            (s + n) * 3 * m.config().imgHeight() * m.config().imgWidth());
                    List<Prediction> preds = predict(m, chunk, n, reducer);
                    for (int i = 0; i < n; i++) print(out, pixels + "[" + (s + i) + "]", preds.get(i));
                }
            }
            if (in != null) classifyImages(in.items, m, reducer, nThreads, out);
            if (comparison != null) comparison.summary(json ? spec.commandLine().getErr() : out);
            if (explainer != null) explainer.print(json ? spec.commandLine().getErr() : out);
        }
        out.flush();
        return 0;
    }

    private Explain explainer;
    private Comparison comparison;

    /** The forward pass of the main reduction, whose traces --explain summarises. */
    private VisionTransformer.Result forward(VisionTransformer m, float[] px, int n, TokenReducer reducer) {
        VisionTransformer.Result r = m.forward(px, n, reducer, false);
        if (explainer != null) explainer.add(r.trace());
        return r;
    }

    private List<Prediction> predict(VisionTransformer m, float[] px, int n, TokenReducer reducer) {
        return m.predictions(forward(m, px, n, reducer));
    }

    private void classifyImages(List<Inputs.Item> items, VisionTransformer m, TokenReducer reducer, int nThreads, PrintWriter out) {
        if (m.preprocess() == null) throw new VitrimException("this model has no preprocessing config; use --pixels");
        Preprocessor pre = new Preprocessor(m.preprocess());
        int per = 3 * m.config().imgHeight() * m.config().imgWidth();
        try (BatchDecoder decoder = new BatchDecoder(pre, per, nThreads)) {
            for (int s = 0; s < items.size(); s += batch) {
                int n = Math.min(batch, items.size() - s);
                float[] px = decoder.decode(items, s, n);
                if (comparison == null) {
                    List<Prediction> preds = predict(m, px, n, reducer);
                    for (int i = 0; i < n; i++) print(out, items.get(s + i).name(), preds.get(i));
                } else {
                    VisionTransformer.Result base = forward(m, px, n, reducer), other = m.forward(px, n, comparison.reducer, false);
                    List<Prediction> preds = m.predictions(base), alt = m.predictions(other);
                    for (int i = 0; i < n; i++) {
                        comparison.add(base.trace(), other.trace(), i, preds.get(i), alt.get(i));
                        print(out, items.get(s + i).name(), preds.get(i), alt.get(i));
                    }
                }
                out.flush();
            }
        }
    }

    private void print(PrintWriter out, String name, Prediction p) {
        print(out, name, p, null);
    }

    /** One input's result; {@code alt} is its result under {@code --compare} (or null). */
    private void print(PrintWriter out, String name, Prediction p, Prediction alt) {
        List<Prediction.Top> top = p.top(topk);
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("input", name);
            o.put("top", topJson(top));
            o.put("tokens", p.tokens());
            if (!p.decisions().isEmpty()) o.put("decisions", p.decisions());
            if (logits) o.put("logits", p.logits());
            if (alt != null) {
                Map<String, Object> c = new LinkedHashMap<>();
                c.put("reduce", compare);
                c.put("top", topJson(alt.top(topk)));
                c.put("tokens", alt.tokens());
                if (!alt.decisions().isEmpty()) c.put("decisions", alt.decisions());
                if (logits) c.put("logits", alt.logits());
                o.put("compare", c);
            }
            out.println(Json.write(o));
        } else {
            out.println(name + ": " + topText(top));
            if (alt != null) {
                int[] t = alt.tokens();
                out.printf(Locale.ROOT, "  %s (%d tokens at the last block): %s%s%n", compare, t[t.length - 1], topText(alt.top(topk)),
                        alt.argmax() == p.argmax() ? "" : "   <- top-1 differs");
            }
        }
    }

    private static String topText(List<Prediction.Top> top) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < top.size(); i++) {
            if (i > 0) b.append(" | ");
            b.append(top.get(i).label()).append(String.format(Locale.ROOT, " %.1f%%", 100 * top.get(i).probability()));
        }
        return b.toString();
    }

    private static List<Object> topJson(List<Prediction.Top> top) {
        List<Object> t = new ArrayList<>();
        for (Prediction.Top x : top) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("index", x.index());
            e.put("label", x.label());
            e.put("probability", x.probability());
            t.add(e);
        }
        return t;
    }

    /** Running totals of {@code --compare}: top-1 agreement and MACs per image of both reductions. */
    private static final class Comparison {
        final String baseSpec, spec;
        final TokenReducer reducer;
        final ViTConfig config;
        int images, agree;
        double baseMacs, macs;

        Comparison(String baseSpec, String spec, TokenReducer reducer, ViTConfig config) {
            this.baseSpec = baseSpec;
            this.spec = spec;
            this.reducer = reducer;
            this.config = config;
        }

        void add(io.vitrim.reduce.Trace base, io.vitrim.reduce.Trace other, int b, Prediction p, Prediction alt) {
            images++;
            if (p.argmax() == alt.argmax()) agree++;
            baseMacs += io.vitrim.model.Macs.of(config, base, b);
            macs += io.vitrim.model.Macs.of(config, other, b);
        }

        void summary(PrintWriter out) {
            if (images == 0) return;
            out.printf(Locale.ROOT, "%s vs %s: same top-1 on %d of %d images; %.3f vs %.3f GMACs per image (%.2fx fewer)%n",
                    spec, baseSpec, agree, images, macs / images / 1e9, baseMacs / images / 1e9, baseMacs / macs);
        }
    }

    /** Reads {@code pixel_values [B, 3, H, W]} and checks it against the model. */
    static float[] readPixels(Path file, ViTConfig c) {
        try (SafeTensors st = SafeTensors.open(file)) {
            SafeTensors.Entry e = st.entry("pixel_values");
            if (e == null) throw VitrimException.of(file, "no tensor named pixel_values (found: " + String.join(", ", st.entries().keySet()) + ")");
            long[] s = e.shape();
            if (s.length != 4 || s[0] < 1 || s[1] != 3 || s[2] != c.imgHeight() || s[3] != c.imgWidth()) {
                throw VitrimException.of(file, "pixel_values has shape " + e.shapeString() + ", the model needs [B, 3, "
                        + c.imgHeight() + ", " + c.imgWidth() + "]");
            }
            float[] v = st.floats("pixel_values");
            for (float f : v) if (!Float.isFinite(f)) throw VitrimException.of(file, "pixel_values contains NaN or infinity");
            return v;
        }
    }
}
