package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.data.LabelledImages;
import io.vitrim.io.Json;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.StateDict;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Methods;
import io.vitrim.train.CroprFinetune;
import io.vitrim.train.LossTerm;
import io.vitrim.train.ParamGroups;
import io.vitrim.train.TrainConfig;
import io.vitrim.train.Trainer;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code vitrim finetune --method cropr}: a {@link Trainer} run with {@link CroprFinetune}. */
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
        CroprFinetune method;
        TrainConfig cfg;
        try {
            method = new CroprFinetune(o.rate, o.llf, o.curriculum, o.epochs);
            cfg = new TrainConfig(o.epochs, o.batch, o.lr, o.minLr, o.warmup, o.weightDecay, 1.0, 0.1, 4, true, o.trainSeed, false,
                    method.evalSpec(), o.model.describe(), new ParamGroups(List.of(), groups(o), o.layerDecay), o.dropPath, 0, 0, o.holdout);
        } catch (IllegalArgumentException e) {
            throw new VitrimException("invalid options: " + e.getMessage());
        }
        int n = o.threads.get();
        ViTConfig model;
        PreprocessConfig pre;
        List<String> labels;
        StateDict sd;
        try (VisionTransformer m = o.model.loadClassifier(n, null)) {
            VisionTransformer.checkTrainable(m.config(), o.model.describe());
            // the schedule fits the model before any data is read (the same check as --reduce)
            Methods.parse(method.evalSpec() + ",scorer=random", m.config());
            model = m.config();
            pre = m.preprocess();
            labels = m.labels();
            sd = m.stateDict();
        }
        if (pre == null) throw VitrimException.of(o.model.describe(), "has no preprocessing config (pretrained_cfg mean/std)");
        int added = CroprFinetune.addMissingModules(sd, model, o.llf, o.trainSeed);
        err.println("loading " + o.data + " ...");
        err.flush();
        TrainingData d = TrainingData.load(o.data, o.limit, o.evalData, 0, o.holdout, o.trainSeed, pre, n);
        if (labels != null && !labels.equals(d.train().classes())) {
            throw VitrimException.of(o.data, "classes " + d.train().classes() + " differ from the model's labels " + labels);
        }
        err.printf(Locale.ROOT, "cropr for %s: rate %d, llf %s%s, %d module(s) (%d new); %d images%s, %d epoch(s), lr %.2g, layer decay %.2f; %d threads%n",
                o.model.describe(), o.rate, o.llf, o.curriculum ? ", curriculum" : "", io.vitrim.reduce.Cropr.modules(model.depth(), o.llf), added,
                d.train().size(), d.eval() == null ? "" : ", eval " + d.eval().size(), o.epochs, o.lr, o.layerDecay, n);
        return run(err, o.spec.commandLine().getOut(), model, pre, cfg, sd, method, d, o.out, n);
    }

    /** --lr-group entries, then the modules' own rate (first match wins, so an explicit group overrides it). */
    private static List<String> groups(FinetuneCommand o) {
        if (!(o.moduleLr > 0)) throw new VitrimException("--module-lr must be > 0");
        List<String> g = new java.util.ArrayList<>(o.lrGroups);
        g.add("cropr.*=" + o.moduleLr);
        return g;
    }

    static int resume(FinetuneCommand o, PrintWriter err) throws Exception {
        if (!Files.exists(o.out.resolve(Trainer.CHECKPOINT))) throw VitrimException.of(o.out, "has no checkpoint to resume");
        Map<String, String> meta = Trainer.storedMetadata(o.out);
        if (!meta.containsKey("method_training")) throw VitrimException.of(o.out.resolve(Trainer.CHECKPOINT), "is not a vitrim finetune --method cropr run");
        TrainConfig cfg = Trainer.configFrom(meta);
        Json.Obj c = new Json.Obj(Json.parseObject(meta.get("method_training")), "method_training").obj("cropr_cfg");
        CroprFinetune method = new CroprFinetune(c.intValue("pruning_rate", 0), c.bool("llf", false), c.bool("curriculum", false), cfg.epochs());
        ModelLoader.Checkpoint ck = ModelLoader.read(o.out, null);
        Path data = o.data != null ? o.data : Path.of(meta.get("train_data"));
        Path eval = o.evalData != null ? o.evalData : meta.containsKey("eval_data") ? Path.of(meta.get("eval_data")) : null;
        int n = o.threads.get();
        err.println("loading " + data + " ...");
        err.flush();
        TrainingData d = TrainingData.load(data, o.limit, eval, 0, cfg.holdout(), cfg.seed(), ck.preprocess(), n);
        return run(err, o.spec.commandLine().getOut(), ck.config(), ck.preprocess(), cfg, null, method, d, o.out, n);
    }

    private static int run(PrintWriter err, PrintWriter stdout, ViTConfig model, PreprocessConfig pre, TrainConfig cfg, StateDict init,
                           CroprFinetune method, TrainingData d, Path out, int n) throws Exception {
        LabelledImages train = d.train(), eval = d.eval();
        Trainer t = new Trainer(model, pre, cfg, init, List.of(LossTerm.CROSS_ENTROPY), train, eval, out, n).method(method);
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
