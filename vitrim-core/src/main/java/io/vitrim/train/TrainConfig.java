package io.vitrim.train;

import io.vitrim.io.Json;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything that determines a training run (stored in the checkpoint, so {@code --resume}
 * continues exactly the same run).
 *
 * @param epochs         passes over the training set
 * @param batch          images per step
 * @param lr             peak learning rate (after warm-up)
 * @param minLr          learning rate at the end of the cosine decay
 * @param warmupEpochs   linear warm-up from 0, in epochs (fractional allowed)
 * @param weightDecay    AdamW decoupled weight decay (not on biases, norms, tokens, pos-embed)
 * @param clipNorm       global gradient-norm clip (≤ 0: off)
 * @param labelSmoothing cross-entropy label smoothing
 * @param cropPad        random-crop padding in pixels (0: no crop augmentation)
 * @param flip           random horizontal flips
 * @param seed           initialisation, data order and augmentation seed
 * @param sinCosPos      initialise the position embedding with 2-D sine-cosine values (MAE)
 * @param reduce         token reduction inside the training graph ({@code none} = none)
 * @param init           model folder the weights start from (null = random initialisation)
 * @param groups         trained parameters and their learning rates
 * @param dropPath       stochastic depth: the last block's drop rate (linear from 0 at block 0)
 * @param randOps        RandAugment operations per image (0: off)
 * @param randMagnitude  RandAugment magnitude, 0–30 (of 31 bins, as torchvision)
 * @param holdout        training images held out as the validation split (0: none)
 * @param sam            sharpness-aware minimisation around AdamW (null: plain AdamW)
 * @param mix            mixup / CutMix on the training batches (null: off; classification only)
 * @param erase          random-erasing probability per image (0: off; classification only)
 */
public record TrainConfig(int epochs, int batch, double lr, double minLr, double warmupEpochs, double weightDecay,
                          double clipNorm, double labelSmoothing, int cropPad, boolean flip, long seed, boolean sinCosPos,
                          String reduce, String init, ParamGroups groups,
                          double dropPath, int randOps, int randMagnitude, int holdout, SamConfig sam, MixConfig mix,
                          double erase) {

    public TrainConfig {
        if (!(erase >= 0 && erase <= 1)) throw new IllegalArgumentException("random-erasing probability must be in [0, 1]: " + erase);
        if (dropPath < 0 || dropPath >= 1) throw new IllegalArgumentException("drop path rate must be in [0, 1): " + dropPath);
        if (randOps < 0 || randOps > 8 || randMagnitude < 0 || randMagnitude > RandAugment.BINS - 1) {
            throw new IllegalArgumentException("RandAugment needs 0-8 operations and magnitude 0-" + (RandAugment.BINS - 1));
        }
        if (holdout < 0) throw new IllegalArgumentException("holdout must be >= 0: " + holdout);
    }

    /** No mixup / CutMix. */
    public TrainConfig(int epochs, int batch, double lr, double minLr, double warmupEpochs, double weightDecay,
                       double clipNorm, double labelSmoothing, int cropPad, boolean flip, long seed, boolean sinCosPos,
                       String reduce, String init, ParamGroups groups, double dropPath, int randOps, int randMagnitude, int holdout,
                       SamConfig sam) {
        this(epochs, batch, lr, minLr, warmupEpochs, weightDecay, clipNorm, labelSmoothing, cropPad, flip, seed, sinCosPos,
                reduce, init, groups, dropPath, randOps, randMagnitude, holdout, sam, null, 0);
    }

    /** Plain AdamW. */
    public TrainConfig(int epochs, int batch, double lr, double minLr, double warmupEpochs, double weightDecay,
                       double clipNorm, double labelSmoothing, int cropPad, boolean flip, long seed, boolean sinCosPos,
                       String reduce, String init, ParamGroups groups, double dropPath, int randOps, int randMagnitude, int holdout) {
        this(epochs, batch, lr, minLr, warmupEpochs, weightDecay, clipNorm, labelSmoothing, cropPad, flip, seed, sinCosPos,
                reduce, init, groups, dropPath, randOps, randMagnitude, holdout, null);
    }

    /** The same run with SAM around AdamW ({@code null}: plain AdamW). */
    public TrainConfig withSam(SamConfig s) {
        return new TrainConfig(epochs, batch, lr, minLr, warmupEpochs, weightDecay, clipNorm, labelSmoothing, cropPad, flip, seed, sinCosPos,
                reduce, init, groups, dropPath, randOps, randMagnitude, holdout, s, mix, erase);
    }

    /** The same run with mixup / CutMix ({@code null}: off). */
    public TrainConfig withMix(MixConfig m) {
        return new TrainConfig(epochs, batch, lr, minLr, warmupEpochs, weightDecay, clipNorm, labelSmoothing, cropPad, flip, seed, sinCosPos,
                reduce, init, groups, dropPath, randOps, randMagnitude, holdout, sam, m, erase);
    }

    /** The same run with random erasing at probability {@code p} (0: off). */
    public TrainConfig withErase(double p) {
        return new TrainConfig(epochs, batch, lr, minLr, warmupEpochs, weightDecay, clipNorm, labelSmoothing, cropPad, flip, seed, sinCosPos,
                reduce, init, groups, dropPath, randOps, randMagnitude, holdout, sam, mix, p);
    }

    /** From scratch, every parameter trained, no token reduction. */
    public TrainConfig(int epochs, int batch, double lr, double minLr, double warmupEpochs, double weightDecay,
                       double clipNorm, double labelSmoothing, int cropPad, boolean flip, long seed, boolean sinCosPos) {
        this(epochs, batch, lr, minLr, warmupEpochs, weightDecay, clipNorm, labelSmoothing, cropPad, flip, seed, sinCosPos,
                "none", null, ParamGroups.ALL, 0, 0, 0, 0);
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("epochs", epochs);
        m.put("batch", batch);
        m.put("lr", lr);
        m.put("min_lr", minLr);
        m.put("warmup_epochs", warmupEpochs);
        m.put("weight_decay", weightDecay);
        m.put("clip_norm", clipNorm);
        m.put("label_smoothing", labelSmoothing);
        m.put("crop_pad", cropPad);
        m.put("flip", flip);
        m.put("seed", seed);
        m.put("sincos_pos_init", sinCosPos);
        m.put("reduce", reduce);
        if (init != null) m.put("init", init);
        m.put("trainable", groups.trainable());
        m.put("lr_groups", groups.lrGroups());
        m.put("layer_decay", groups.layerDecay());
        m.put("drop_path", dropPath);
        m.put("randaugment_ops", randOps);
        m.put("randaugment_magnitude", randMagnitude);
        m.put("holdout", holdout);
        m.put("optimizer", sam == null ? "adamw" : "sam");
        if (sam != null) {
            m.put("sam_rho", sam.rho());
            m.put("sam_adaptive", sam.adaptive());
            m.put("sam_eta", sam.eta());
            m.put("sam_skip_1d", sam.skip1d());
        }
        if (mix != null) {
            m.put("mixup_alpha", mix.mixupAlpha());
            m.put("cutmix_alpha", mix.cutmixAlpha());
            m.put("mix_prob", mix.prob());
            m.put("mix_switch_prob", mix.switchProb());
        }
        if (erase > 0) m.put("random_erase", erase);
        return m;
    }

    public static TrainConfig fromJson(Json.Obj o) {
        return new TrainConfig(o.intValue("epochs", 0), o.intValue("batch", 0), o.number("lr", 0), o.number("min_lr", 0),
                o.number("warmup_epochs", 0), o.number("weight_decay", 0), o.number("clip_norm", 0),
                o.number("label_smoothing", 0), o.intValue("crop_pad", 0), o.bool("flip", true), o.integer("seed", 0), o.bool("sincos_pos_init", false),
                o.str("reduce", "none"), o.str("init", null),
                new ParamGroups(strings(o, "trainable"), strings(o, "lr_groups"), o.number("layer_decay", 1.0)),
                o.number("drop_path", 0), o.intValue("randaugment_ops", 0), o.intValue("randaugment_magnitude", 0),
                o.intValue("holdout", 0), sam(o), mix(o), o.number("random_erase", 0)); // older checkpoints: no erasing
    }

    /** Checkpoints written before mixup existed have no alphas: off. */
    private static MixConfig mix(Json.Obj o) {
        double a = o.number("mixup_alpha", 0), c = o.number("cutmix_alpha", 0);
        if (a == 0 && c == 0) return null;
        return new MixConfig(a, c, o.number("mix_prob", MixConfig.PROB), o.number("mix_switch_prob", MixConfig.SWITCH_PROB));
    }

    /** Checkpoints written before SAM existed have no optimizer entry: AdamW. */
    private static SamConfig sam(Json.Obj o) {
        String opt = o.str("optimizer", "adamw");
        if (opt.equals("adamw")) return null;
        if (!opt.equals("sam")) throw new io.vitrim.VitrimException("train_config: unknown optimizer \"" + opt + "\" (adamw or sam)");
        return new SamConfig(o.number("sam_rho", SamConfig.RHO), o.bool("sam_adaptive", false), o.number("sam_eta", SamConfig.ETA),
                o.bool("sam_skip_1d", false));
    }

    private static java.util.List<String> strings(Json.Obj o, String key) {
        if (!o.has(key)) return java.util.List.of();
        java.util.List<String> out = new java.util.ArrayList<>();
        for (Object x : o.list(key)) out.add(String.valueOf(x));
        return out;
    }

    /** Stochastic-depth rate of block {@code i} of {@code depth}: timm's linspace(0, rate, depth). */
    public double dropPathAt(int i, int depth) {
        return dropPathAt(dropPath, i, depth);
    }

    /** Block {@code i}'s rate when the last of {@code depth} blocks drops at {@code rate}. */
    public static double dropPathAt(double rate, int i, int depth) {
        return depth <= 1 ? rate : rate * i / (depth - 1);
    }

    /** Linear warm-up then cosine decay, per step. */
    public double lrAt(long step, long stepsPerEpoch) {
        long total = (long) epochs * stepsPerEpoch;
        double warm = warmupEpochs * stepsPerEpoch;
        if (step < warm) return lr * (step + 1) / warm;
        double progress = (step - warm) / Math.max(1.0, total - warm);
        return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * Math.min(1.0, progress)));
    }
}
