package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.data.LabelledImages;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.Architectures;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.ViTConfig;
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
        description = {"Train a ViT from scratch on a labelled image set (<class>/<image> in a zip or folder).",
            "Writes a timm-style model folder (config.json + model.safetensors), metrics.csv/jsonl and a checkpoint",
            "after every epoch, all atomically; --resume continues bit for bit from the last completed epoch."},
        footer = {"", "Examples:",
            "  vitrim train --data ../shared/data/cifar10/train.zip --eval-data ../shared/data/cifar10/test.zip \\",
            "      --img-size 32 --patch-size 4 --embed-dim 192 --depth 7 --heads 3 --epochs 30 --out models/cifar",
            "  vitrim train --resume --out models/cifar          # after an interruption",
            "  vitrim train --data photos/ --limit 500 --epochs 2 --img-size 64 --patch-size 8 --out /tmp/try"})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--data", paramLabel = "ZIP|DIR", description = "Training images, <class>/<image> layout.")
    Path data;

    @Option(names = "--eval-data", paramLabel = "ZIP|DIR", description = "Images evaluated after every epoch (top-1 in the metrics).")
    Path evalData;

    @Option(names = {"-o", "--out"}, paramLabel = "DIR", required = true, description = "Output model folder.")
    Path out;

    @Option(names = "--resume", description = "Continue the run whose checkpoint is in --out (same settings).")
    boolean resume;

    @Option(names = "--arch", paramLabel = "NAME", defaultValue = "vit_tiny_patch16_224", description = "Base architecture (default: ${DEFAULT-VALUE}).")
    String arch;

    @Option(names = "--img-size", paramLabel = "N", description = "Input size override.")
    Integer imgSize;

    @Option(names = "--patch-size", paramLabel = "N", description = "Patch size override.")
    Integer patchSize;

    @Option(names = "--embed-dim", paramLabel = "N", description = "Embedding width override.")
    Integer embedDim;

    @Option(names = "--depth", paramLabel = "N", description = "Number of blocks override.")
    Integer depth;

    @Option(names = "--heads", paramLabel = "N", description = "Attention heads override.")
    Integer heads;

    @Option(names = "--mlp-ratio", paramLabel = "R", defaultValue = "4", description = "MLP width / embedding width (default: ${DEFAULT-VALUE}).")
    double mlpRatio;

    @Option(names = "--pool", defaultValue = "token", description = "Pooling for the head: token (class token) or avg (mean of patch tokens + fc_norm) (default: ${DEFAULT-VALUE}).")
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

    @Option(names = "--limit", paramLabel = "N", defaultValue = "0", description = "Use an evenly spread subset of N training images (0 = all).")
    int limit;

    @Option(names = "--eval-limit", paramLabel = "N", defaultValue = "0", description = "Evaluate on an evenly spread subset of N images (0 = all).")
    int evalLimit;

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
        if (resume) {
            Map<String, String> meta = Trainer.storedMetadata(out);
            cfg = Trainer.configFrom(meta);
            ModelLoader.Checkpoint cp = ModelLoader.read(out, null);
            model = cp.config();
            if (data == null) data = Path.of(meta.get("train_data"));
            if (evalData == null && meta.containsKey("eval_data")) evalData = Path.of(meta.get("eval_data"));
            return run(err, model, cp.preprocess(), cfg, nThreads);
        }
        if (data == null) throw new VitrimException("--data is required (a zip or folder of <class>/<image>)");
        if (Files.exists(out.resolve(Trainer.CHECKPOINT))) {
            throw VitrimException.of(out, "already holds a training run; use --resume to continue it or another --out");
        }
        if (epochs < 1 || batch < 1 || lr <= 0 || warmup < 0 || minLr < 0 || labelSmoothing < 0 || labelSmoothing >= 1 || cropPad < 0) {
            throw new VitrimException("invalid training options: need epochs >= 1, batch >= 1, lr > 0, warmup >= 0, 0 <= label smoothing < 1");
        }
        cfg = new TrainConfig(epochs, batch, lr, minLr, warmup, weightDecay, clip, labelSmoothing, cropPad, !noFlip, seed, sinCosPos);
        ViTConfig base = Architectures.get(arch).config();
        ViTConfig.Pool headPool = ViTConfig.Pool.parse(pool, "--pool"); // avg pooling comes with fc_norm, as in timm
        int img = imgSize != null ? imgSize : base.imgHeight();
        int dim = embedDim != null ? embedDim : base.embedDim();
        model = new ViTConfig(base.architecture(), img, img, patchSize != null ? patchSize : base.patchSize(), 3, dim,
                depth != null ? depth : base.depth(), heads != null ? heads : base.numHeads(), (int) Math.round(dim * mlpRatio),
                base.qkvBias(), true, false, headPool, headPool == ViTConfig.Pool.AVG, 1, base.normEps()); // classes: from the data
        PreprocessConfig pre = new PreprocessConfig(img, img, 1.0, PreprocessConfig.Interpolation.BICUBIC,
                PreprocessConfig.Resize.SHORTER_SIDE, PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD);
        return run(err, model, pre, cfg, nThreads);
    }

    private int run(PrintWriter err, ViTConfig model, PreprocessConfig pre, TrainConfig cfg, int nThreads) throws Exception {
        err.println("loading " + data + " ...");
        err.flush();
        LabelledImages train = LabelledImages.load(data, pre, nThreads, limit, null);
        LabelledImages eval = evalData == null ? null : LabelledImages.load(evalData, pre, nThreads, evalLimit, null);
        if (eval != null && !eval.classes().equals(train.classes())) {
            throw VitrimException.of(evalData, "classes " + eval.classes() + " differ from the training classes " + train.classes());
        }
        if (!resume) {
            float[][] st = Trainer.channelStats(train);
            pre = new PreprocessConfig(pre.inputHeight(), pre.inputWidth(), 1.0, pre.interpolation(), pre.resize(), st[0], st[1]);
            model = model.withNumClasses(train.classes().size()).validate("--arch " + arch);
        }
        err.printf(Locale.ROOT, "train %d images, %d classes%s; model %s embed %d depth %d heads %d patch %d img %d (%,d parameters); %d threads%n",
                train.size(), train.classes().size(), eval == null ? "" : ", eval " + eval.size() + " images", model.architecture(),
                model.embedDim(), model.depth(), model.numHeads(), model.patchSize(), model.imgHeight(), model.parameterCount(), nThreads);
        err.flush();
        Trainer t = new Trainer(model, pre, cfg, train, eval, out, nThreads);
        TrainProgress progress = new TrainProgress(err, cfg.epochs(), cfg.batch()) {
            @Override
            public void epoch(Map<String, Object> m) {
                super.epoch(m);
                try {
                    LearningCurve.write(t.history(), out);
                } catch (java.io.IOException | RuntimeException e) {
                    err.println("vitrim: could not draw the learning curve: " + e.getMessage());
                }
            }
        };
        t.run(progress);
        progress.done();
        return 0;
    }
}
