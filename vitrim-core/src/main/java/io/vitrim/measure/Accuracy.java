package io.vitrim.measure;

import io.vitrim.data.LabelledImages;
import io.vitrim.model.Macs;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;

import java.util.function.IntConsumer;

/** Top-1 / top-5 accuracy of a model (with a reduction) on a labelled set. */
public final class Accuracy {
    private Accuracy() {}

    /** Result: correct counts, images, and mean MACs per image actually spent. */
    public record Result(int top1, int top5, int images, double gmacs) {
        public double top1Rate() {
            return (double) top1 / images;
        }

        public double top5Rate() {
            return (double) top5 / images;
        }
    }

    /**
     * @param classMap dataset class index → model class index (identity when null)
     */
    public static Result evaluate(VisionTransformer m, LabelledImages data, TokenReducer r, int batch, int[] classMap, IntConsumer progress) {
        var cfg = m.config();
        var pre = m.preprocess();
        int per = 3 * cfg.imgHeight() * cfg.imgWidth(), k = cfg.numClasses();
        int top1 = 0, top5 = 0;
        double macs = 0;
        float[] px = new float[batch * per];
        for (int s = 0; s < data.size(); s += batch) {
            int n = Math.min(batch, data.size() - s);
            for (int i = 0; i < n; i++) data.toTensor(s + i, pre.mean(), pre.std(), px, i * per);
            float[] in = n == batch ? px : java.util.Arrays.copyOf(px, n * per);
            VisionTransformer.Result res = m.forward(in, n, r, false);
            float[] lg = res.logits();
            for (int i = 0; i < n; i++) {
                int want = classMap == null ? data.label(s + i) : classMap[data.label(s + i)];
                float wl = lg[i * k + want];
                int higher = 0;
                for (int j = 0; j < k; j++) if (lg[i * k + j] > wl || (lg[i * k + j] == wl && j < want)) higher++;
                if (higher == 0) top1++;
                if (higher < 5) top5++;
                macs += Macs.of(cfg, res.trace(), i);
            }
            if (progress != null) progress.accept(s + n);
        }
        return new Result(top1, top5, data.size(), macs / data.size() / 1e9);
    }
}
