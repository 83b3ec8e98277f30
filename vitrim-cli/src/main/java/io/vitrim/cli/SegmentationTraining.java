package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.SegmentationConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.data.SegmentationImages;
import io.vitrim.io.Json;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.StateDict;
import io.vitrim.reduce.Dense;
import io.vitrim.train.MethodTraining;
import io.vitrim.train.SegmentationTask;
import io.vitrim.train.TrainConfig;
import io.vitrim.train.Trainer;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.ZipFile;

/**
 * {@code vitrim train} on a segmentation set ({@code images/<id>} + {@code labels/<id>.png}):
 * the class list and ignore label, the model (from scratch, or from a classifier folder whose
 * head is dropped and whose position embedding is resampled to the new input), and the run.
 */
final class SegmentationTraining {
    private SegmentationTraining() {}

    /** CamVid's 11 classes (label 11 = void) with SegNet's colours. */
    static final List<String> CAMVID = List.of("Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car",
            "Pedestrian", "Bicyclist");
    static final int[][] CAMVID_COLORS = {{128, 128, 128}, {128, 0, 0}, {192, 192, 128}, {128, 64, 128}, {60, 40, 222}, {128, 128, 0},
            {192, 128, 128}, {64, 64, 128}, {64, 0, 128}, {64, 64, 0}, {0, 128, 192}};

    /** Whether {@code data} is laid out as a segmentation set (an {@code images/} and a {@code labels/} folder). */
    static boolean looksLikeSegmentation(Path data) {
        if (data == null || !Files.exists(data)) return false;
        if (Files.isDirectory(data)) return Files.isDirectory(data.resolve("images")) && Files.isDirectory(data.resolve("labels"));
        try (ZipFile z = new ZipFile(data.toFile())) {
            boolean img = false, lab = false;
            var en = z.entries();
            while (en.hasMoreElements() && !(img && lab)) {
                String n = en.nextElement().getName();
                img |= n.startsWith("images/") || n.contains("/images/");
                lab |= n.startsWith("labels/") || n.contains("/labels/");
            }
            return img && lab;
        } catch (java.io.IOException e) {
            return false; // not a zip: the classification loader names the problem
        }
    }

    /** The task's classes: {@code camvid}, or comma-separated names. */
    static SegmentationConfig task(String labels, Integer ignore, List<String>[] names) {
        if (labels == null) throw new VitrimException("segmentation training needs --labels: 'camvid' or the class names, comma-separated, in label-value order");
        if (labels.equalsIgnoreCase("camvid")) {
            names[0] = CAMVID;
            return new SegmentationConfig(CAMVID.size(), ignore == null ? 11 : ignore, CAMVID_COLORS);
        }
        List<String> l = Arrays.stream(labels.split(",")).map(String::trim).toList();
        if (l.isEmpty() || l.stream().anyMatch(String::isEmpty)) throw new VitrimException("--labels: empty class name in '" + labels + "'");
        names[0] = l;
        return new SegmentationConfig(l.size(), ignore == null ? 255 : ignore, null);
    }

    static float[] classWeights(String spec, SegmentationImages train, SegmentationConfig seg) {
        if (spec == null || spec.equals("none")) return null;
        if (spec.equals("balanced")) return SegmentationTask.balancedWeights(train, seg.numClasses(), seg.ignoreIndex());
        String[] p = spec.split(",");
        if (p.length != seg.numClasses()) throw new VitrimException("--class-weights: " + p.length + " weights for " + seg.numClasses() + " classes");
        float[] w = new float[p.length];
        try {
            for (int i = 0; i < p.length; i++) w[i] = Float.parseFloat(p[i].trim());
        } catch (NumberFormatException e) {
            throw new VitrimException("--class-weights: expected 'balanced', 'none' or numbers, got '" + spec + "'");
        }
        for (float f : w) if (!(f >= 0) || Float.isInfinite(f)) throw new VitrimException("--class-weights: weights must be finite and >= 0");
        return w;
    }

    static double[] scaleRange(String s) {
        String[] p = s.split(",");
        try {
            if (p.length == 2) return new double[] {Double.parseDouble(p[0].trim()), Double.parseDouble(p[1].trim())};
            if (p.length == 1) return new double[] {Double.parseDouble(p[0].trim()), Double.parseDouble(p[0].trim())};
        } catch (NumberFormatException e) {
            // the message below
        }
        throw new VitrimException("--scale expects MIN,MAX (e.g. 0.5,2.0), got '" + s + "'");
    }

    /**
     * A classifier folder as the start of a segmentation model: its blocks and embeddings, the
     * position embedding resampled to {@code h × w} as timm does, the classifier head dropped,
     * Segmenter's decoder newly initialised.
     */
    static ModelLoader.Checkpoint fromClassifier(Path init, int h, int w, SegmentationConfig seg, long seed) {
        ModelLoader.Checkpoint cp = ModelLoader.read(init, null);
        if (cp.segmentation() != null) {
            throw VitrimException.of(init, "is a segmentation model already: continue its run with --resume, or start from a classifier");
        }
        if (cp.preprocess() == null) throw VitrimException.of(init, "has no preprocessing config (pretrained_cfg mean/std)");
        cp = ModelLoader.atImageSize(cp, h, w);
        ViTConfig c = cp.config().withNumClasses(0);
        StateDict sd = new StateDict();
        for (Map.Entry<String, StateDict.Tensor> e : cp.weights().tensors().entrySet()) {
            String k = e.getKey();
            if (k.startsWith("head.") || k.startsWith("head_dist.") || k.startsWith("cropr.") || k.contains("_masker.")) continue;
            sd.put(k, e.getValue().data(), e.getValue().shape());
        }
        SegmentationTask.addDecoder(sd, c, seg, seed);
        PreprocessConfig p = cp.preprocess();
        p = new PreprocessConfig(h, w, 1.0, p.interpolation(), PreprocessConfig.Resize.EXACT, p.mean(), p.std());
        return new ModelLoader.Checkpoint(c, p, null, sd, cp.source());
    }

    /** Channel statistics of a segmentation set's photos, in [0, 1] units: {mean[3], std[3]}. */
    static float[][] channelStats(SegmentationImages d) {
        double[] s = new double[3], sq = new double[3];
        long n = 0;
        for (SegmentationImages.Example e : d.examples()) {
            byte[] px = e.image().rgb();
            for (int i = 0; i < px.length; i += 3) {
                for (int c = 0; c < 3; c++) {
                    double v = (px[i + c] & 0xff) / 255.0;
                    s[c] += v;
                    sq[c] += v * v;
                }
            }
            n += px.length / 3;
        }
        float[] mean = new float[3], std = new float[3];
        for (int c = 0; c < 3; c++) {
            mean[c] = (float) (s[c] / n);
            std[c] = (float) Math.sqrt(Math.max(1e-12, sq[c] / n - (s[c] / n) * (s[c] / n)));
        }
        return new float[][] {mean, std};
    }

    /** Loads the data, builds the task and runs it. */
    static int run(PrintWriter err, ViTConfig model, PreprocessConfig pre, StateDict initial, TrainConfig cfg, SegmentationConfig seg,
                   List<String> labels, SegmentationTask.Settings settings, String weightSpec, Path data, Path evalData,
                   int limit, int evalLimit, java.util.function.Consumer<Trainer> runOptions, Path out, int threads) throws Exception {
        Trainer t = trainer(err, model, pre, initial, cfg, seg, labels, settings, weightSpec, data, evalData, limit, evalLimit, out, threads, null);
        runOptions.accept(t);
        TrainProgress progress = TrainProgress.withCurves(err, t, cfg.epochs(), cfg.batch(), out).optimizer(cfg);
        t.run(progress);
        progress.done();
        return 0;
    }

    /** Loads the data and builds the task's trainer, with a learned method ({@code method}, or null) trained beside the model. */
    static Trainer trainer(PrintWriter err, ViTConfig model, PreprocessConfig pre, StateDict initial, TrainConfig cfg, SegmentationConfig seg,
                           List<String> labels, SegmentationTask.Settings settings, String weightSpec, Path data, Path evalData,
                           int limit, int evalLimit, Path out, int threads, MethodTraining method) {
        err.println("loading " + data + (evalData != null ? " and " + evalData : "") + " ...");
        err.flush();
        SegmentationImages train = SegmentationImages.load(data, seg.numClasses(), seg.ignoreIndex(), limit);
        SegmentationImages eval = evalData == null ? null : SegmentationImages.load(evalData, seg.numClasses(), seg.ignoreIndex(), evalLimit);
        if (settings == null) {
            throw new IllegalStateException("no settings");
        }
        if (weightSpec != null) settings = new SegmentationTask.Settings(settings.minScale(), settings.maxScale(),
                classWeights(weightSpec, train, seg), settings.restore());
        if (pre.mean() == null) {
            float[][] st = channelStats(train);
            pre = new PreprocessConfig(pre.inputHeight(), pre.inputWidth(), 1.0, pre.interpolation(), pre.resize(), st[0], st[1]);
        }
        err.printf(Locale.ROOT, "segmentation: train %d images, %d classes (ignore %d)%s; model %s embed %d depth %d heads %d patch %d img %dx%d "
                        + "(%dx%d patches, %,d parameters); scale %.2f-%.2f%s; %d threads%n",
                train.size(), seg.numClasses(), seg.ignoreIndex(), eval == null ? "" : ", eval " + eval.size() + " images", model.architecture(),
                model.embedDim(), model.depth(), model.numHeads(), model.patchSize(), model.imgHeight(), model.imgWidth(), model.gridH(),
                model.gridW(), model.parameterCount(), settings.minScale(), settings.maxScale(),
                settings.classWeights() == null ? "" : ", class weights " + Arrays.toString(settings.classWeights()), threads);
        SpeedNote.print(err, "vitrim"); // train or finetune
        if (!cfg.reduce().equals("none") && method == null) {
            err.println("token reduction in training: " + cfg.reduce() + " (pruned tokens restored: " + settings.restore().name().toLowerCase(Locale.ROOT) + ")");
        }
        err.flush();
        SegmentationTask task = new SegmentationTask(seg, labels, train, eval, settings);
        Trainer t = new Trainer(model, pre, cfg, initial, List.of(io.vitrim.train.LossTerm.CROSS_ENTROPY), task, out, threads);
        return method == null ? t : t.method(method);
    }

    /** The settings a checkpoint stored ({@code segmentation_training}). */
    static SegmentationTask.Settings storedSettings(Map<String, String> meta, Path ck) {
        String s = meta.get("segmentation_training");
        if (s == null) throw VitrimException.of(ck, "a segmentation run's checkpoint without its segmentation_training settings");
        return SegmentationTask.Settings.fromJson(new Json.Obj(Json.parseObject(s), "segmentation_training"));
    }

    static Dense.Restore restore(String s) {
        try {
            return Dense.Restore.valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new VitrimException("--restore expects 'output' or 'llf', got '" + s + "'");
        }
    }
}
