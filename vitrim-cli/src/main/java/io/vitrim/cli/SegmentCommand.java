package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.image.ImageDecoder;
import io.vitrim.image.Preprocessor;
import io.vitrim.image.RgbImage;
import io.vitrim.image.TokenMap;
import io.vitrim.io.AtomicFiles;
import io.vitrim.io.Json;
import io.vitrim.model.Macs;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Dense;
import io.vitrim.reduce.TokenReducer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "segment", sortOptions = false, mixinStandardHelpOptions = true,
        header = "Segment images (a class per pixel), optionally with token reduction.",
        description = {"Predicts a class per pixel with a segmentation model (a folder written by vitrim train on a segmentation set): the photo is resized to the model's input, the per-patch logits are upsampled to the photo's own size. Writes per image a colour mask <name>.mask.png and an overlay <name>.overlay.png (and with --ids the class ids as an 8-bit grey PNG <name>.ids.png) into --out, each atomically, and prints each image's class shares.",
            "",
            "With --reduce, merged tokens are unmerged (each patch reads the token it went into) and pruned tokens come back with their representation when pruned, after the last block or before it (--restore llf).",
            "",
            "With --compare SPEC (repeatable) it also writes <name>.compare.png: the photo, its ground truth (when the input is a segmentation set, images/ + labels/), the mask of --reduce and one mask per compared reduction side by side, each captioned with its MAC ratio to the dense model and, against the ground truth, its pixel accuracy and the image's mIoU."},
        footer = {"", "Examples:",
            "  vitrim segment street.jpg --out /tmp/masks   # the embedded models/camvid-vit9",
            "  vitrim segment --model models/camvid-vit9 --reduce tome:r=40 photos/ \\",
            "      --out /tmp/masks",
            "  vitrim segment --model models/camvid-vit9 --reduce random:r=40 \\",
            "      --restore llf --ids photos.zip --out /tmp/m --json",
            "  vitrim segment --model models/camvid-vit9 --compare tome:r=43 \\",
            "      --compare random:r=43 camvid/test.zip --out /tmp/cmp"})
final class SegmentCommand implements Callable<Integer> {
    private static final java.util.regex.Pattern LABELS = java.util.regex.Pattern.compile("(^|[/!\\\\])labels[/\\\\][^/\\\\]*$");
    private static final java.util.regex.Pattern IMAGES = java.util.regex.Pattern.compile("(^|[/!\\\\])images[/\\\\][^/\\\\]*$");

    @Mixin
    ModelOptions model;

    @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", defaultValue = "none", completionCandidates = ReduceCandidates.class,
            description = "Token reduction (default: ${DEFAULT-VALUE}; see vitrim info --methods).")
    String reduce;

    @Option(names = "--restore", paramLabel = "output|llf", defaultValue = "output",
            description = "Pruned tokens come back after the last block (output) or before it (llf) (default: ${DEFAULT-VALUE}).")
    String restore;

    @Option(names = {"-o", "--out"}, paramLabel = "DIR", required = true, description = "Output folder for the PNGs.")
    Path out;

    @Option(names = "--ids", description = "Also write the class ids per pixel (8-bit grey PNG, the labels' format).")
    boolean ids;

    @Option(names = "--alpha", defaultValue = "0.5", description = "Weight of the mask colour in the overlay, 0-1 (default: ${DEFAULT-VALUE}).")
    double alpha;

    @Option(names = "--compare", paramLabel = "SPEC", completionCandidates = ReduceCandidates.class,
            description = "Also segment with this reduction and write <name>.compare.png beside the mask (repeatable).")
    List<String> compare = new ArrayList<>();

    @Option(names = "--json", description = "Print one JSON object per image.")
    boolean json;

    @Mixin
    ThreadOption threads;

    @Parameters(paramLabel = "IMAGE", arity = "1..*", description = "Images, folders or zips.")
    List<Path> inputs = new ArrayList<>();

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!(alpha >= 0 && alpha <= 1)) throw new VitrimException("--alpha " + alpha + ": must be between 0 and 1");
        Dense.Restore when = SegmentationTraining.restore(restore);
        PrintWriter o = spec.commandLine().getOut();
        try (Inputs in = Inputs.collect(inputs);
             VisionTransformer m = model.load(threads.get(), ModelOptions.EMBEDDED_SEGMENTATION)) {
            var task = m.segmentation();
            if (task == null) {
                throw new VitrimException(model.describe() + ": not a segmentation model (no 'segmentation' entry in its config.json); "
                        + "train one with vitrim train on a segmentation set");
            }
            if (ids && task.numClasses() > 256) {
                throw new VitrimException(model.describe() + ": --ids writes 8-bit class ids, and this model has " + task.numClasses() + " classes");
            }
            TokenReducer r = io.vitrim.io.SideWeights.reducer(m, reduce);
            List<TokenReducer> others = new ArrayList<>();
            for (String c : compare) others.add(io.vitrim.io.SideWeights.reducer(m, c));
            Preprocessor pre = new Preprocessor(m.preprocess());
            List<String> names = m.labels();
            int[][] colors = task.colors();
            Files.createDirectories(out);
            // a segmentation set (images/ + labels/): its photos only, not its label maps
            boolean set = in.items.stream().anyMatch(i -> LABELS.matcher(i.name()).find())
                    && in.items.stream().anyMatch(i -> IMAGES.matcher(i.name()).find());
            Map<String, Inputs.Item> truth = new LinkedHashMap<>();
            if (set && !compare.isEmpty()) for (Inputs.Item it : in.items) if (LABELS.matcher(it.name()).find()) truth.put(labelKey(it.name()), it);
            for (Inputs.Item it : in.items) {
                if (set && LABELS.matcher(it.name()).find()) continue;
                RgbImage img = ImageDecoder.decode(it.bytes(), it.name());
                VisionTransformer.Segmentation s = m.segment(pre.toTensor(img), 1, r, when);
                int w = img.width(), h = img.height();
                int[] mask = s.mask(0, h, w);
                long[] count = new long[task.numClasses()];
                byte[] col = new byte[w * h * 3], over = new byte[w * h * 3], id = ids ? new byte[w * h] : null;
                for (int i = 0; i < w * h; i++) {
                    int k = mask[i];
                    count[k]++;
                    if (id != null) id[i] = (byte) k;
                    for (int c = 0; c < 3; c++) {
                        col[i * 3 + c] = (byte) colors[k][c];
                        over[i * 3 + c] = (byte) Math.round((1 - alpha) * (img.rgb()[i * 3 + c] & 0xff) + alpha * colors[k][c]);
                    }
                }
                String stem = VisualizeCommand.safe(Path.of(it.name().replace('!', '/')).getFileName().toString().replaceFirst("\\.[^.]+$", ""));
                Path maskPng = out.resolve(stem + ".mask.png"), overlayPng = out.resolve(stem + ".overlay.png");
                // the comparison first: a bad label map fails before any of this image's files is written
                RgbImage cmp = null;
                if (!others.isEmpty()) {
                    Inputs.Item lab = set && IMAGES.matcher(it.name()).find() ? truth.get(labelKey(it.name())) : null;
                    cmp = compare(m, pre, img, lab, task, mask, s, others, when);
                }
                AtomicFiles.write(maskPng, TokenMap.png(new RgbImage(w, h, col)));
                AtomicFiles.write(overlayPng, TokenMap.png(new RgbImage(w, h, over)));
                if (id != null) AtomicFiles.write(out.resolve(stem + ".ids.png"), TokenMap.greyPng(id, w, h));
                if (cmp != null) AtomicFiles.write(out.resolve(stem + ".compare.png"), TokenMap.png(cmp));
                Map<String, Double> shares = new LinkedHashMap<>();
                for (int k = 0; k < count.length; k++) if (count[k] > 0) shares.put(names != null ? names.get(k) : String.valueOf(k), (double) count[k] / (w * h));
                if (json) {
                    Map<String, Object> j = new LinkedHashMap<>();
                    j.put("input", it.name());
                    j.put("mask", maskPng.toString());
                    j.put("overlay", overlayPng.toString());
                    j.put("class_shares", shares);
                    j.put("tokens", s.trace().tokensEnteringBlocks(0));
                    j.put("gmacs", Macs.of(m.config(), s.trace(), 0) / 1e9);
                    o.println(Json.write(j));
                } else {
                    StringBuilder b = new StringBuilder(it.name()).append(" -> ").append(maskPng.getFileName()).append(':');
                    shares.entrySet().stream().sorted((a, c) -> Double.compare(c.getValue(), a.getValue()))
                            .forEach(e -> b.append(String.format(Locale.ROOT, " %s %.1f%%", e.getKey(), 100 * e.getValue())));
                    o.println(b);
                }
                o.flush();
            }
        }
        return 0;
    }

    /** The key that pairs {@code images/<id>.jpg} with {@code labels/<id>.png} in one set. */
    private static String labelKey(String name) {
        String n = name.replace('\\', '/');
        int slash = n.lastIndexOf('/'), dot = n.lastIndexOf('.');
        String dir = slash < 0 ? "" : n.substring(0, slash);
        dir = dir.substring(0, Math.max(0, dir.lastIndexOf('/') + 1));
        return dir + "|" + n.substring(slash + 1, dot > slash ? dot : n.length());
    }

    /** Photo | ground truth (if any) | the --reduce mask | each compared mask, captioned. */
    private RgbImage compare(VisionTransformer m, Preprocessor pre, RgbImage img, Inputs.Item lab, io.vitrim.config.SegmentationConfig task,
                             int[] mainMask, VisionTransformer.Segmentation mainSeg, List<TokenReducer> others, Dense.Restore when) {
        int w = img.width(), h = img.height();
        byte[] labels = null;
        if (lab != null) {
            ImageDecoder.LabelMap l = ImageDecoder.decodeLabels(lab.bytes(), lab.name());
            if (l.width() != w || l.height() != h) {
                throw VitrimException.of(lab.name(), "label map is " + l.width() + "x" + l.height() + ", its image " + w + "x" + h);
            }
            labels = l.labels();
            for (int i = 0; i < labels.length; i++) {
                int v = labels[i] & 0xFF;
                if (v >= task.numClasses() && v != task.ignoreIndex()) {
                    throw VitrimException.of(lab.name(), "label value " + v + " at pixel (" + (i % w) + ", " + (i / w) + ") is not a class (0-"
                            + (task.numClasses() - 1) + ") nor the ignore value " + task.ignoreIndex());
                }
            }
        }
        List<RgbImage> panels = new ArrayList<>();
        List<String> captions = new ArrayList<>();
        panels.add(img);
        captions.add("photo");
        if (labels != null) {
            int[] t = new int[w * h];
            for (int i = 0; i < t.length; i++) t[i] = labels[i] & 0xFF;
            panels.add(colour(t, w, h, task));
            captions.add("ground truth");
        }
        double dense = Macs.dense(m.config());
        List<String> specs = new ArrayList<>();
        specs.add(reduce);
        specs.addAll(compare);
        for (int k = 0; k < specs.size(); k++) {
            VisionTransformer.Segmentation s = k == 0 ? mainSeg : m.segment(pre.toTensor(img), 1, others.get(k - 1), when);
            int[] mask = k == 0 ? mainMask : s.mask(0, h, w);
            panels.add(colour(mask, w, h, task));
            StringBuilder c = new StringBuilder(specs.get(k));
            double g = Macs.of(m.config(), s.trace(), 0);
            c.append(String.format(Locale.ROOT, "  MAC ratio %.2f", dense / g));
            if (labels != null) {
                io.vitrim.measure.SegmentationMetrics sm = new io.vitrim.measure.SegmentationMetrics(task.numClasses());
                sm.add(mask, labels, task.ignoreIndex());
                c.append(String.format(Locale.ROOT, "  acc %.1f%%  mIoU %.1f%%", 100 * sm.pixelAccuracy(), 100 * sm.meanIoU()));
            }
            captions.add(c.toString());
        }
        return Captions.strip(panels, captions, 4);
    }

    private static RgbImage colour(int[] mask, int w, int h, io.vitrim.config.SegmentationConfig task) {
        int[][] colors = task.colors();
        byte[] col = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++) {
            int k = mask[i];
            int[] c = k < colors.length ? colors[k] : new int[] {0, 0, 0}; // the ignore label: black
            for (int j = 0; j < 3; j++) col[i * 3 + j] = (byte) c[j];
        }
        return new RgbImage(w, h, col);
    }
}
