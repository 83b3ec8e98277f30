package io.vitrim.train;

import io.vitrim.model.Tape;

/**
 * One term of a training loss. The total loss is the sum of the terms (cross-entropy, plus a
 * method's auxiliary losses or regulariser); each adds its own gradient.
 */
public interface LossTerm {
    /** Name in the metrics log, e.g. {@code ce}. */
    String name();

    /**
     * Adds this term's dL/dlogits into {@code dlogits} ([B, K]) — terms on the model's inside
     * read the tape — and returns its value (mean over the batch).
     */
    double add(Tape tape, float[] targets, float[] dlogits);

    /** Softmax cross-entropy against soft targets (one-hot, smoothed or mixed). */
    LossTerm CROSS_ENTROPY = new LossTerm() {
        @Override
        public String name() {
            return "ce";
        }

        @Override
        public double add(Tape tape, float[] targets, float[] dlogits) {
            float[] logits = tape.logits();
            int batch = tape.batch(), k = logits.length / batch;
            float[] g = new float[dlogits.length];
            double loss = SoftmaxCrossEntropy.forwardBackward(logits, targets, batch, k, g);
            for (int i = 0; i < g.length; i++) dlogits[i] += g[i];
            return loss;
        }
    };
}
