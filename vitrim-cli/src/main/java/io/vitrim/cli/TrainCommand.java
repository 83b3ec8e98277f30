package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.data.LabelledImages;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.Architectures;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Methods;
import io.vitrim.train.ParamGroups;
import io.vitrim.train.TrainConfig;
import io.vitrim.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "train", sortOptions = false, mixinStandardHelpOptions = true,
        header = "Train or fine-tune a ViT, optionally with token reduction.",
        description = {"Train a ViT on a labelled image set (<class>/<image> in a zip or folder), from scratch or from a model folder (--init), optionally with token reduction inside the training graph (--reduce) and with sharpness-aware minimisation (--optimizer sam). Writes a timm-style model folder (config.json and model.safetensors), metrics.csv, metrics.jsonl and a checkpoint after every epoch, all atomically; --resume continues bit for bit.",
            "",
            "Segmentation: data laid out as images/<id>.jpg + labels/<id>.png (CamVid's zips) trains a segmentation model — Segmenter's linear decoder on every patch token, per-pixel cross-entropy with the ignore label left out, random scale/crop/flip — from scratch or from a classifier folder (--init: its head dropped, its position embedding resampled to --img-size). mIoU and pixel accuracy on --eval-data after every epoch."},
        footer = {"", "Examples:",
            "  vitrim train --data train.zip --eval-data test.zip --img-size 32 \\",
            "      --patch-size 4 --embed-dim 192 --depth 7 --heads 3 --epochs 30 \\",
            "      --out models/cifar",
            "  vitrim train --resume --out models/cifar",
            "  vitrim train --init models/cifar10-vit9-c2 --reduce tome:r=4 \\",
            "      --data train.zip --epochs 1 --lr 1e-4 --warmup 0 --out /tmp/tome-ft",
            "  vitrim train --init models/cifar10-vit9-c2 --optimizer sam --rho 0.05 \\",
            "      --data train.zip --epochs 2 --lr 1e-4 --warmup 0.1 --out /tmp/sam-ft",
            "  vitrim train --data train.zip --holdout 5000 --img-size 32 --patch-size 4 \\",
            "      --depth 9 --mlp-ratio 2 --randaugment 2,9 --mixup 0.8 --cutmix 1.0 \\",
            "      --random-erase 0.25 --drop-path 0.1 --epochs 100 --out ~/runs/cifar",
            "  vitrim train --init models/cifar10-vit9-c2 --trainable 'head.*' \\",
            "      --data train.zip --epochs 2 --out /tmp/head-only",
            "  vitrim train --data photos/ --limit 500 --epochs 2 --img-size 64 \\",
            "      --patch-size 8 --out /tmp/try",
            "  vitrim train --data camvid/train.zip --eval-data camvid/val.zip \\",
            "      --labels camvid --init models/cifar10-vit9 --img-size 96x128 \\",
            "      --batch 16 --epochs 120 --warmup 5 --out /tmp/camvid"})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--data", paramLabel = "ZIP|DIR", description = "Training images, <class>/<image> layout.")
    Path data;

    @Option(names = "--eval-data", paramLabel = "ZIP|DIR", description = "Images evaluated after every epoch, or as --eval-every says (top-1 in the metrics).")
    Path evalData;

    @Option(names = {"-o", "--out"}, paramLabel = "DIR", required = true, description = "Output model folder.")
    Path out;

    @Option(names = "--resume", description = "Continue the run whose checkpoint is in --out (same settings).")
    boolean resume;

    @Option(names = "--init", paramLabel = "DIR", description = "Start from this model folder's weights (fine-tuning); its shapes, classes and preprocessing are kept.")
    Path init;

    @Option(names = "--reduce", paramLabel = "SPEC", defaultValue = "none", completionCandidates = ReduceCandidates.class,
            description = "Token reduction inside the training graph, e.g. tome:r=4 (default: ${DEFAULT-VALUE}; see vitrim info --methods).")
    String reduce;

    @Option(names = "--optimizer", paramLabel = "NAME", defaultValue = "adamw",
            description = "adamw, or sam: sharpness-aware minimisation around AdamW (Foret et al.) - the gradient at w + e, "
                    + "e = rho g/|g|; it costs two forward/backward passes per step, about half AdamW's images/s (default: ${DEFAULT-VALUE}).")
    String optimizer;

    @Option(names = "--rho", paramLabel = "R", description = "SAM's ascent radius (default: 0.05; 0.5 with --asam).")
    Double rho;

    @Option(names = "--asam", description = "Adaptive SAM (Kwon et al.): the ascent scaled element-wise by |w| + eta on weights.")
    boolean asam;

    @Option(names = "--asam-eta", paramLabel = "ETA", description = "ASAM's eta (default: 0.01).")
    Double asamEta;

    @Option(names = "--sam-skip-1d", description = "No SAM ascent on norms and biases (default: every trained parameter).")
    boolean samSkip1d;

    @Option(names = "--trainable", paramLabel = "GLOB", split = ",",
            description = "Train only the parameters matching these globs (checkpoint names, * = anything), freeze the rest.")
    java.util.List<String> trainable = new java.util.ArrayList<>();

    @Option(names = "--lr-group", paramLabel = "GLOB=LR", description = "Peak learning rate for matching parameters (repeatable; first match wins).")
    java.util.List<String> lrGroups = new java.util.ArrayList<>();

    @Option(names = "--layer-decay", paramLabel = "F", defaultValue = "1",
            description = "Layer-wise lr decay: block i gets F^(depth - i), embeddings F^(depth + 1) (default: ${DEFAULT-VALUE} = off).")
    double layerDecay;

    @Option(names = "--arch", paramLabel = "NAME", defaultValue = "vit_tiny_patch16_224", description = "Base architecture (default: ${DEFAULT-VALUE}).")
    String arch;

    @Option(names = "--img-size", paramLabel = "N|HxW", description = "Input size override (HxW for a non-square input, e.g. 96x128).")
    String imgSizeSpec;

    private Integer imgSize, imgWidth; // --img-size parsed: height, width

    @Option(names = "--patch-size", paramLabel = "N", description = "Patch size override.")
    Integer patchSize;

    @Option(names = "--embed-dim", paramLabel = "N", description = "Embedding width override.")
    Integer embedDim;

    @Option(names = "--depth", paramLabel = "N", description = "Number of blocks override.")
    Integer depth;

    @Option(names = "--heads", paramLabel = "N", description = "Attention heads override.")
    Integer heads;

    @Option(names = "--mlp-ratio", paramLabel = "R", description = "MLP width / embedding width (default: 4).")
    Double mlpRatio;

    @Option(names = "--pool", description = "Pooling for the head: token (class token) or avg (mean of patch tokens + fc_norm) (default: token).")
    String pool;

    @Option(names = "--epochs", defaultValue = "30", description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch", defaultValue = "128", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--min-lr", defaultValue = "1e-5", description = "Final learning rate of the cosine (default: ${DEFAULT-VALUE}).")
    double minLr;

    @Option(names = "--warmup", paramLabel = "EPOCHS", defaultValue = "3", description = "Linear warm-up epochs (default: ${DEFAULT-VALUE}).")
    double warmup;

    @Option(names = "--weight-decay", defaultValue = "0.05", description = "AdamW weight decay (default: ${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--clip", defaultValue = "1.0", description = "Gradient-norm clip, 0 = off (default: ${DEFAULT-VALUE}).")
    double clip;

    @Option(names = "--label-smoothing", defaultValue = "0.1", description = "Label smoothing (default: ${DEFAULT-VALUE}).")
    double labelSmoothing;

    @Option(names = "--crop-pad", defaultValue = "4", description = "Random-crop padding in pixels, 0 = off (default: ${DEFAULT-VALUE}).")
    int cropPad;

    @Option(names = "--no-flip", description = "No random horizontal flips.")
    boolean noFlip;

    @Option(names = "--sincos-pos", description = "Initialise the (learned) position embedding with 2-D sine-cosine values.")
    boolean sinCosPos;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of initialisation, order and augmentation (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--drop-path", paramLabel = "P", defaultValue = "0",
            description = "Stochastic depth: drop rate of the last block, linear from 0 (default: ${DEFAULT-VALUE}).")
    double dropPath;

    @Mixin
    AugmentOptions augment;

    @Option(names = "--holdout", paramLabel = "N", defaultValue = "0",
            description = "Hold out N training images (seeded) as the validation set evaluated after every epoch (or as --eval-every says), instead of --eval-data.")
    int holdout;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "0", description = "Use an evenly spread subset of N training images (0 = all).")
    int limit;

    @Option(names = "--eval-limit", paramLabel = "N", defaultValue = "0", description = "Evaluate on an evenly spread subset of N images (0 = all).")
    int evalLimit;

    @Option(names = "--eval-every", paramLabel = "N",
            description = "Evaluate after every N-th epoch and after the last (default: 1, or what the run used when resumed); may change with --resume, since the training does not depend on it.")
    Integer evalEvery;

    @Option(names = "--ema", paramLabel = "DECAY",
            description = "Also keep an exponential moving average of the weights (e.g. 0.9998 per step), evaluated beside the model and written to OUT/ema as a model folder; may start with --resume (from the current weights) and is then kept.")
    Double emaDecay;

    @Option(names = "--task", defaultValue = "auto",
            description = "classification, segmentation, or auto: segmentation when --data holds images/ and labels/ (default: ${DEFAULT-VALUE}).")
    String task;

    @Option(names = "--labels", paramLabel = "camvid|NAMES",
            description = "Segmentation classes: 'camvid' (11 classes, ignore 11, SegNet colours) or names in label-value order, comma-separated.")
    String labels;

    @Option(names = "--ignore-index", paramLabel = "N", description = "Segmentation label left out of the loss and mIoU (default: 11 for camvid, else 255).")
    Integer ignoreIndex;

    @Option(names = "--scale", paramLabel = "MIN,MAX", defaultValue = "0.5,2.0",
            description = "Segmentation: random scale range of a sample, relative to the input size (default: ${DEFAULT-VALUE}).")
    String scale;

    @Option(names = "--class-weights", paramLabel = "none|balanced|W,...", defaultValue = "none",
            description = "Segmentation loss weights: none, balanced (1/ln(1.02 + class share), mean 1) or one per class (default: ${DEFAULT-VALUE}).")
    String classWeights;

    @Option(names = "--restore", paramLabel = "output|llf", defaultValue = "output",
            description = "Segmentation with --reduce: pruned tokens come back after the last block (output) or before it (llf) (default: ${DEFAULT-VALUE}).")
    String restore;

    @Mixin
    ThreadOption threads;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        int nThreads = threads.get();
        ViTConfig model;
        TrainConfig cfg;
        parseImgSize();
        if (evalEvery != null && evalEvery < 1) throw new VitrimException("--eval-every expects a number of epochs >= 1, got " + evalEvery);
        if (emaDecay != null && !(emaDecay > 0 && emaDecay < 1)) throw new VitrimException("--ema expects a decay between 0 and 1 (e.g. 0.9998), got " + emaDecay);
        if (resume) {
            Map<String, String> meta = Trainer.storedMetadata(out);
            cfg = Trainer.configFrom(meta);
            // the shapes and preprocessing from config.json beside the checkpoint: model.safetensors is not needed
            ModelLoader.Checkpoint cp = ModelLoader.read(out.resolve(Trainer.CHECKPOINT), null);
            model = cp.config();
            if (data == null) data = Path.of(meta.get("train_data"));
            if (evalData == null && meta.containsKey("eval_data")) evalData = Path.of(meta.get("eval_data"));
            if (cp.segmentation() != null) {
                return SegmentationTraining.run(err, model, cp.preprocess(), null, cfg, cp.segmentation(), cp.labels(),
                        SegmentationTraining.storedSettings(meta, out.resolve(Trainer.CHECKPOINT)), null, data, evalData, limit, evalLimit, this::runOptions, out, nThreads);
            }
            return run(err, model, cp.preprocess(), cfg, nThreads);
        }
        if (data == null) throw new VitrimException("--data is required (a zip or folder of <class>/<image>)");
        if (Files.exists(out.resolve(Trainer.CHECKPOINT))) {
            throw VitrimException.of(out, "already holds a training run; use --resume to continue it or another --out");
        }
        if (epochs < 1 || batch < 1 || lr <= 0 || warmup < 0 || minLr < 0 || labelSmoothing < 0 || labelSmoothing >= 1 || cropPad < 0) {
            throw new VitrimException("invalid training options: need epochs >= 1, batch >= 1, lr > 0, warmup >= 0, 0 <= label smoothing < 1");
        }
        ParamGroups groups = new ParamGroups(trainable, lrGroups, layerDecay);
        int[] ra = augment.randAugmentOps();
        boolean segmentation = switch (task.toLowerCase(Locale.ROOT)) {
            case "segmentation" -> true;
            case "classification" -> false;
            case "auto" -> SegmentationTraining.looksLikeSegmentation(data);
            default -> throw new VitrimException("--task expects classification, segmentation or auto, got '" + task + "'");
        };
        if (segmentation && (holdout > 0 || augment.any())) {
            throw new VitrimException("segmentation training takes its validation set from --eval-data (no --holdout) and has no " + AugmentOptions.NAMES);
        }
        TrainingData.checkChoice(holdout, evalData);
        try {
            cfg = new TrainConfig(epochs, batch, lr, minLr, warmup, weightDecay, clip, labelSmoothing, cropPad, !noFlip, seed, sinCosPos,
                    reduce, init == null ? null : init.toString(), groups, dropPath, ra[0], ra[1], holdout, samConfig());
            cfg = augment.applyTo(cfg);
        } catch (IllegalArgumentException e) {
            throw new VitrimException("invalid training options: " + e.getMessage());
        }
        if (segmentation) return segmentation(err, cfg, nThreads);
        if (init != null) {
            ModelLoader.Checkpoint cp = ModelLoader.read(init, null);
            model = cp.config();
            checkFits(model);
            if (cp.preprocess() == null) throw VitrimException.of(init, "has no preprocessing config (pretrained_cfg mean/std)");
            initial = cp;
            VisionTransformer.checkTrainable(model, init);
            checkSpecAndGroups(model, cp.weights().tensors().keySet(),
                    io.vitrim.model.WeightBinder.bind(model, cp.weights(), java.util.Map.of(), init).methodValues());
            return run(err, model, cp.preprocess(), cfg, nThreads);
        }
        ViTConfig base = Architectures.get(arch).config();
        // the new model would be a plain ViT under an EVA name, which would not load back as one
        checkPlainArch(base);
        ViTConfig.Pool headPool = ViTConfig.Pool.parse(pool == null ? "token" : pool, "--pool"); // avg pooling comes with fc_norm, as in timm
        if (imgWidth != null && !imgWidth.equals(imgSize)) throw new VitrimException("--img-size " + imgSizeSpec + ": a classifier trains on square images (one number)");
        int img = imgSize != null ? imgSize : base.imgHeight();
        int dim = embedDim != null ? embedDim : base.embedDim();
        model = new ViTConfig(base.architecture(), img, img, patchSize != null ? patchSize : base.patchSize(), 3, dim,
                depth != null ? depth : base.depth(), heads != null ? heads : base.numHeads(),
                (int) Math.round(dim * (mlpRatio == null ? 4.0 : mlpRatio)),
                base.qkvBias(), true, false, headPool, headPool == ViTConfig.Pool.AVG, 1, base.normEps()); // classes: from the data
        model.validate("--arch " + arch);
        checkSpecAndGroups(model, io.vitrim.model.WeightBinder.vitKeys(model.withNumClasses(2)).keySet(), java.util.Map.of());
        PreprocessConfig pre = new PreprocessConfig(img, img, 1.0, PreprocessConfig.Interpolation.BICUBIC,
                PreprocessConfig.Resize.SHORTER_SIDE, PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD);
        return run(err, model, pre, cfg, nThreads);
    }

    private ModelLoader.Checkpoint initial;

    /** SAM's settings from --optimizer, --rho, --asam, --asam-eta and --sam-skip-1d (null: plain AdamW). */
    private io.vitrim.train.SamConfig samConfig() {
        switch (optimizer) {
            case "adamw" -> {
                String stray = rho != null ? "--rho" : asam ? "--asam" : asamEta != null ? "--asam-eta" : samSkip1d ? "--sam-skip-1d" : null;
                if (stray != null) throw new VitrimException(stray + " applies to --optimizer sam only");
                return null;
            }
            case "sam" -> {
                if (asamEta != null && !asam) throw new VitrimException("--asam-eta applies to --asam only");
                double r = rho != null ? rho : asam ? io.vitrim.train.SamConfig.ASAM_RHO : io.vitrim.train.SamConfig.RHO;
                return new io.vitrim.train.SamConfig(r, asam, asamEta != null ? asamEta : io.vitrim.train.SamConfig.ETA, samSkip1d);
            }
            default -> throw new VitrimException("--optimizer " + optimizer + ": unknown (adamw or sam)");
        }
    }

    /**
     * A new model is a plain ViT/DeiT with the named architecture's widths: an encoder name
     * (EVA02, DINOv2's registers and LayerScale, CLIP's norm_pre, SigLIP's attention pool, a
     * distilled DeiT) would be saved under a name whose layout it lacks, and would not load back.
     */
    private void checkPlainArch(ViTConfig base) {
        if (base.eva() != null || !base.plain() || base.globalPool() == ViTConfig.Pool.MAP || base.distToken()) {
            throw new VitrimException("--arch " + arch + ": an encoder architecture (inference only) — training from scratch builds a plain "
                    + "ViT/DeiT; pick one such as vit_tiny_patch16_224 and set the widths with --embed-dim/--depth/--heads");
        }
    }

    private void parseImgSize() {
        if (imgSizeSpec == null) return;
        String[] p = imgSizeSpec.toLowerCase(Locale.ROOT).split("x");
        try {
            if (p.length == 1 || p.length == 2) {
                imgSize = Integer.parseInt(p[0].trim());
                imgWidth = p.length == 2 ? Integer.parseInt(p[1].trim()) : imgSize;
                if (imgSize > 0 && imgWidth > 0) return;
            }
        } catch (NumberFormatException e) {
            // the message below
        }
        throw new VitrimException("--img-size expects N or HxW (e.g. 32 or 96x128), got '" + imgSizeSpec + "'");
    }

    /** A new segmentation run: from a classifier folder (--init) or from scratch. */
    private int segmentation(PrintWriter err, TrainConfig cfg, int nThreads) throws Exception {
        if (imgSize == null) throw new VitrimException("segmentation training needs --img-size HxW, the model's input (e.g. 96x128 for CamVid's 4:3 photos)");
        @SuppressWarnings("unchecked") java.util.List<String>[] names = new java.util.List[1];
        io.vitrim.config.SegmentationConfig seg = SegmentationTraining.task(labels, ignoreIndex, names);
        double[] sc = SegmentationTraining.scaleRange(scale);
        io.vitrim.train.SegmentationTask.Settings settings = new io.vitrim.train.SegmentationTask.Settings(sc[0], sc[1], null,
                SegmentationTraining.restore(restore));
        ViTConfig model;
        PreprocessConfig pre;
        io.vitrim.model.StateDict start = null;
        if (init != null) {
            if (patchSize != null || embedDim != null || depth != null || heads != null || mlpRatio != null) {
                throw VitrimException.of(init, "fine-tuning keeps the model's shapes: drop --patch-size/--embed-dim/--depth/--heads/--mlp-ratio");
            }
            ModelLoader.Checkpoint cp = SegmentationTraining.fromClassifier(init, imgSize, imgWidth, seg, seed);
            model = cp.config();
            pre = cp.preprocess();
            start = cp.weights();
        } else {
            ViTConfig base = Architectures.get(arch).config();
            checkPlainArch(base);
            int dim = embedDim != null ? embedDim : base.embedDim();
            model = new ViTConfig(base.architecture(), imgSize, imgWidth, patchSize != null ? patchSize : base.patchSize(), 3, dim,
                    depth != null ? depth : base.depth(), heads != null ? heads : base.numHeads(),
                    (int) Math.round(dim * (mlpRatio == null ? 4.0 : mlpRatio)), base.qkvBias(), true, false, ViTConfig.Pool.TOKEN, false, 0,
                    base.normEps());
            pre = new PreprocessConfig(imgSize, imgWidth, 1.0, PreprocessConfig.Interpolation.BICUBIC, PreprocessConfig.Resize.EXACT, null, null);
        }
        model.validate(init != null ? init : "--arch " + arch);
        VisionTransformer.checkTrainable(model, true, init != null ? init : "--arch " + arch);
        Methods.parse(reduce, model.withNumClasses(2), java.util.Map.of());
        java.util.Set<String> keys = new java.util.LinkedHashSet<>(io.vitrim.model.WeightBinder.vitKeys(model).keySet());
        keys.addAll(seg.decoderKeys(model.embedDim()).keySet());
        new ParamGroups(trainable, lrGroups, layerDecay).validate(new java.util.ArrayList<>(keys), lr);
        return SegmentationTraining.run(err, model, pre, start, cfg, seg, names[0], settings, classWeights, data, evalData, limit, evalLimit, this::runOptions,
                out, nThreads);
    }

    /** Fine-tuning keeps the folder's shapes: an override that differs is an error naming both. */
    private void checkFits(ViTConfig m) {
        java.util.List<String> bad = new java.util.ArrayList<>();
        if (imgSize != null && (imgSize != m.imgHeight() || imgSize != m.imgWidth())) bad.add("--img-size " + imgSize + " (folder: " + m.imgHeight() + ")");
        if (patchSize != null && patchSize != m.patchSize()) bad.add("--patch-size " + patchSize + " (folder: " + m.patchSize() + ")");
        if (embedDim != null && embedDim != m.embedDim()) bad.add("--embed-dim " + embedDim + " (folder: " + m.embedDim() + ")");
        if (depth != null && depth != m.depth()) bad.add("--depth " + depth + " (folder: " + m.depth() + ")");
        if (heads != null && heads != m.numHeads()) bad.add("--heads " + heads + " (folder: " + m.numHeads() + ")");
        if (mlpRatio != null && Math.round(m.embedDim() * mlpRatio) != m.mlpHidden()) bad.add("--mlp-ratio " + mlpRatio + " (folder: mlp " + m.mlpHidden() + ")");
        if (pool != null && !pool.equals(m.globalPool().timmName())) bad.add("--pool " + pool + " (folder: " + m.globalPool().timmName() + ")");
        if (!bad.isEmpty()) throw VitrimException.of(init, "shapes do not fit the overrides: " + String.join(", ", bad) + "; fine-tuning keeps the model's shapes");
    }

    /** The options that do not change the training itself, so a resumed run may change them: evaluation interval, EMA. */
    private void runOptions(Trainer t) {
        if (evalEvery != null) t.evalEvery(evalEvery);
        if (emaDecay != null) t.ema(emaDecay);
    }

    /** The reduction spec and the parameter groups fail before any data is loaded. */
    private void checkSpecAndGroups(ViTConfig m, java.util.Set<String> names, java.util.Map<String, float[]> methodWeights) {
        Methods.parse(reduce, m.numClasses() > 0 ? m : m.withNumClasses(2), methodWeights);
        new ParamGroups(trainable, lrGroups, layerDecay).validate(new java.util.ArrayList<>(names), lr);
    }

    private int run(PrintWriter err, ViTConfig model, PreprocessConfig pre, TrainConfig cfg, int nThreads) throws Exception {
        err.println("loading " + data + " ...");
        err.flush();
        TrainingData d = TrainingData.load(data, limit, evalData, evalLimit, cfg.holdout(), cfg.seed(), pre, nThreads);
        LabelledImages train = d.train(), eval = d.eval();
        if (initial != null) {
            if (train.classes().size() != model.numClasses()) {
                throw VitrimException.of(data, train.classes().size() + " classes, but " + init + " has " + model.numClasses());
            }
            if (initial.labels() != null && !initial.labels().equals(train.classes())) {
                throw VitrimException.of(data, "classes " + train.classes() + " differ from " + init + "'s labels " + initial.labels());
            }
        } else if (!resume) {
            float[][] st = Trainer.channelStats(train);
            pre = new PreprocessConfig(pre.inputHeight(), pre.inputWidth(), 1.0, pre.interpolation(), pre.resize(), st[0], st[1]);
            model = model.withNumClasses(train.classes().size()).validate("--arch " + arch);
        }
        err.printf(Locale.ROOT, "train %d images, %d classes%s; model %s embed %d depth %d heads %d patch %d img %d (%,d parameters); %d threads%n",
                train.size(), train.classes().size(), eval == null ? "" : ", eval " + eval.size() + " images", model.architecture(),
                model.embedDim(), model.depth(), model.numHeads(), model.patchSize(), model.imgHeight(), model.parameterCount(), nThreads);
        SpeedNote.print(err, "vitrim train");
        err.flush();
        if (!cfg.reduce().equals("none")) err.println("token reduction in training: " + cfg.reduce());
        Trainer t = new Trainer(model, pre, cfg, initial == null ? null : initial.weights(), java.util.List.of(io.vitrim.train.LossTerm.CROSS_ENTROPY),
                train, eval, out, nThreads);
        runOptions(t);
        TrainProgress progress = TrainProgress.withCurves(err, t, cfg.epochs(), cfg.batch(), out).optimizer(cfg);
        t.run(progress);
        progress.done();
        return 0;
    }
}
