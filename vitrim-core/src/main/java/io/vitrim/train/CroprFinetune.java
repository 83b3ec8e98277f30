package io.vitrim.train;

import io.vitrim.config.ViTConfig;
import io.vitrim.model.StateDict;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Cropr;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Fine-tuning with Token Cropr (docs/training.md, Cropr): the backbone trained end to end by the
 * main loss while every module's queries, aggregator and head learn from its auxiliary loss
 * ({@link CroprTraining}); no drop path on the last block, as the reference; optionally the
 * reference's pruning-rate curriculum — for the first half of the epochs the rate rises as
 * {@code linspace(0, R, E/2)[e]} (truncated), then stays at R. The model folder records the
 * settings as the reference's {@code cropr_cfg}, so {@code --reduce cropr} runs it as trained.
 * On a segmentation model each module has one query per cell of the auxiliary grid and its loss
 * is against the labels downsampled to it (docs/segmentation.md, Token Cropr).
 *
 * @param rate       tokens pruned per module (the first module prunes one more)
 * @param llf        last-layer fusion
 * @param curriculum the pruning-rate curriculum
 * @param epochs     the run's epochs (the curriculum's length)
 * @param auxH       segmentation: rows of the auxiliary grid (one query per cell); 0 for classification
 * @param auxW       segmentation: its columns
 */
public record CroprFinetune(int rate, boolean llf, boolean curriculum, int epochs, int auxH, int auxW) implements MethodTraining {
    public CroprFinetune {
        if (rate < 0) throw new IllegalArgumentException("--rate must be >= 0, got " + rate);
        if (epochs < 1) throw new IllegalArgumentException("epochs must be >= 1");
        if (auxH < 0 || auxW < 0 || (auxH == 0) != (auxW == 0)) throw new IllegalArgumentException("aux grid " + auxH + "x" + auxW);
    }

    /** Classification: one query per module. */
    public CroprFinetune(int rate, boolean llf, boolean curriculum, int epochs) {
        this(rate, llf, curriculum, epochs, 0, 0);
    }

    /** Queries per module: one per auxiliary-grid cell for segmentation, one for classification. */
    public int queries() {
        return auxH == 0 ? 1 : auxH * auxW;
    }

    /** The rate of {@code epoch}: R, or the curriculum's. */
    public int rateAt(int epoch) {
        int half = epochs / 2;
        if (!curriculum || epoch >= half) return rate;
        return half == 1 ? 0 : (int) ((double) rate * epoch / (half - 1));
    }

    @Override
    public MethodTraining.Graph graph(VisionTransformer net, int epoch) {
        return new CroprTraining(net, spec(rateAt(epoch)), auxH, auxW);
    }

    @Override
    public String evalSpec() {
        return spec(rate);
    }

    private String spec(int r) {
        return "cropr:rate=" + r + ",llf=" + (llf ? 1 : 0);
    }

    @Override
    public double dropPath(int block, int depth, double scheduled) {
        return block == depth - 1 ? 0 : scheduled;
    }

    @Override
    public Map<String, Object> configExtras() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("use_cropr", true);
        c.put("pruning_rate", rate);
        c.put("llf", llf);
        c.put("num_queries", queries());
        if (auxH > 0) c.put("aux_grid", java.util.List.of(auxH, auxW));
        c.put("num_heads", 1);
        c.put("mlp", true);
        c.put("mlp_ratio", 4.0);
        c.put("curriculum", curriculum);
        return Map.of("cropr_cfg", c);
    }

    /**
     * Adds the modules a classifier without them needs, initialised as the reference does: queries
     * truncated-normal with std C^−½ (cut at ±2 std), linear weights truncated-normal std 0.02
     * and zero biases (timm's ViT init reaches the modules), LayerNorms 1 and 0. Keys already
     * present are kept; returns how many modules were added. (timm's {@code trunc_normal_(std=.02)}
     * cuts at ±2 in absolute terms, 100 std: a plain normal in practice.)
     */
    public static int addMissingModules(StateDict sd, ViTConfig c, boolean llf, long seed) {
        return addMissingModules(sd, c, llf, 1, c.numClasses(), false, seed);
    }

    /**
     * As above for {@code queries} queries and a head of {@code classes} outputs. With
     * {@code segmentation} the MLP's layers keep PyTorch's default {@code nn.Linear} init, weights
     * and biases uniform in ±1/√fan_in: the reference's Segmenter builds its Cropr modules after
     * the backbone's init has run (benbergner/cropr segm/segmenter.py), so only the queries'
     * and the head's own init apply.
     */
    public static int addMissingModules(StateDict sd, ViTConfig c, boolean llf, int queries, int classes, boolean segmentation, long seed) {
        int d = c.embedDim(), hid = 4 * d, k = classes, added = 0;
        SplittableRandom rnd = new SplittableRandom(seed ^ 0xC0FFEE);
        for (int m = 0; m < Cropr.modules(c.depth(), llf); m++) {
            if (sd.get(Cropr.queriesKey(m)) != null) continue;
            String p = "cropr." + m + ".";
            sd.put(Cropr.queriesKey(m), truncNormal(rnd, queries * d, 1.0 / Math.sqrt(d), 2.0 / Math.sqrt(d)), 1, queries, d);
            sd.put(p + "cross_attn.mlp_norm.weight", ones(d), d);
            sd.put(p + "cross_attn.mlp_norm.bias", new float[d], d);
            if (segmentation) {
                sd.put(p + "cross_attn.mlp.fc1.weight", uniform(rnd, hid * d, 1 / Math.sqrt(d)), hid, d);
                sd.put(p + "cross_attn.mlp.fc1.bias", uniform(rnd, hid, 1 / Math.sqrt(d)), hid);
                sd.put(p + "cross_attn.mlp.fc2.weight", uniform(rnd, d * hid, 1 / Math.sqrt(hid)), d, hid);
                sd.put(p + "cross_attn.mlp.fc2.bias", uniform(rnd, d, 1 / Math.sqrt(hid)), d);
            } else {
                sd.put(p + "cross_attn.mlp.fc1.weight", truncNormal(rnd, hid * d, 0.02, 2), hid, d);
                sd.put(p + "cross_attn.mlp.fc1.bias", new float[hid], hid);
                sd.put(p + "cross_attn.mlp.fc2.weight", truncNormal(rnd, d * hid, 0.02, 2), d, hid);
                sd.put(p + "cross_attn.mlp.fc2.bias", new float[d], d);
            }
            sd.put(p + "head.norm.weight", ones(d), d);
            sd.put(p + "head.norm.bias", new float[d], d);
            sd.put(p + "head.head.weight", truncNormal(rnd, k * d, 0.02, 2), k, d);
            sd.put(p + "head.head.bias", new float[k], k);
            added++;
        }
        return added;
    }

    private static float[] uniform(SplittableRandom rnd, int n, double bound) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((2 * rnd.nextDouble() - 1) * bound);
        return v;
    }

    /** Normal(0, std²) redrawn outside ±cut. */
    private static float[] truncNormal(SplittableRandom rnd, int n, double std, double cut) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double g;
            do {
                g = gaussian(rnd);
            } while (Math.abs(g * std) > cut);
            v[i] = (float) (g * std);
        }
        return v;
    }

    private static double gaussian(SplittableRandom rnd) {
        double u1 = rnd.nextDouble(), u2 = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }

    private static float[] ones(int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, 1f);
        return v;
    }
}
