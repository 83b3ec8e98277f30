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
            "With --reduce, merged tokens are unmerged (each patch reads the token it went into) and pruned tokens come back with their representation when pruned, after the last block or before it (--restore llf)."},
        footer = {"", "Examples:",
            "  vitrim segment --model models/camvid-vit street.jpg --out /tmp/masks",
            "  vitrim segment --model models/camvid-vit --reduce tome:r=40 photos/ \\",
            "      --out /tmp/masks",
            "  vitrim segment --model models/camvid-vit --reduce random:r=40 \\",
            "      --restore llf --ids photos.zip --out /tmp/m --json"})
final class SegmentCommand implements Callable<Integer> {
    private static final java.util.regex.Pattern LABELS = java.util.regex.Pattern.compile("(^|[/!\\\\])labels[/\\\\][^/\\\\]*$");
    private static final java.util.regex.Pattern IMAGES = java.util.regex.Pattern.compile("(^|[/!\\\\])images[/\\\\][^/\\\\]*$");

    @Mixin
    ModelOptions model;

    @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", defaultValue = "none", completionCandidates = ReduceCandidates.class,
            description = "Token reduction (default: ${DEFAULT-VALUE}; see vitrim classify --help).")
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
        try (Inputs in = Inputs.collect(inputs); VisionTransformer m = model.load(threads.get(), null)) {
            var task = m.segmentation();
            if (task == null) {
                throw new VitrimException(model.describe() + ": not a segmentation model (no 'segmentation' entry in its config.json); "
                        + "train one with vitrim train on a segmentation set");
            }
            if (ids && task.numClasses() > 256) {
                throw new VitrimException(model.describe() + ": --ids writes 8-bit class ids, and this model has " + task.numClasses() + " classes");
            }
            TokenReducer r = io.vitrim.io.SideWeights.reducer(m, reduce);
            Preprocessor pre = new Preprocessor(m.preprocess());
            List<String> names = m.labels();
            int[][] colors = task.colors();
            Files.createDirectories(out);
            // a segmentation set (images/ + labels/): its photos only, not its label maps
            boolean set = in.items.stream().anyMatch(i -> LABELS.matcher(i.name()).find())
                    && in.items.stream().anyMatch(i -> IMAGES.matcher(i.name()).find());
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
                AtomicFiles.write(maskPng, TokenMap.png(new RgbImage(w, h, col)));
                AtomicFiles.write(overlayPng, TokenMap.png(new RgbImage(w, h, over)));
                if (id != null) AtomicFiles.write(out.resolve(stem + ".ids.png"), TokenMap.greyPng(id, w, h));
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
}
