package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.SegmentationConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.io.Json;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.StateDict;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Dense;
import io.vitrim.reduce.Methods;
import io.vitrim.train.CroprFinetune;
import io.vitrim.train.LossTerm;
import io.vitrim.train.ParamGroups;
import io.vitrim.train.SegmentationTask;
import io.vitrim.train.TrainConfig;
import io.vitrim.train.Trainer;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code vitrim finetune --method cropr}: a {@link Trainer} run with {@link CroprFinetune} — on a
 * classifier and a labelled image set, or on a segmentation model and a segmentation set (one
 * query per cell of the auxiliary grid; docs/segmentation.md, Token Cropr).
 */
final class CroprRun {
    private CroprRun() {}

    static int start(FinetuneCommand o, PrintWriter err) throws Exception {
        if (o.rate == null) throw new VitrimException("--method cropr needs --rate R (tokens pruned per module)");
        TrainingData.checkChoice(o.holdout, o.evalData);
        if (o.holdout < 0 || o.limit < 0) throw new VitrimException("--holdout and --limit must be >= 0");
        if (Files.exists(o.out.resolve(Trainer.CHECKPOINT))) {
            throw VitrimException.of(o.out, "already holds a training run; use --resume to continue it or another --out");
        }
        if (o.epochs < 1 || o.batch < 1 || !(o.lr > 0) || o.warmup < 0 || o.minLr < 0) {
            throw new VitrimException("invalid training options: need epochs >= 1, batch >= 1, lr > 0, warmup >= 0, min-lr >= 0");
        }
        int n = o.threads.get();
        ViTConfig model;
        PreprocessConfig pre;
        List<String> labels;
        StateDict sd;
        SegmentationConfig seg;
        try (VisionTransformer m = o.model.loadTask(n)) {
            seg = m.segmentation();
            model = m.config();
            pre = m.preprocess();
            labels = m.labels();
            sd = m.stateDict();
        }
        checkOptions(o, seg);
        int[] ra = o.augment.randAugmentOps();
        int[] aux = seg == null ? new int[2] : auxGrid(o.auxGrid, model, sd);
        double layerDecay = o.layerDecay != null ? o.layerDecay : seg != null ? 0.9 : 0.75;
        CroprFinetune method;
        TrainConfig cfg;
        try {
            method = new CroprFinetune(o.rate, o.llf, o.curriculum, o.epochs, aux[0], aux[1]);
            cfg = new TrainConfig(o.epochs, o.batch, o.lr, o.minLr, o.warmup, o.weightDecay, 1.0, 0.1, 4, true, o.trainSeed, false,
                    method.evalSpec(), o.model.describe(), new ParamGroups(List.of(), groups(o), layerDecay), o.dropPath, ra[0], ra[1], o.holdout);
            cfg = o.augment.applyTo(cfg);
        } catch (IllegalArgumentException e) {
            throw new VitrimException("invalid options: " + e.getMessage());
        }
        VisionTransformer.checkTrainable(model, seg != null, o.model.describe());
        // the schedule fits the model before any data is read (the same check as --reduce)
        Methods.parse(method.evalSpec() + ",scorer=random", model);
        checkData(o, seg);
        if (pre == null) throw VitrimException.of(o.model.describe(), "has no preprocessing config (pretrained_cfg mean/std)");
        int added = seg == null ? CroprFinetune.addMissingModules(sd, model, o.llf, o.trainSeed)
                : CroprFinetune.addMissingModules(sd, model, o.llf, method.queries(), seg.numClasses(), true, o.trainSeed);
        String header = String.format(Locale.ROOT, "cropr for %s: rate %d, llf %s%s, %d module(s) (%d new)%s, lr %.2g, layer decay %.2f",
                o.model.describe(), o.rate, o.llf, o.curriculum ? ", curriculum" : "", io.vitrim.reduce.Cropr.modules(model.depth(), o.llf), added,
                seg == null ? "" : ", " + method.queries() + " queries per module (auxiliary grid " + aux[0] + "x" + aux[1] + ")", o.lr, layerDecay)
                + o.augment.describe();
        if (seg != null) {
            err.println(header);
            double[] sc = SegmentationTraining.scaleRange(o.scale == null ? "0.5,2.0" : o.scale);
            SegmentationTask.Settings settings = new SegmentationTask.Settings(sc[0], sc[1], null, Dense.Restore.OUTPUT);
            Trainer t = SegmentationTraining.trainer(err, model, pre, sd, cfg, seg, labels, settings, o.classWeights, o.data, o.evalData,
                    o.limit, 0, o.out, n, method);
            return run(err, o.spec.commandLine().getOut(), t, cfg, method, o.out);
        }
        err.println("loading " + o.data + " ...");
        err.flush();
        TrainingData d = TrainingData.load(o.data, o.limit, o.evalData, 0, o.holdout, o.trainSeed, pre, n);
        if (labels != null && !labels.equals(d.train().classes())) {
            throw VitrimException.of(o.data, "classes " + d.train().classes() + " differ from the model's labels " + labels);
        }
        err.printf(Locale.ROOT, "%s; %d images%s, %d epoch(s); %d threads%n", header, d.train().size(),
                d.eval() == null ? "" : ", eval " + d.eval().size(), o.epochs, n);
        SpeedNote.print(err, "vitrim finetune");
        Trainer t = new Trainer(model, pre, cfg, sd, List.of(LossTerm.CROSS_ENTROPY), d.train(), d.eval(), o.out, n).method(method);
        return run(err, o.spec.commandLine().getOut(), t, cfg, method, o.out);
    }

    /** The segmentation options need a segmentation model, which takes its evaluation set from --eval-data. */
    private static void checkOptions(FinetuneCommand o, SegmentationConfig seg) {
        if (seg == null && (o.auxGrid != null || o.scale != null || o.classWeights != null)) {
            throw new VitrimException("--aux-grid, --scale and --class-weights apply to a segmentation model; " + o.model.describe()
                    + " is a classifier");
        }
        if (seg != null && o.holdout > 0) {
            throw new VitrimException("segmentation takes its evaluation set from --eval-data (no --holdout)");
        }
        if (seg != null && o.augment.any()) {
            throw new VitrimException(AugmentOptions.NAMES + " apply to a classifier; " + o.model.describe()
                    + " is a segmentation model");
        }
    }

    /** A segmentation model needs a segmentation set, a classifier a labelled image set. */
    private static void checkData(FinetuneCommand o, SegmentationConfig seg) {
        if (!Files.exists(o.data)) throw VitrimException.of(o.data, "no such file or folder");
        boolean segData = SegmentationTraining.looksLikeSegmentation(o.data);
        if (seg != null && !segData) {
            throw VitrimException.of(o.data, "not a segmentation set (images/ + labels/), but " + o.model.describe()
                    + " is a segmentation model");
        }
        if (seg == null && segData) {
            throw VitrimException.of(o.data, "a segmentation set, but " + o.model.describe() + " is a classifier; fine-tune a "
                    + "segmentation model (vitrim train --labels ... makes one)");
        }
    }

    /**
     * The auxiliary grid: {@code HxW} or, by default, the model's patch grid (the reference's
     * choice); at most the input's size (labels are downsampled to it, not up), and the queries
     * a model already has must be one per cell.
     */
    static int[] auxGrid(String spec, ViTConfig model, StateDict sd) {
        int h = model.gridH(), w = model.gridW();
        if (spec != null) {
            String[] p = spec.toLowerCase(Locale.ROOT).split("x");
            try {
                if (p.length != 2) throw new NumberFormatException();
                h = Integer.parseInt(p[0].trim());
                w = Integer.parseInt(p[1].trim());
            } catch (NumberFormatException e) {
                throw new VitrimException("--aux-grid expects HxW (e.g. 24x32), got '" + spec + "'");
            }
            if (h < 1 || w < 1 || h > model.imgHeight() || w > model.imgWidth()) {
                throw new VitrimException("--aux-grid " + spec + " does not fit: the labels are downsampled to it from the "
                        + model.imgHeight() + "x" + model.imgWidth() + " input (1x1 to " + model.imgHeight() + "x" + model.imgWidth() + ")");
            }
        }
        StateDict.Tensor q = sd.get(io.vitrim.reduce.Cropr.queriesKey(0));
        if (q != null && q.shape().length == 3 && q.shape()[1] != h * w) {
            throw new VitrimException("the model's " + io.vitrim.reduce.Cropr.queriesKey(0) + " has " + q.shape()[1] + " queries, but the auxiliary grid "
                    + h + "x" + w + (spec == null ? " (the patch grid)" : "") + " needs " + h * w + " (one per cell); give --aux-grid to match");
        }
        return new int[] {h, w};
    }

    /** --lr-group entries, then the modules' own rate (first match wins, so an explicit group overrides it). */
    private static List<String> groups(FinetuneCommand o) {
        if (!(o.moduleLr > 0)) throw new VitrimException("--module-lr must be > 0");
        List<String> g = new java.util.ArrayList<>(o.lrGroups);
        g.add("cropr.*=" + o.moduleLr);
        return g;
    }

    static int resume(FinetuneCommand o, PrintWriter err) throws Exception {
        Path ckPath = o.out.resolve(Trainer.CHECKPOINT);
        if (!Files.exists(ckPath)) throw VitrimException.of(o.out, "has no checkpoint to resume");
        Map<String, String> meta = Trainer.storedMetadata(o.out);
        if (!meta.containsKey("method_training")) throw VitrimException.of(ckPath, "is not a vitrim finetune --method cropr run");
        TrainConfig cfg = Trainer.configFrom(meta);
        Json.Obj c = new Json.Obj(Json.parseObject(meta.get("method_training")), "method_training").obj("cropr_cfg");
        int[] aux = new int[2];
        if (c.has("aux_grid")) {
            List<?> g = c.list("aux_grid");
            aux = new int[] {((Number) g.get(0)).intValue(), ((Number) g.get(1)).intValue()};
        }
        CroprFinetune method = new CroprFinetune(c.intValue("pruning_rate", 0), c.bool("llf", false), c.bool("curriculum", false), cfg.epochs(),
                aux[0], aux[1]);
        ModelLoader.Checkpoint ck = ModelLoader.read(o.out, null);
        Path data = o.data != null ? o.data : Path.of(meta.get("train_data"));
        Path eval = o.evalData != null ? o.evalData : meta.containsKey("eval_data") ? Path.of(meta.get("eval_data")) : null;
        int n = o.threads.get();
        if (ck.segmentation() != null) {
            Trainer t = SegmentationTraining.trainer(err, ck.config(), ck.preprocess(), null, cfg, ck.segmentation(), ck.labels(),
                    SegmentationTraining.storedSettings(meta, ckPath), null, data, eval, o.limit, 0, o.out, n, method);
            return run(err, o.spec.commandLine().getOut(), t, cfg, method, o.out);
        }
        err.println("loading " + data + " ...");
        err.flush();
        TrainingData d = TrainingData.load(data, o.limit, eval, 0, cfg.holdout(), cfg.seed(), ck.preprocess(), n);
        Trainer t = new Trainer(ck.config(), ck.preprocess(), cfg, null, List.of(LossTerm.CROSS_ENTROPY), d.train(), d.eval(), o.out, n)
                .method(method);
        return run(err, o.spec.commandLine().getOut(), t, cfg, method, o.out);
    }

    private static int run(PrintWriter err, PrintWriter stdout, Trainer t, TrainConfig cfg, CroprFinetune method, Path out) throws Exception {
        TrainProgress progress = TrainProgress.withCurves(err, t, cfg.epochs(), cfg.batch(), out);
        long start = System.nanoTime();
        t.run(progress);
        progress.done();
        Map<String, Object> summary = new java.util.LinkedHashMap<>(t.history().get(t.history().size() - 1));
        summary.put("model", out.toString());
        summary.put("spec", method.evalSpec());
        summary.put("seconds", (System.nanoTime() - start) / 1e9);
        stdout.println(Json.write(summary));
        stdout.flush();
        return 0;
    }
}
