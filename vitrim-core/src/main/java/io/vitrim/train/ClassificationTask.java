package io.vitrim.train;

import io.vitrim.VitrimException;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.data.LabelledImages;
import io.vitrim.measure.Accuracy;
import io.vitrim.model.Param;
import io.vitrim.model.RandomInit;
import io.vitrim.model.StateDict;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Image classification on a labelled set: cross-entropy with label smoothing (and mixup/CutMix targets), top-1/top-5 after each epoch. */
public final class ClassificationTask implements TrainTask {
    private final LabelledImages train, eval;

    /** @param eval evaluation images, or null */
    public ClassificationTask(LabelledImages train, LabelledImages eval) {
        this.train = train;
        this.eval = eval;
    }

    @Override
    public Object source() {
        return train.source();
    }

    @Override
    public int size() {
        return train.size();
    }

    @Override
    public List<String> labels() {
        return train.classes();
    }

    @Override
    public void check(ViTConfig model) {
        if (model.numClasses() != train.classes().size()) {
            throw VitrimException.of(train.source(), train.classes().size() + " classes but the model has " + model.numClasses());
        }
    }

    @Override
    public StateDict randomInit(ViTConfig model, long seed) {
        return RandomInit.create(model, seed);
    }

    @Override
    public VisionTransformer build(ViTConfig model, PreprocessConfig pre, StateDict weights, int threads, Object where) {
        return VisionTransformer.create(model, pre, train.classes(), weights, threads, where);
    }

    @Override
    public BatchStream batches(ViTConfig model, PreprocessConfig pre, TrainConfig cfg, int epoch) {
        return new BatchStream(train, cfg, epoch, 0, pre.mean(), pre.std());
    }

    @Override
    public Stepper stepper(VisionTransformer net, TokenReducer reducer, List<Param> trained, List<LossTerm> loss, TrainConfig cfg) {
        TrainingStep step = new TrainingStep(net, reducer, trained, loss);
        int k = net.config().numClasses();
        return (tape, batch) -> {
            float[] targets = Mixup.targets(batch.labels(), batch.mix().lam(), k, (float) cfg.labelSmoothing());
            TrainingStep.Result r = step.run(tape, batch.pixels(), targets);
            return new StepResult(r.loss(), r.correct(), tape.batch());
        };
    }

    @Override
    public boolean evaluates() {
        return eval != null;
    }

    @Override
    public Map<String, Object> evaluate(VisionTransformer net, TokenReducer reduced) {
        Map<String, Object> m = new LinkedHashMap<>();
        Accuracy.Result a = Accuracy.evaluate(net, eval, TokenReducer.NONE, 250, null, null);
        m.put("eval_top1", a.top1Rate());
        m.put("eval_top5", a.top5Rate());
        if (reduced != null) {
            Accuracy.Result ar = Accuracy.evaluate(net, eval, reduced, 250, null, null);
            m.put("eval_top1_reduced", ar.top1Rate());
            m.put("eval_top5_reduced", ar.top5Rate());
        }
        return m;
    }

    @Override
    public Map<String, Object> configExtras() {
        return Map.of();
    }

    @Override
    public Map<String, String> checkpointMetadata(TrainConfig cfg) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("train_data", String.valueOf(train.source()));
        if (eval != null && cfg.holdout() == 0) m.put("eval_data", String.valueOf(eval.source()));
        return m;
    }
}
