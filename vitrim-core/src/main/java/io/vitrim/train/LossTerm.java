package io.vitrim.train;

import io.vitrim.model.Tape;

/**
 * One term of a training loss. The total loss is the sum of the terms (cross-entropy, plus a
 * method's auxiliary losses or regulariser); each adds its own gradient. A classification step
 * calls {@link #add} with the images' targets, a segmentation step {@link #addPixels} with the
 * per-pixel labels (the task's own loss, the first term, is computed by the task).
 */
public interface LossTerm {
    /**
     * A segmentation batch's labels {@code [B, height, width]} and the task's criterion (classes,
     * ignore label, class weights), for terms that predict classes of their own.
     */
    record PixelTargets(byte[] labels, int height, int width, PixelCrossEntropy criterion) {}

    /** Name in the metrics log, e.g. {@code ce}. */
    String name();

    /**
     * Adds this term's dL/dlogits into {@code dlogits} ([B, K]) — terms on the model's inside
     * read the tape — and returns its value (mean over the batch).
     */
    double add(Tape tape, float[] targets, float[] dlogits);

    /**
     * Segmentation: this term's value for the labels of the last forward, its gradient added
     * where it belongs (never into the decoder's logits). A term without a segmentation form
     * refuses.
     */
    default double addPixels(Tape tape, PixelTargets targets) {
        throw new io.vitrim.VitrimException("the loss term " + name() + " has no segmentation form");
    }

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
