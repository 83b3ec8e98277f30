package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.data.LabelledImages;

import java.nio.file.Path;

/**
 * The images a training command learns from and the set it evaluates after every epoch: the
 * {@code --eval-data} folder or zip, or {@code --holdout N} images split off the training set
 * (seeded) — one or the other.
 */
record TrainingData(LabelledImages train, LabelledImages eval) {
    /** Fails when both name the evaluation set. */
    static void checkChoice(int holdout, Path evalData) {
        if (holdout > 0 && evalData != null) throw new VitrimException("--holdout and --eval-data both name the evaluation set; give one");
    }

    static TrainingData load(Path data, int limit, Path evalData, int evalLimit, int holdout, long seed, PreprocessConfig pre, int threads) {
        LabelledImages train = LabelledImages.load(data, pre, threads, limit, null);
        LabelledImages eval = evalData == null ? null : LabelledImages.load(evalData, pre, threads, evalLimit, null);
        if (holdout > 0) {
            LabelledImages[] split = train.holdout(holdout, seed);
            train = split[0];
            eval = split[1];
        }
        if (eval != null && !eval.classes().equals(train.classes())) {
            throw VitrimException.of(evalData, "classes " + eval.classes() + " differ from the training classes " + train.classes());
        }
        return new TrainingData(train, eval);
    }
}
