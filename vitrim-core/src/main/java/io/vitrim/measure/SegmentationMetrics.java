package io.vitrim.measure;

import io.vitrim.data.SegmentationImages;
import io.vitrim.image.Preprocessor;
import io.vitrim.model.Macs;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Dense;
import io.vitrim.reduce.TokenReducer;

import java.util.function.IntConsumer;

/**
 * mIoU, per-class IoU and pixel accuracy of a segmentation model on a labelled set, from a
 * confusion matrix over the counted pixels (label ≠ ignore). A class's IoU is
 * {@code TP / (TP + FP + FN)}; a class that is neither in the labels nor predicted has no IoU
 * (NaN) and is left out of the mean, as mmseg's {@code nanmean}.
 */
public final class SegmentationMetrics {
    private final int classes;
    private final long[] confusion; // [label, predicted]

    public SegmentationMetrics(int classes) {
        this.classes = classes;
        this.confusion = new long[classes * classes];
    }

    /** Counts one image: {@code predicted} and {@code labels} of the same size. */
    public void add(int[] predicted, byte[] labels, int ignore) {
        if (predicted.length != labels.length) throw new IllegalArgumentException(predicted.length + " predictions for " + labels.length + " labels");
        for (int i = 0; i < labels.length; i++) {
            int y = labels[i] & 0xFF;
            if (y == ignore) continue;
            confusion[y * classes + predicted[i]]++;
        }
    }

    /** {@code other}'s counts added into this one's. */
    public void add(SegmentationMetrics other) {
        for (int i = 0; i < confusion.length; i++) confusion[i] += other.confusion[i];
    }

    public long[] confusion() {
        return confusion.clone();
    }

    public double[] perClassIoU() {
        double[] iou = new double[classes];
        for (int c = 0; c < classes; c++) {
            long tp = confusion[c * classes + c], fp = 0, fn = 0;
            for (int o = 0; o < classes; o++) {
                if (o == c) continue;
                fn += confusion[c * classes + o];
                fp += confusion[o * classes + c];
            }
            long union = tp + fp + fn;
            iou[c] = union == 0 ? Double.NaN : (double) tp / union;
        }
        return iou;
    }

    public double meanIoU() {
        double s = 0;
        int n = 0;
        for (double v : perClassIoU()) {
            if (Double.isNaN(v)) continue;
            s += v;
            n++;
        }
        return n == 0 ? Double.NaN : s / n;
    }

    public double pixelAccuracy() {
        long ok = 0, all = 0;
        for (int c = 0; c < classes; c++) {
            ok += confusion[c * classes + c];
            for (int o = 0; o < classes; o++) all += confusion[c * classes + o];
        }
        return all == 0 ? Double.NaN : (double) ok / all;
    }

    /** An evaluation: the metrics, images, and mean GMACs per image actually spent. */
    public record Result(SegmentationMetrics metrics, int images, double gmacs) {}

    /**
     * Segments every image of {@code data} (resized to the model's input by its preprocessing)
     * with {@code reducer} made dense with {@code restore}, and compares each mask, upsampled
     * from the patch grid to the label's own size, with the labels.
     */
    public static Result evaluate(VisionTransformer m, SegmentationImages data, TokenReducer reducer, Dense.Restore restore,
                                  int batch, IntConsumer progress) {
        var cfg = m.config();
        var task = m.segmentation();
        if (task == null) throw new IllegalArgumentException("not a segmentation model");
        Preprocessor pre = new Preprocessor(m.preprocess());
        int per = 3 * cfg.imgHeight() * cfg.imgWidth();
        SegmentationMetrics metrics = new SegmentationMetrics(task.numClasses());
        double macs = 0;
        float[] px = new float[batch * per];
        for (int s = 0; s < data.size(); s += batch) {
            int n = Math.min(batch, data.size() - s);
            for (int i = 0; i < n; i++) pre.toTensor(data.get(s + i).image(), px, i * per);
            float[] in = n == batch ? px : java.util.Arrays.copyOf(px, n * per);
            VisionTransformer.Segmentation seg = m.segment(in, n, reducer, restore);
            for (int i = 0; i < n; i++) {
                var labels = data.get(s + i).labels();
                metrics.add(seg.mask(i, labels.height(), labels.width()), labels.labels(), task.ignoreIndex());
                macs += Macs.of(cfg, seg.trace(), i);
            }
            if (progress != null) progress.accept(s + n);
        }
        return new Result(metrics, data.size(), macs / data.size() / 1e9);
    }
}
