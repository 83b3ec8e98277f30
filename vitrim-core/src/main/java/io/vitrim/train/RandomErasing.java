package io.vitrim.train;

import java.util.random.RandomGenerator;

/**
 * Random erasing (Zhong et al., 2017) as timm's {@code RandomErasing(probability, mode='pixel')}
 * applies it to one normalised image: with probability {@code p}, one box covering 2–33 % of the
 * image, aspect ratio log-uniform in [0.3, 1/0.3], is replaced by standard-normal noise, each
 * channel and pixel drawn separately. Up to 10 attempts find a box that fits; if none does,
 * nothing is erased. Runs after normalisation (the noise is in normalised units, as timm's).
 */
final class RandomErasing {
    static final double MIN_AREA = 0.02, MAX_AREA = 1.0 / 3, MIN_ASPECT = 0.3;
    static final int ATTEMPTS = 10;

    private RandomErasing() {}

    /**
     * Erases in place in {@code img[off..]}, laid out [C, H, W]. Draws nothing when {@code p} is 0,
     * so a run without erasing keeps its random stream.
     *
     * @return the erased box {top, left, h, w}, or null when nothing was erased
     */
    static int[] apply(float[] img, int off, int channels, int height, int width, double p, RandomGenerator rnd) {
        if (p <= 0 || rnd.nextDouble() > p) return null; // timm: random.random() > probability skips
        double area = (double) height * width;
        // StrictMath: the same boxes on every machine, so a run resumed elsewhere stays bit-exact
        double logMin = StrictMath.log(MIN_ASPECT), logMax = StrictMath.log(1 / MIN_ASPECT);
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            double target = (MIN_AREA + (MAX_AREA - MIN_AREA) * rnd.nextDouble()) * area;
            double aspect = StrictMath.exp(logMin + (logMax - logMin) * rnd.nextDouble());
            // Python's round() rounds half to even, as Math.rint
            int h = (int) Math.rint(Math.sqrt(target * aspect)); // sqrt is exact (IEEE) everywhere
            int w = (int) Math.rint(Math.sqrt(target / aspect));
            if (w < width && h < height) {
                int top = rnd.nextInt(height - h + 1), left = rnd.nextInt(width - w + 1);
                for (int c = 0; c < channels; c++) {
                    for (int y = top; y < top + h; y++) {
                        int row = off + (c * height + y) * width;
                        for (int x = left; x < left + w; x++) img[row + x] = (float) rnd.nextGaussian();
                    }
                }
                return new int[] {top, left, h, w};
            }
        }
        return null;
    }
}
