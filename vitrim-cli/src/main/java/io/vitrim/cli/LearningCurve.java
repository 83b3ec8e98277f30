package io.vitrim.cli;

import io.vitrim.cli.report.Charts;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * learning_curve.{png,svg} (accuracy per epoch: top-1 of a classifier, mIoU and pixel accuracy of
 * a segmentation model) and loss_curve.{png,svg} from the metrics history.
 */
final class LearningCurve {
    private LearningCurve() {}

    static void write(List<Map<String, Object>> history, Path dir) throws IOException {
        int n = history.size();
        // any epoch: with --eval-every the last one may not have been evaluated
        boolean seg = history.stream().anyMatch(m -> m.containsKey("eval_miou"));
        double[] ep = new double[n], trainAcc = new double[n], loss = new double[n];
        List<Double> evalX = new ArrayList<>(), evalY = new ArrayList<>(), emaX = new ArrayList<>(), emaY = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Map<String, Object> m = history.get(i);
            ep[i] = ((Number) m.get("epoch")).doubleValue();
            trainAcc[i] = 100 * ((Number) m.get("train_acc")).doubleValue();
            loss[i] = ((Number) m.get("train_loss")).doubleValue();
            addPoint(m, "eval_", ep[i], evalX, evalY);
            addPoint(m, "eval_ema_", ep[i], emaX, emaY);
        }
        List<Charts.Line> acc = new ArrayList<>();
        acc.add(Charts.Line.of(seg ? "train pixel accuracy (augmented, running mean)" : "train (augmented, running mean)", ep, trainAcc));
        if (!evalX.isEmpty()) {
            acc.add(Charts.Line.of(seg ? "eval mIoU" : "eval top-1", doubles(evalX), doubles(evalY)));
        }
        if (!emaX.isEmpty()) {
            acc.add(Charts.Line.of(seg ? "eval mIoU, EMA of the weights" : "eval top-1, EMA of the weights", doubles(emaX), doubles(emaY)));
        }
        Charts.write(Charts.chart("Learning curve", "epoch", seg ? "accuracy / mIoU (%)" : "accuracy (%)", acc), dir.resolve("learning_curve"));
        Charts.write(Charts.chart("Training loss", "epoch", seg ? "per-pixel cross-entropy" : "cross-entropy (label-smoothed)", List.of(Charts.Line.of("train loss", ep, loss))),
                dir.resolve("loss_curve"));
    }

    /** Epoch x and the metric {@code prefix + "miou"} (segmentation) or {@code prefix + "top1"} in % when the epoch was evaluated. */
    private static void addPoint(Map<String, Object> m, String prefix, double x, List<Double> xs, List<Double> ys) {
        Object e = m.containsKey(prefix + "miou") ? m.get(prefix + "miou") : m.get(prefix + "top1");
        if (e instanceof Number v && !Double.isNaN(v.doubleValue())) {
            xs.add(x);
            ys.add(100 * v.doubleValue());
        }
    }

    private static double[] doubles(List<Double> l) {
        return l.stream().mapToDouble(Double::doubleValue).toArray();
    }
}
