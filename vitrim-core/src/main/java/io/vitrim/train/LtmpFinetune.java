package io.vitrim.train;

import io.vitrim.config.ViTConfig;
import io.vitrim.data.LabelledImages;
import io.vitrim.measure.Accuracy;
import io.vitrim.model.Macs;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.LtmpTraining;
import io.vitrim.reduce.TokenReducer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * LTMP's threshold training (docs/training.md, LTMP): the model's weights frozen, only the
 * 2·L thresholds learned through {@link LtmpTraining}'s masked graph with the loss
 * cross-entropy (label smoothing) + λ·(r − target)²; plain SGD (no momentum, no decay) with one
 * learning rate for the prune and one for the merge thresholds, each threshold clamped to
 * [0, 1] after every step — the reference's recipe. After every epoch the inference model
 * (tokens removed, {@code ltmp} with the current thresholds) is evaluated for top-1 and its
 * measured MAC ratio.
 */
public final class LtmpFinetune {
    /**
     * @param target     the MAC ratio to reach (kept share of the dense model's MACs), in (0, 1]
     * @param tau        gate temperature
     * @param lambda     weight of the reduction-target term
     * @param initMerge  starting θm of every block (the reference: 0.9)
     * @param initPrune  starting θp of every block (the reference: 0)
     */
    public record Config(double target, float tau, double lambda, double lrPrune, double lrMerge, int epochs, int batch,
                         long seed, int cropPad, boolean flip, double labelSmoothing, float initMerge, float initPrune) {
        public Config {
            if (!(target > 0 && target <= 1)) throw new IllegalArgumentException("--target must be in (0, 1], got " + target);
            if (!(tau > 0)) throw new IllegalArgumentException("--tau must be > 0, got " + tau);
            if (epochs < 1 || batch < 1) throw new IllegalArgumentException("need epochs >= 1 and batch >= 1");
            if (!(lrPrune >= 0 && lrMerge >= 0 && lambda >= 0)) throw new IllegalArgumentException("learning rates and lambda must be >= 0");
        }

        TrainConfig data() {
            return new TrainConfig(epochs, batch, 0, 0, 0, 0, 0, labelSmoothing, cropPad, flip, seed, false);
        }
    }

    /** Progress of a run. */
    public interface Listener {
        default void step(int epoch, int step, int steps, double loss, double ratio, double imagesPerSecond) {}

        default void epoch(Map<String, Object> metrics) {}
    }

    private final VisionTransformer net;
    private final Config cfg;
    private final float[][] merge, prune, mergeGrad, pruneGrad;
    private final List<Map<String, Object>> history = new ArrayList<>();

    public LtmpFinetune(VisionTransformer net, Config cfg) {
        VisionTransformer.checkTrainable(net.config(), "the model");
        if (!net.config().classToken() || net.config().globalPool() != ViTConfig.Pool.TOKEN) {
            // the training graph keeps row 0 as the class token and pools it, as the reference does
            throw new io.vitrim.VitrimException("LTMP's threshold training needs a class token and token pooling (this model has "
                    + (net.config().classToken() ? "" : "no class token, ") + "global_pool=" + net.config().globalPool().timmName() + ")");
        }
        this.net = net;
        this.cfg = cfg;
        int depth = net.config().depth();
        merge = new float[depth][];
        prune = new float[depth][];
        mergeGrad = new float[depth][];
        pruneGrad = new float[depth][];
        for (int i = 0; i < depth; i++) {
            merge[i] = new float[] {cfg.initMerge()};
            prune[i] = new float[] {cfg.initPrune()};
            mergeGrad[i] = new float[1];
            pruneGrad[i] = new float[1];
        }
    }

    public float[] mergeThresholds() {
        float[] t = new float[merge.length];
        for (int i = 0; i < t.length; i++) t[i] = merge[i][0];
        return t;
    }

    public float[] pruneThresholds() {
        float[] t = new float[prune.length];
        for (int i = 0; i < t.length; i++) t[i] = prune[i][0];
        return t;
    }

    /** The inference spec with the current thresholds, one value per block. */
    public String spec() {
        return "ltmp:merge=" + join(mergeThresholds()) + ",prune=" + join(pruneThresholds());
    }

    private static String join(float[] v) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < v.length; i++) b.append(i == 0 ? "" : "/").append(String.format(Locale.ROOT, "%.9g", v[i]));
        return b.toString();
    }

    public List<Map<String, Object>> history() {
        return history;
    }

    /** Trains the thresholds on {@code train}; evaluates on {@code eval} (may be null) after every epoch. */
    public void run(LabelledImages train, LabelledImages eval, Listener l) throws InterruptedException {
        ViTConfig c = net.config();
        if (train.size() < cfg.batch()) throw new IllegalArgumentException(train.size() + " images, fewer than one batch of " + cfg.batch());
        LtmpTraining graph = new LtmpTraining(merge, prune, mergeGrad, pruneGrad, cfg.tau(), c.embedDim() / c.numHeads());
        List<LossTerm> loss = List.of(LossTerm.CROSS_ENTROPY, new LtmpLoss(graph, cfg.target(), cfg.lambda(), c.embedDim(), c.mlpHidden()));
        TrainingStep stepper = new TrainingStep(net, graph, List.of(), loss);
        Tape tape = net.newTape(cfg.batch());
        TrainConfig data = cfg.data();
        int steps = train.size() / cfg.batch();
        for (int epoch = 0; epoch < cfg.epochs(); epoch++) {
            long t0 = System.nanoTime();
            double lossSum = 0, ratioSum = 0;
            try (BatchStream bs = new BatchStream(train, data, epoch, 0, net.preprocess().mean(), net.preprocess().std())) {
                for (int s = 0; s < steps; s++) {
                    BatchStream.Batch b = bs.next();
                    for (int i = 0; i < merge.length; i++) {
                        mergeGrad[i][0] = 0f;
                        pruneGrad[i][0] = 0f;
                    }
                    float[] targets = SoftmaxCrossEntropy.smoothed(b.labels(), c.numClasses(), (float) cfg.labelSmoothing());
                    TrainingStep.Result r = stepper.run(tape, b.pixels(), targets);
                    for (int i = 0; i < merge.length; i++) {
                        if (!Float.isFinite(mergeGrad[i][0]) || !Float.isFinite(pruneGrad[i][0])) {
                            throw new io.vitrim.VitrimException("LTMP training: a threshold gradient of block " + i + " is not finite at step "
                                    + (s + 1) + " of epoch " + (epoch + 1) + " (a zero key vector?)");
                        }
                        merge[i][0] = clamp(merge[i][0] - (float) cfg.lrMerge() * mergeGrad[i][0]);
                        prune[i][0] = clamp(prune[i][0] - (float) cfg.lrPrune() * pruneGrad[i][0]);
                    }
                    lossSum += r.loss();
                    ratioSum += graph.lastRatio();
                    double secs = (System.nanoTime() - t0) / 1e9;
                    l.step(epoch, s + 1, steps, lossSum / (s + 1), ratioSum / (s + 1), (s + 1) * (double) cfg.batch() / secs);
                }
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("epoch", epoch + 1);
            m.put("train_loss", lossSum / steps);
            m.put("train_mac_ratio_masked", ratioSum / steps);
            m.put("epoch_seconds", (System.nanoTime() - t0) / 1e9);
            m.put("merge_thresholds", toList(mergeThresholds()));
            m.put("prune_thresholds", toList(pruneThresholds()));
            if (eval != null) {
                TokenReducer red = net.reducer(spec());
                Accuracy.Result a = Accuracy.evaluate(net, eval, red, 250, null, null);
                m.put("eval_top1", a.top1Rate());
                m.put("eval_mac_ratio", a.gmacs() * 1e9 / Macs.dense(c));
            }
            history.add(m);
            l.epoch(m);
        }
    }

    private static List<Object> toList(float[] v) {
        List<Object> l = new ArrayList<>();
        for (float x : v) l.add((double) x);
        return l;
    }

    private static float clamp(float v) {
        return Math.max(0f, Math.min(1f, v));
    }
}
