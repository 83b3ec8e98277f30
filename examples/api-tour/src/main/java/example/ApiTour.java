package example;

import io.vitrim.image.ImageDecoder;
import io.vitrim.image.Preprocessor;
import io.vitrim.image.RgbImage;
import io.vitrim.io.ModelLoader;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.SegmentationConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.measure.Throughput;
import io.vitrim.model.StateDict;
import io.vitrim.reduce.Dense;
import io.vitrim.train.SegmentationTask;
import io.vitrim.model.Prediction;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Spec;
import io.vitrim.reduce.TokenReducer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The vitrim Java API in six steps, each printed: load a model, classify one image with and
 * without token merging, classify a batch, embed, measure the speed-up, and segment.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp ... example.ApiTour models/cifar10-vit9-c2 samples</pre>
 */
public final class ApiTour {
    public static void main(String[] args) throws IOException {
        Path model = Path.of(args.length > 0 ? args[0] : "models/cifar10-vit9-c2");
        Path images = Path.of(args.length > 1 ? args[1] : "samples");
        run(model, images, System.out);
    }

    static void run(Path modelDir, Path imageDir, PrintStream out) throws IOException {
        // 1. Load: a timm-style folder (config.json + model.safetensors); 2 compute threads.
        //    The model holds its weights and threads (the file is closed once read): close it (try-with-resources).
        try (VisionTransformer model = ModelLoader.load(modelDir, null, 2)) {
            out.println("1. loaded " + modelDir + ": " + model.config().depth() + " blocks, "
                    + model.config().numTokens() + " tokens, " + model.labels().size() + " classes");

            // 2. One image, dense and with ToMe merging 8 tokens per block.
            List<Path> files;
            try (Stream<Path> s = Files.list(imageDir)) {
                files = s.filter(p -> p.toString().endsWith(".jpg")).sorted().toList();
            }
            Path first = files.get(0);
            RgbImage img = ImageDecoder.decode(Files.readAllBytes(first), first.toString());
            Prediction dense = model.classify(img, Spec.none());
            Prediction merged = model.classify(img, Spec.tome(8));
            out.println("2. " + first.getFileName() + ": " + dense.top(1).get(0).label() + " (dense), "
                    + merged.top(1).get(0).label() + " (tome:r=8), tokens per block " + Arrays.toString(merged.tokens()));

            // 3. A batch: decode, then one forward pass for all of them. A reducer made once is reused.
            TokenReducer tome = model.reducer("tome:r=8");
            List<RgbImage> batch = new ArrayList<>();
            for (Path f : files) batch.add(ImageDecoder.decode(Files.readAllBytes(f), f.toString()));
            List<Prediction> preds = model.classify(batch, tome);
            int same = 0;
            for (int i = 0; i < preds.size(); i++) if (preds.get(i).argmax() == model.classify(batch.get(i), Spec.none()).argmax()) same++;
            out.println("3. batch of " + preds.size() + ": tome:r=8 keeps the dense top-1 on " + same + " of " + preds.size());

            // 4. Embeddings: the pooled output per image (for a classifier, its head's output).
            Preprocessor pre = new Preprocessor(model.preprocess());
            float[] px = pre.toTensor(img);
            VisionTransformer.Encoding e = model.encode(px, 1, tome, false);
            out.println("4. embedding of " + first.getFileName() + ": " + e.dim() + " values");

            // 5. Speed: median of timed rounds after warm-up, as a ratio to the unreduced model.
            List<Throughput.Result> r = Throughput.measure(model, List.of(TokenReducer.NONE, tome),
                    new Throughput.Settings(16, 1.0, 2, 5, 1), null);
            out.printf(Locale.ROOT, "5. batch 16: tome:r=8 %.2fx faster (%.2fx fewer MACs), %.0f vs %.0f img/s%n",
                    r.get(1).speedup(), 1 / r.get(1).macRatio(), r.get(1).imagesPerSecond(), r.get(0).imagesPerSecond());
        }

        // 6. Segmentation: a segmentation model (from `vitrim train` on a segmentation set) loads the
        //    same way. Here one is put together from this classifier's backbone and an untrained
        //    Segmenter decoder, so its mask shows the API, not a result.
        ModelLoader.Checkpoint ck = ModelLoader.read(modelDir, null);
        ViTConfig backbone = ck.config().withNumClasses(0);
        SegmentationConfig task = new SegmentationConfig(3, 255, null);
        StateDict sd = new StateDict();
        ck.weights().tensors().forEach((k, t) -> { if (!k.startsWith("head.")) sd.put(k, t.data(), t.shape()); });
        SegmentationTask.addDecoder(sd, backbone, task, 0);
        PreprocessConfig p = ck.preprocess();
        PreprocessConfig whole = new PreprocessConfig(p.inputHeight(), p.inputWidth(), 1.0, p.interpolation(), PreprocessConfig.Resize.EXACT, p.mean(), p.std());
        try (VisionTransformer seg = VisionTransformer.createSegmenter(backbone, whole, task, List.of("a", "b", "c"), sd, 2, "api-tour")) {
            Path first;
            try (Stream<Path> s = Files.list(imageDir)) {
                first = s.filter(f -> f.toString().endsWith(".jpg")).sorted().findFirst().orElseThrow();
            }
            RgbImage img = ImageDecoder.decode(Files.readAllBytes(first), first.toString());
            float[] px = new Preprocessor(seg.preprocess()).toTensor(img);
            // every method made dense: merged tokens unmerged, pruned ones restored (here after the last block)
            VisionTransformer.Segmentation s = seg.segment(px, 1, seg.reducer("tome:r=8"), Dense.Restore.OUTPUT);
            int[] mask = s.mask(0, img.height(), img.width()); // a class per pixel, at the photo's size
            out.println("6. segmented " + first.getFileName() + ": " + s.gridH() + "x" + s.gridW() + " patch logits -> "
                    + img.width() + "x" + img.height() + " mask (" + mask.length + " pixels), tokens per block "
                    + Arrays.toString(s.trace().tokensEnteringBlocks(0)));
        }
    }
}
