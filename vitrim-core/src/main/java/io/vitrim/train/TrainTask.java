package io.vitrim.train;

import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.Param;
import io.vitrim.model.StateDict;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;

import java.util.List;
import java.util.Map;

/**
 * What a {@link Trainer} run trains the one model for — classification ({@link
 * ClassificationTask}) or segmentation ({@link SegmentationTask}): its data, the model it
 * builds, one step's loss and gradients, and the evaluation after each epoch. The loop,
 * optimiser, schedule, checkpoints and resume are the trainer's, shared by every task.
 */
public interface TrainTask {
    /** A step's loss, and how many predictions (images or pixels) were right of how many counted. */
    record StepResult(double loss, long correct, long counted) {}

    /** The training data (named in messages and kept in the checkpoint). */
    Object source();

    /** Training examples per epoch. */
    int size();

    /** Class names written into the model folder. */
    List<String> labels();

    /** Fails with a one-line error naming the data unless {@code model} fits the task. */
    void check(ViTConfig model);

    /** Seeded random weights of every key the task's model has. */
    StateDict randomInit(ViTConfig model, long seed);

    /** The model with {@code weights} (bound, not copied). */
    VisionTransformer build(ViTConfig model, PreprocessConfig pre, StateDict weights, int threads, Object where);

    /** One epoch's batches for {@code model}'s input, normalised as {@code pre} says, made on a background thread. */
    BatchStream batches(ViTConfig model, PreprocessConfig pre, TrainConfig cfg, int epoch);

    /** Runs training steps of one model, reducer and loss. */
    interface Stepper {
        /**
         * One forward/backward of {@code batch} with the reducer in the graph: zeroes the trained
         * gradients, then sets this step's.
         */
        StepResult run(Tape tape, BatchStream.Batch batch);
    }

    /** A stepper for {@code net} with {@code reducer} inside the graph and the loss terms {@code loss} (the task's own loss first). */
    Stepper stepper(VisionTransformer net, TokenReducer reducer, List<Param> trained, List<LossTerm> loss, TrainConfig cfg);

    /** Whether there is evaluation data. */
    boolean evaluates();

    /**
     * Metrics on the evaluation data (keys such as {@code eval_top1}); {@code reduced} null: the
     * dense model only.
     */
    Map<String, Object> evaluate(VisionTransformer net, TokenReducer reduced);

    /** Top-level config.json entries of the model folder (e.g. {@code segmentation}). */
    Map<String, Object> configExtras();

    /** Checkpoint metadata that names the data ({@code train_data}, {@code eval_data}, task settings). */
    Map<String, String> checkpointMetadata(TrainConfig cfg);
}
