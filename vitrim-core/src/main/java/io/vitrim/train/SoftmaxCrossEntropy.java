package io.vitrim.train;

/** Mean softmax cross-entropy against soft targets, with its gradient {@code (p − t) / B}. */
public final class SoftmaxCrossEntropy {
    private SoftmaxCrossEntropy() {}

    /** Returns the mean loss; writes dL/dlogits into {@code grad}. */
    public static double forwardBackward(float[] logits, float[] targets, int batch, int k, float[] grad) {
        double total = 0;
        for (int b = 0; b < batch; b++) {
            int o = b * k;
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < k; i++) max = Math.max(max, logits[o + i]);
            double sum = 0;
            for (int i = 0; i < k; i++) sum += Math.exp(logits[o + i] - max);
            double logZ = max + Math.log(sum);
            for (int i = 0; i < k; i++) {
                double logp = logits[o + i] - logZ;
                total -= targets[o + i] * logp;
                grad[o + i] = (float) ((Math.exp(logp) - targets[o + i]) / batch);
            }
        }
        return total / batch;
    }

    /** Targets for hard labels with label smoothing ε: {@code (1 − ε)·onehot + ε/K}. */
    public static float[] smoothed(int[] labels, int k, float eps) {
        float[] t = new float[labels.length * k];
        for (int b = 0; b < labels.length; b++) {
            for (int i = 0; i < k; i++) t[b * k + i] = eps / k;
            t[b * k + labels[b]] += 1f - eps;
        }
        return t;
    }
}
