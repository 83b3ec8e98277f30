package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.image.ImageDecoder;
import io.vitrim.image.Preprocessor;
import io.vitrim.image.RgbImage;
import io.vitrim.image.TokenMap;
import io.vitrim.io.AtomicFiles;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Methods;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.reduce.Trace;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "visualize", sortOptions = false, mixinStandardHelpOptions = true,
        header = "Draw which patches were merged or pruned.",
        description = "Show which patches ended up in which token: merged groups filled with their mean colour and outlined, pruned patches greyed — for the final block, or every block as a strip (--every-block).",
        footer = {"", "Examples:",
            "  vitrim visualize --reduce tome:r=6 --out viz/ samples/",
            "  vitrim visualize --model models/deit-s --reduce ppt --every-block \\",
            "      --out viz/ photo.jpg",
            "", "Writes OUT/<image>__<spec>.png; small inputs are upscaled (--scale)."})
final class VisualizeCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", completionCandidates = ReduceCandidates.class, required = true, description = "The reduction to show, e.g. tome:r=6.")
    String reduce;

    @Option(names = {"-o", "--out"}, paramLabel = "DIR", required = true, description = "Output folder for the PNGs.")
    Path out;

    @Option(names = "--every-block", description = "A strip: the input, then the tokens after every block.")
    boolean everyBlock;

    @Option(names = "--scale", paramLabel = "N", description = "Upscaling factor (default: enough for ~448 pixels).")
    Integer scale;

    @Parameters(paramLabel = "IMAGE", arity = "1..*", description = "Images, folders or zips.")
    List<Path> inputs = new ArrayList<>();

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    static String safe(String s) {
        return s.replaceAll("[^A-Za-z0-9._=-]+", "_");
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out0 = spec.commandLine().getOut();
        try (Inputs in = Inputs.collect(inputs); VisionTransformer m = model.loadTask(1)) {
            ViTConfig c = m.config();
            TokenReducer r = io.vitrim.io.SideWeights.reducer(m, reduce);
            int sc = scale != null ? scale : Math.max(1, (int) Math.ceil(448.0 / Math.max(c.imgHeight(), c.imgWidth())));
            if (sc < 1 || sc > 64) throw new VitrimException("--scale " + sc + ": must be between 1 and 64");
            if (m.preprocess() == null) throw new VitrimException("this model has no preprocessing config");
            Preprocessor pre = new Preprocessor(m.preprocess());
            Files.createDirectories(out);
            for (Inputs.Item it : in.items) {
                RgbImage shown = pre.resizeAndCrop(ImageDecoder.decode(it.bytes(), it.name()));
                float[] px = pre.toTensor(ImageDecoder.decode(it.bytes(), it.name()));
                Trace t = m.forward(px, 1, r, true).trace();
                RgbImage img;
                if (everyBlock) {
                    List<RgbImage> panels = new ArrayList<>();
                    panels.add(upscale(shown, sc));
                    for (int k = 0; k < c.depth(); k++) panels.add(TokenMap.render(shown, c.patchSize(), c.numPrefix(), t.sourceAfter(k)[0], sc));
                    img = TokenMap.strip(panels, 6);
                } else {
                    img = TokenMap.strip(List.of(upscale(shown, sc), TokenMap.render(shown, c.patchSize(), c.numPrefix(), t.finalSource()[0], sc)), 6);
                }
                String stem = Path.of(it.name().replace('!', '/')).getFileName().toString().replaceFirst("\\.[^.]+$", "");
                Path dst = out.resolve(safe(stem) + "__" + safe(r.spec()) + ".png");
                AtomicFiles.write(dst, TokenMap.png(img));
                out0.println(dst + "  (" + t.mlpTokens(0, c.depth() - 1) + " tokens after the last block"
                        + (t.decisions(0).isEmpty() ? "" : ", decisions " + t.decisions(0)) + ")");
            }
        }
        out0.flush();
        return 0;
    }

    static RgbImage upscale(RgbImage img, int s) {
        int w = img.width() * s, h = img.height() * s;
        byte[] o = new byte[w * h * 3];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) for (int c = 0; c < 3; c++) o[(y * w + x) * 3 + c] = (byte) img.get(x / s, y / s, c);
        return new RgbImage(w, h, o);
    }
}
