package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.train.MixConfig;
import io.vitrim.train.TrainConfig;
import picocli.CommandLine.Option;

/**
 * The image augmentations a classifier's training takes, shared by {@code train} and
 * {@code finetune --method cropr} so both read them the same way (segmentation has its own).
 */
final class AugmentOptions {
    @Option(names = "--randaugment", paramLabel = "N,M",
            description = "RandAugment with N operations at magnitude M of 0-30, as torchvision's (e.g. 2,9; default: off).")
    String randAugment;

    @Option(names = "--mixup", paramLabel = "ALPHA", defaultValue = "0",
            description = "Mixup: each batch blended with itself reversed, weight ~ Beta(ALPHA, ALPHA), targets likewise (DeiT: 0.8; default: off).")
    double mixup;

    @Option(names = "--cutmix", paramLabel = "ALPHA", defaultValue = "0",
            description = "CutMix: a box from the reversed batch, area ~ Beta(ALPHA, ALPHA); with --mixup, one of the two per batch, 50/50 (DeiT: 1.0; default: off).")
    double cutmix;

    @Option(names = "--random-erase", paramLabel = "P", defaultValue = "0",
            description = "Random erasing: with probability P a box of 2-33 %% of the image becomes normal noise, as timm's RandomErasing (DeiT: 0.25; default: off).")
    double randomErase;

    static final String NAMES = "--randaugment, --mixup, --cutmix and --random-erase";

    /** {operations, magnitude}; {0, 0} when off. */
    int[] randAugmentOps() {
        if (randAugment == null || randAugment.equals("off")) return new int[] {0, 0};
        String[] p = randAugment.split(",");
        try {
            if (p.length == 2) return new int[] {Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim())};
        } catch (NumberFormatException e) {
            // falls through to the message
        }
        throw new VitrimException("--randaugment expects N,M (operations, magnitude 0-30), e.g. 2,9; got '" + randAugment + "'");
    }

    /** Whether any augmentation beyond crop and flip was asked for. */
    boolean any() {
        return randAugmentOps()[0] > 0 || mixup != 0 || cutmix != 0 || randomErase != 0;
    }

    /** {@code cfg} with mixup / CutMix and random erasing as asked (RandAugment is a record component). */
    TrainConfig applyTo(TrainConfig cfg) {
        return cfg.withMix(MixConfig.of(mixup, cutmix)).withErase(randomErase);
    }

    /** ", RandAugment 2,9, mixup 0.8, …" for a run's header line; empty when none is on. */
    String describe() {
        int[] ra = randAugmentOps();
        return (ra[0] > 0 ? ", RandAugment " + ra[0] + "," + ra[1] : "") + (mixup > 0 ? ", mixup " + mixup : "")
                + (cutmix > 0 ? ", CutMix " + cutmix : "") + (randomErase > 0 ? ", random erasing " + randomErase : "");
    }
}
