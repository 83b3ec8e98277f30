package io.vitrim.spark;

/**
 * One output row: the image's path and, when it could be read, its result; else {@code error}.
 *
 * @param topLabels     best class first ({@code classify}; null for {@code embed})
 * @param topProbs      their softmax probabilities
 * @param embedding     the pooled embedding ({@code embed}; null for {@code classify})
 * @param tokens        tokens entering each block
 * @param gmacs         multiply-accumulates of this image's forward pass, in billions
 * @param error         the one-line reason the image has no result (null when it has one)
 */
public record ImageResult(String path, String[] topLabels, double[] topProbs, float[] embedding, int[] tokens, double gmacs,
                          String error) {
    static ImageResult failed(String path, String error) {
        return new ImageResult(path, null, null, null, null, Double.NaN, error);
    }

    public boolean ok() {
        return error == null;
    }
}
