package io.vitrim.spark;

import java.util.Map;

/**
 * One output row: the image's path and, when it could be read, its result; else {@code error}.
 *
 * @param topLabels     best class first ({@code classify}; else null)
 * @param topProbs      their softmax probabilities
 * @param embedding     the pooled embedding ({@code embed}; else null)
 * @param classShares   {@code segment}: the share of the photo's pixels per class name, in class
 *                      order, classes with no pixel left out (as {@code vitrim segment}); else null
 * @param maskPng       {@code segment}: the colour mask, a PNG at the photo's own size
 * @param idsPng        {@code segment} with ids: the class ids, an 8-bit grey PNG at that size
 * @param tokens        tokens entering each block
 * @param gmacs         multiply-accumulates of this image's forward pass, in billions
 * @param error         the one-line reason the image has no result (null when it has one)
 */
public record ImageResult(String path, String[] topLabels, double[] topProbs, float[] embedding, Map<String, Double> classShares,
                          byte[] maskPng, byte[] idsPng, int[] tokens, double gmacs, String error) {
    static ImageResult failed(String path, String error) {
        return new ImageResult(path, null, null, null, null, null, null, null, Double.NaN, error);
    }

    static ImageResult classified(String path, String[] topLabels, double[] topProbs, int[] tokens, double gmacs) {
        return new ImageResult(path, topLabels, topProbs, null, null, null, null, tokens, gmacs, null);
    }

    static ImageResult embedded(String path, float[] embedding, int[] tokens, double gmacs) {
        return new ImageResult(path, null, null, embedding, null, null, null, tokens, gmacs, null);
    }

    public boolean ok() {
        return error == null;
    }
}
