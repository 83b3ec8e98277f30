package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.data.LabelledImages;
import io.vitrim.io.AtomicFiles;
import io.vitrim.io.Json;
import io.vitrim.io.SideWeights;
import io.vitrim.model.VisionTransformer;
import io.vitrim.train.LtmpFinetune;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "finetune", sortOptions = false, mixinStandardHelpOptions = true,
        header = "Learn LTMP thresholds, or fine-tune a model with Token Cropr.",
        description = {"--method ltmp learns LTMP's 2 thresholds per block (merge, prune) on a frozen model for a MAC-ratio "
                + "target, as the reference does: its masked training model, cross-entropy + lambda*(r - target)^2, SGD "
                + "without momentum, one learning rate per threshold kind, thresholds clamped to [0, 1]. Writes "
                + "--out/thresholds.safetensors (the threshold keys only, so one base model keeps several targets) and "
                + "metrics.jsonl; use them with --reduce ltmp:file=DIR/thresholds.safetensors.",
            "--method cropr fine-tunes the model end to end with Token Cropr inside the training graph: after each block "
                + "but the last (with --llf the last two: the pruned tokens rejoin for the last block) a module prunes --rate tokens chosen by a learned query, its auxiliary aggregator and head learn from "
                + "their own loss on detached tokens (summed with the main loss), the backbone from the main loss (AdamW, "
                + "layer-wise lr decay, warm-up + cosine, label smoothing, no drop path on the last block). --out becomes "
                + "a model folder (config.json with cropr_cfg, model.safetensors with the cropr.* keys) that classify, "
                + "eval and bench run with --reduce cropr; a checkpoint after every epoch, --resume continues.",
            "On a segmentation model (from vitrim train on a segmentation set) and a segmentation set, --method cropr "
                + "trains the paper's segmentation variant: one query per cell of an auxiliary grid (--aux-grid), each "
                + "module's auxiliary loss against the labels nearest-downsampled to that grid, mIoU with and without "
                + "pruning after every epoch; --llf and --curriculum as the reference runs it."},
        footer = {"", "Examples:",
            "  vitrim finetune --method ltmp --data train.zip --target 0.75 --out ltmp-075",
            "  vitrim eval --data test.zip --reduce ltmp:file=ltmp-075/thresholds.safetensors",
            "  vitrim finetune --method ltmp --model deit-s --data train.zip --holdout 1000 \\",
            "      --target 0.5 --tau 0.1 --out ltmp-050",
            "  vitrim finetune --method cropr --rate 5 --data train.zip --holdout 5000 \\",
            "      --out cropr-5",
            "  vitrim eval --model cropr-5 --data test.zip --reduce cropr",
            "  vitrim finetune --method cropr --resume --out cropr-5",
            "  vitrim finetune --method cropr --rate 5 --randaugment 2,9 --data train.zip \\",
            "      --holdout 5000 --out cropr-5-ra",
            "  vitrim finetune --method cropr --model models/camvid-vit9 --rate 104 \\",
            "      --llf --curriculum --data camvid/train.zip --eval-data camvid/val.zip \\",
            "      --epochs 16 --batch 16 --out camvid-cropr",
            "  vitrim eval --model camvid-cropr --data camvid/test.zip --reduce cropr"})
final class FinetuneCommand implements Callable<Integer> {
    @Option(names = "--method", paramLabel = "NAME", description = "The method to train: ltmp or cropr.")
    String method;

    @Mixin
    ModelOptions model;

    @Mixin
    ThreadOption threads;

    @Option(names = "--data", paramLabel = "ZIP|DIR",
            description = "Training images, <class>/<image> layout; for a segmentation model images/<id> + labels/<id>.png.")
    Path data;

    @Option(names = "--eval-data", paramLabel = "ZIP|DIR", description = "Images evaluated after every epoch (top-1, or mIoU for a segmentation model, and the measured MAC ratio).")
    Path evalData;

    @Option(names = "--holdout", paramLabel = "N", defaultValue = "0", description = "Hold out N training images (seeded) as the evaluation set instead of --eval-data.")
    int holdout;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "DIR", description = "Output folder (ltmp: thresholds.safetensors; cropr: a model folder).")
    Path out;

    @Option(names = "--rate", paramLabel = "R", description = "cropr: tokens pruned by each module (the first prunes R + 1).")
    Integer rate;

    @Option(names = "--llf", description = "cropr: last-layer fusion (pruned tokens rejoin before the last block; modules after blocks 0..L-3).")
    boolean llf;

    @Option(names = "--curriculum", description = "cropr: the reference's pruning-rate curriculum (rate rises from 0 over the first half of the epochs).")
    boolean curriculum;

    @Option(names = "--lr", defaultValue = "1e-4", description = "cropr: peak AdamW learning rate of the backbone (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--module-lr", defaultValue = "2e-3",
            description = "cropr: peak learning rate of the Cropr modules (queries, aggregators, heads: new, so faster) (default: ${DEFAULT-VALUE}).")
    double moduleLr;

    @Option(names = "--min-lr", defaultValue = "1e-6", description = "cropr: final learning rate of the cosine (default: ${DEFAULT-VALUE}).")
    double minLr;

    @Option(names = "--warmup", paramLabel = "EPOCHS", defaultValue = "0.1", description = "cropr: linear warm-up epochs (default: ${DEFAULT-VALUE}).")
    double warmup;

    @Option(names = "--weight-decay", defaultValue = "0.05", description = "cropr: AdamW weight decay (default: ${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--layer-decay", paramLabel = "F",
            description = "cropr: layer-wise lr decay, BEiT's (default: the reference's, 0.75 for a classifier, 0.9 for segmentation; "
                    + "Cropr modules and head get the full lr).")
    Double layerDecay;

    @Option(names = "--aux-grid", paramLabel = "HxW",
            description = "cropr, segmentation: the auxiliary grid, one query per cell; its loss is against the labels "
                    + "nearest-downsampled to it (default: the model's patch grid, as the reference).")
    String auxGrid;

    @Option(names = "--scale", paramLabel = "MIN,MAX",
            description = "cropr, segmentation: random scale range of a sample, relative to the input size (default: 0.5,2.0).")
    String scale;

    @Option(names = "--class-weights", paramLabel = "none|balanced|W,...",
            description = "cropr, segmentation: loss weights per class, for the main and the auxiliary losses (default: none).")
    String classWeights;

    @Option(names = "--lr-group", paramLabel = "GLOB=LR", description = "cropr: peak learning rate for matching parameters, e.g. 'cropr.*=1e-3' (repeatable).")
    java.util.List<String> lrGroups = new java.util.ArrayList<>();

    @Option(names = "--drop-path", paramLabel = "P", defaultValue = "0", description = "cropr: stochastic depth, linear to P (none on the last block) (default: ${DEFAULT-VALUE}).")
    double dropPath;

    @Mixin
    AugmentOptions augment; // cropr on a classifier

    @Option(names = "--resume", description = "cropr: continue the run whose checkpoint is in --out (same settings).")
    boolean resume;

    @Option(names = "--target", defaultValue = "0.75", description = "MAC ratio to reach, in (0, 1] (default: ${DEFAULT-VALUE}).")
    double target;

    @Option(names = "--tau", defaultValue = "0.5", description = "Gate temperature (default: ${DEFAULT-VALUE}, the reference's training script; its model default is 0.1).")
    float tau;

    @Option(names = "--lambda", defaultValue = "10", description = "Weight of the target term (default: ${DEFAULT-VALUE}).")
    double lambda;

    @Option(names = "--lr-prune", defaultValue = "5e-6", description = "SGD learning rate of the prune thresholds (default: ${DEFAULT-VALUE}).")
    double lrPrune;

    @Option(names = "--lr-merge", defaultValue = "5e-3", description = "SGD learning rate of the merge thresholds (default: ${DEFAULT-VALUE}).")
    double lrMerge;

    @Option(names = "--epochs", defaultValue = "1", description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch", defaultValue = "128", description = "Images per step (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "0", description = "Use an evenly spread subset of N training images (0 = all).")
    int limit;

    @Option(names = "--train-seed", paramLabel = "N", defaultValue = "0", description = "Seed of data order, augmentation and holdout (default: ${DEFAULT-VALUE}).")
    long trainSeed;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr(), stdout = spec.commandLine().getOut();
        if (resume) return CroprRun.resume(this, err);
        if (method == null) throw new VitrimException("--method is required: ltmp or cropr");
        if (data == null) throw new VitrimException("--data is required (a zip or folder of <class>/<image>)");
        if (method.equals("cropr")) return CroprRun.start(this, err);
        if (!method.equals("ltmp")) throw new VitrimException("--method " + method + ": not a learned method; valid: ltmp, cropr");
        if (rate != null || llf || curriculum || auxGrid != null || scale != null || classWeights != null || augment.randAugment != null
                || augment.any()) {
            throw new VitrimException("--rate, --llf, --curriculum, --aux-grid, --scale, --class-weights, " + AugmentOptions.NAMES
                    + " are cropr options; this is --method ltmp");
        }
        TrainingData.checkChoice(holdout, evalData);
        if (holdout < 0 || limit < 0) throw new VitrimException("--holdout and --limit must be >= 0");
        LtmpFinetune.Config cfg;
        try {
            cfg = new LtmpFinetune.Config(target, tau, lambda, lrPrune, lrMerge, epochs, batch, trainSeed, 4, true, 0.1, 0.9f, 0f);
        } catch (IllegalArgumentException e) {
            throw new VitrimException("invalid options: " + e.getMessage());
        }
        Path file = out.resolve("thresholds.safetensors");
        if (Files.exists(file)) throw VitrimException.of(out, "already holds thresholds.safetensors; choose another --out");
        int n = threads.get();
        try (VisionTransformer m = model.loadClassifier(n)) {
            VisionTransformer.checkTrainable(m.config(), model.describe());
            err.println("loading " + data + " ...");
            err.flush();
            TrainingData d = TrainingData.load(data, limit, evalData, 0, holdout, trainSeed, m.preprocess(), n);
            LabelledImages train = d.train(), eval = d.eval();
            if (m.labels() != null && !m.labels().equals(train.classes())) {
                throw VitrimException.of(data, "classes " + train.classes() + " differ from the model's labels " + m.labels());
            }
            if (train.size() < batch) throw VitrimException.of(data, train.size() + " images, fewer than one batch of " + batch);
            err.printf(Locale.ROOT, "ltmp thresholds for %s: %d images, target %.3f, tau %.3g, lambda %.3g, lr prune %.2g / merge %.2g, %d epoch(s); %d threads%n",
                    model.describe(), train.size(), target, tau, lambda, lrPrune, lrMerge, epochs, n);
            SpeedNote.print(err, "vitrim finetune");
            LtmpFinetune ft = new LtmpFinetune(m, cfg);
            long start = System.nanoTime();
            ft.run(train, eval, new LtmpFinetune.Listener() {
                int last = -1;

                @Override
                public void step(int epoch, int step, int steps, double loss, double ratio, double ips) {
                    int pct = (int) (20L * step / steps);
                    if (pct == last) return;
                    last = pct;
                    double eta = ((double) (epochs - epoch - 1) * steps + (steps - step)) * batch / Math.max(ips, 1e-9);
                    err.printf(Locale.ROOT, "epoch %d/%d %d/%d loss %.4f masked MAC ratio %.3f %.0f img/s ETA %s%n",
                            epoch + 1, epochs, step, steps, loss, ratio, ips, TrainProgress.duration(eta));
                    err.flush();
                }

                @Override
                public void epoch(Map<String, Object> metrics) {
                    last = -1;
                    err.println("epoch done: " + Json.write(metrics));
                    err.flush();
                }
            });
            Map<String, float[]> w = new LinkedHashMap<>();
            float[] mt = ft.mergeThresholds(), pt = ft.pruneThresholds();
            for (int i = 0; i < mt.length; i++) {
                w.put("blocks." + i + ".merge_masker.threshold", new float[] {mt[i]});
                w.put("blocks." + i + ".prune_masker.threshold", new float[] {pt[i]});
            }
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("method", "ltmp");
            meta.put("base_model", model.describe());
            meta.put("base_fingerprint", model.fingerprint());
            meta.put("target", String.valueOf(target));
            meta.put("tau", String.valueOf(tau));
            meta.put("epochs", String.valueOf(epochs));
            meta.put("train_images", String.valueOf(train.size()));
            meta.put("history", Json.write(ft.history()));
            Files.createDirectories(out);
            StringBuilder jsonl = new StringBuilder();
            for (Map<String, Object> h : ft.history()) jsonl.append(Json.write(h)).append('\n');
            AtomicFiles.writeString(out.resolve("metrics.jsonl"), jsonl.toString());
            SideWeights.write(file, w, meta);
            Map<String, Object> summary = new LinkedHashMap<>(ft.history().get(ft.history().size() - 1));
            summary.put("thresholds", file.toString());
            summary.put("spec", "ltmp:file=" + file);
            summary.put("seconds", (System.nanoTime() - start) / 1e9);
            stdout.println(Json.write(summary));
            stdout.flush();
        }
        return 0;
    }
}
