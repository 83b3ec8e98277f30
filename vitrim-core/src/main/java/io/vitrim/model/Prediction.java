package io.vitrim.model;

import java.util.ArrayList;
import java.util.List;

/**
 * The classification of one image: logits, class names (null if unknown), tokens entering each
 * block, and decisions reducers recorded (e.g. PPT's "3:prune").
 */
public record Prediction(float[] logits, List<String> labels, int[] tokens, List<String> decisions) {

    /** One ranked class. */
    public record Top(int index, String label, double probability) {}

    /** Softmax of the logits (computed in double). */
    public double[] probabilities() {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) sum += p[i] = Math.exp(logits[i] - max);
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
    }

    /** The {@code k} most probable classes, best first (ties: lower index first). */
    public List<Top> top(int k) {
        double[] p = probabilities();
        Integer[] idx = new Integer[p.length];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        java.util.Arrays.sort(idx, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        List<Top> out = new ArrayList<>();
        for (int i = 0; i < Math.min(k, idx.length); i++) {
            int c = idx[i];
            out.add(new Top(c, labels == null ? String.valueOf(c) : labels.get(c), p[c]));
        }
        return out;
    }

    /** Index of the most probable class. */
    public int argmax() {
        return top(1).get(0).index();
    }
}
