package io.vitrim.train;

import io.vitrim.VitrimException;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.SegmentationConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.data.SegmentationImages;
import io.vitrim.image.PilResize;
import io.vitrim.io.Json;
import io.vitrim.io.ModelFolder;
import io.vitrim.measure.SegmentationMetrics;
import io.vitrim.model.Param;
import io.vitrim.model.RandomInit;
import io.vitrim.model.StateDict;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Dense;
import io.vitrim.reduce.TokenReducer;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Semantic segmentation with Segmenter's linear decoder: per-pixel cross-entropy on the
 * upsampled patch logits, the ignore label left out, optional class weights; samples randomly
 * scaled, cropped and flipped ({@link SegmentationBatches}); mIoU and pixel accuracy after each
 * epoch at the labels' full size. Token reduction in the graph is made dense ({@link Dense}):
 * pruned tokens are parked and restored with {@code restore}, merged ones unmerged.
 */
public final class SegmentationTask implements TrainTask {
    /**
     * The task's own settings (stored in the checkpoint).
     *
     * @param minScale     smallest random scale of a sample, relative to the input size
     * @param maxScale     largest random scale
     * @param classWeights per-class loss weights, or null
     * @param restore      when parked tokens come back, for reductions inside the graph
     */
    public record Settings(double minScale, double maxScale, float[] classWeights, Dense.Restore restore) {
        public Settings {
            if (!(minScale > 0) || !(maxScale >= minScale) || maxScale > 8) {
                throw new VitrimException("scale range " + minScale + "-" + maxScale + ": expected 0 < min <= max <= 8");
            }
        }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("min_scale", minScale);
            m.put("max_scale", maxScale);
            if (classWeights != null) {
                List<Double> w = new java.util.ArrayList<>();
                for (float f : classWeights) w.add((double) f);
                m.put("class_weights", w);
            }
            m.put("restore", restore.name().toLowerCase(java.util.Locale.ROOT));
            return m;
        }

        /** The settings stored in a checkpoint by {@link #checkpointMetadata}. */
        public static Settings fromJson(Json.Obj o) {
            float[] w = null;
            if (o.has("class_weights")) {
                List<?> l = o.list("class_weights");
                w = new float[l.size()];
                for (int i = 0; i < w.length; i++) w[i] = ((Number) l.get(i)).floatValue();
            }
            return new Settings(o.number("min_scale", 0.5), o.number("max_scale", 2.0), w,
                    Dense.Restore.valueOf(o.str("restore", "output").toUpperCase(java.util.Locale.ROOT)));
        }
    }

    private final SegmentationConfig seg;
    private final List<String> labels;
    private final SegmentationImages train, eval;
    private final Settings settings;
    private SegmentationBatches batches; // prepared for the model's input size on first use

    /**
     * @param labels class names (null: none)
     * @param eval   evaluation set, or null
     */
    public SegmentationTask(SegmentationConfig seg, List<String> labels, SegmentationImages train, SegmentationImages eval, Settings settings) {
        if (settings.classWeights() != null && settings.classWeights().length != seg.numClasses()) {
            throw new VitrimException(settings.classWeights().length + " class weights for " + seg.numClasses() + " classes");
        }
        this.seg = seg;
        this.labels = labels;
        this.train = train;
        this.eval = eval;
        this.settings = settings;
    }

    /**
     * Inverse-frequency class weights normalised to mean 1 — each class's share of the counted
     * training pixels {@code f_c}, weight ∝ 1 / ln(1.02 + f_c) (ENet's bounded form, so a rare class
     * is not weighted without limit).
     */
    public static float[] balancedWeights(SegmentationImages data, int classes, int ignore) {
        long[] n = new long[classes];
        long all = 0;
        for (SegmentationImages.Example e : data.examples()) {
            for (byte b : e.labels().labels()) {
                int y = b & 0xFF;
                if (y == ignore || y >= classes) continue;
                n[y]++;
                all++;
            }
        }
        float[] w = new float[classes];
        double sum = 0;
        for (int c = 0; c < classes; c++) sum += w[c] = (float) (1 / Math.log(1.02 + (all == 0 ? 0 : (double) n[c] / all)));
        for (int c = 0; c < classes; c++) w[c] = (float) (w[c] * classes / sum);
        return w;
    }

    public Settings settings() {
        return settings;
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
        return labels;
    }

    @Override
    public void check(ViTConfig model) {
        if (model.numClasses() != 0) throw VitrimException.of(train.source(), "a segmentation model has no classifier head (num_classes must be 0)");
        VisionTransformer.checkTrainable(model, true, train.source());
    }

    @Override
    public StateDict randomInit(ViTConfig model, long seed) {
        StateDict sd = RandomInit.create(model, seed);
        addDecoder(sd, model, seg, seed);
        return sd;
    }

    /**
     * Adds Segmenter's decoder initialised as its {@code init_weights}: weight ~ N(0, 0.02)
     * (truncated at ±2, far outside), bias 0.
     */
    public static void addDecoder(StateDict sd, ViTConfig model, SegmentationConfig seg, long seed) {
        int k = seg.numClasses(), c = model.embedDim();
        float[] w = new float[k * c];
        SplittableRandom rnd = new SplittableRandom(seed ^ RandomInit.fnv1a("decoder.head.weight"));
        for (int i = 0; i < w.length; i++) w[i] = (float) Math.max(-2, Math.min(2, rnd.nextGaussian() * 0.02));
        sd.put("decoder.head.weight", w, new int[] {k, c});
        sd.put("decoder.head.bias", new float[k], new int[] {k});
    }

    @Override
    public VisionTransformer build(ViTConfig model, PreprocessConfig pre, StateDict weights, int threads, Object where) {
        return VisionTransformer.createSegmenter(model, pre, seg, labels, weights, threads, where);
    }

    /** One epoch's randomly scaled, cropped and flipped samples at {@code model}'s input size. */
    @Override
    public BatchStream batches(ViTConfig model, PreprocessConfig pre, TrainConfig cfg, int epoch) {
        if (cfg.mix() != null) throw new VitrimException("mixup / CutMix are for classification; segmentation training has neither");
        if (cfg.erase() > 0) throw new VitrimException("random erasing is for classification; segmentation training has none");
        int h = model.imgHeight(), w = model.imgWidth();
        if (batches == null) {
            PilResize.Filter f = pre.interpolation() == PreprocessConfig.Interpolation.BILINEAR ? PilResize.Filter.BILINEAR : PilResize.Filter.BICUBIC;
            batches = new SegmentationBatches(train, h, w, seg.ignoreIndex(), f);
        }
        int b = cfg.batch(), per = 3 * h * w;
        int[] order = Augment.order(train.size(), cfg.seed(), epoch);
        SegmentationBatches sb = batches;
        return new BatchStream(train.size() / b, 0, s -> {
            float[] px = new float[b * per];
            byte[] lab = new byte[b * h * w];
            for (int k = 0; k < b; k++) {
                sb.sample(order[s * b + k], cfg.seed(), epoch, settings.minScale(), settings.maxScale(), cfg.flip(), pre.mean(), pre.std(),
                        px, k * per, lab, k * h * w);
            }
            return new BatchStream.Batch(px, null, lab);
        });
    }

    @Override
    public Stepper stepper(VisionTransformer net, TokenReducer reducer, List<Param> trained, List<LossTerm> loss, TrainConfig cfg) {
        // the first term is the task's own (per-pixel cross-entropy); a method adds terms after it (Cropr's auxiliary losses)
        if (loss.isEmpty() || loss.get(0) != LossTerm.CROSS_ENTROPY) {
            throw new VitrimException("segmentation training starts from its per-pixel cross-entropy; got " + loss);
        }
        List<LossTerm> extra = List.copyOf(loss.subList(1, loss.size()));
        for (Param p : trained) p.requireGrad();
        List<Param> ps = List.copyOf(trained);
        PixelCrossEntropy ce = new PixelCrossEntropy(seg.numClasses(), seg.ignoreIndex(), settings.classWeights());
        ViTConfig c = net.config();
        return (tape, batch) -> {
            for (Param p : ps) java.util.Arrays.fill(p.grad, 0f);
            float[] grid = net.forwardSegment(tape, batch.pixels(), reducer, settings.restore());
            PixelCrossEntropy.Result r = ce.compute(net.parallel(), grid, tape.batch(), c.gridH(), c.gridW(), batch.pixelLabels(),
                    c.imgHeight(), c.imgWidth());
            double total = r.loss();
            LossTerm.PixelTargets targets = new LossTerm.PixelTargets(batch.pixelLabels(), c.imgHeight(), c.imgWidth(), ce);
            for (LossTerm t : extra) total += t.addPixels(tape, targets);
            net.backwardSegment(tape, r.dgrid());
            return new StepResult(total, r.correct(), r.counted());
        };
    }

    @Override
    public boolean evaluates() {
        return eval != null;
    }

    @Override
    public Map<String, Object> evaluate(VisionTransformer net, TokenReducer reduced) {
        Map<String, Object> m = new LinkedHashMap<>();
        SegmentationMetrics.Result a = SegmentationMetrics.evaluate(net, eval, TokenReducer.NONE, settings.restore(), 8, null);
        m.put("eval_miou", a.metrics().meanIoU());
        m.put("eval_pixel_acc", a.metrics().pixelAccuracy());
        if (reduced != null) {
            SegmentationMetrics.Result ar = SegmentationMetrics.evaluate(net, eval, reduced, settings.restore(), 8, null);
            m.put("eval_miou_reduced", ar.metrics().meanIoU());
            m.put("eval_pixel_acc_reduced", ar.metrics().pixelAccuracy());
        }
        return m;
    }

    @Override
    public Map<String, Object> configExtras() {
        return ModelFolder.segmentationEntry(seg);
    }

    @Override
    public Map<String, String> checkpointMetadata(TrainConfig cfg) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("train_data", String.valueOf(train.source()));
        if (eval != null) m.put("eval_data", String.valueOf(eval.source()));
        m.put("segmentation_training", Json.write(settings.toJson()));
        return m;
    }
}
