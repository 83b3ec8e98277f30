package io.vitrim.train;

import io.vitrim.io.Json;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Random erasing as timm's {@code RandomErasing(mode='pixel')}: its arithmetic on scripted draws, then by property. */
class RandomErasingTest {
    /** Returns scripted uniform doubles and integers in call order; Gaussians count up from 100. */
    static final class Script implements RandomGenerator {
        final Deque<Double> doubles = new ArrayDeque<>();
        final Deque<Integer> ints = new ArrayDeque<>();
        int gaussians, calls;

        Script uniform(double... d) {
            for (double x : d) doubles.add(x);
            return this;
        }

        Script index(int... v) {
            for (int x : v) ints.add(x);
            return this;
        }

        @Override
        public long nextLong() {
            throw new AssertionError("unexpected nextLong");
        }

        @Override
        public double nextDouble() {
            calls++;
            return doubles.remove();
        }

        @Override
        public int nextInt(int bound) {
            calls++;
            int v = ints.remove();
            assertThat(v).isBetween(0, bound - 1);
            return v;
        }

        @Override
        public double nextGaussian() {
            return 100 + gaussians++;
        }
    }

    static float[] image(int c, int h, int w) {
        float[] px = new float[c * h * w];
        for (int i = 0; i < px.length; i++) px[i] = -1 - i;
        return px;
    }

    /** The uniform draw that makes the target area {@code frac} of the image. */
    static double areaDraw(double frac) {
        return (frac - RandomErasing.MIN_AREA) / (RandomErasing.MAX_AREA - RandomErasing.MIN_AREA);
    }

    @Test
    void offOrLosingTheCoinDrawsLittleAndErasesNothing() {
        float[] px = image(3, 8, 8), orig = px.clone();
        Script none = new Script();
        assertThat(RandomErasing.apply(px, 0, 3, 8, 8, 0, none)).isNull();
        assertThat(none.calls).as("p = 0 draws nothing, so runs without erasing keep their stream").isZero();
        Script lose = new Script().uniform(0.6);
        assertThat(RandomErasing.apply(px, 0, 3, 8, 8, 0.5, lose)).isNull();
        assertThat(lose.calls).isEqualTo(1);
        assertThat(px).containsExactly(orig);
    }

    @Test
    void aSquareBoxOfTheDrawnAreaAtTheDrawnCorner() {
        // 16 x 16, target area 1/4 of 256 = 64, aspect exp(0) = 1: an 8 x 8 box at top 3, left 5
        int c = 2, h = 16, w = 16;
        float[] px = image(c, h, w), orig = px.clone();
        Script s = new Script().uniform(0.1, areaDraw(0.25), 0.5).index(3, 5);
        assertThat(RandomErasing.apply(px, 0, c, h, w, 0.25, s)).containsExactly(3, 5, 8, 8);
        int g = 100;
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    int i = (ch * h + y) * w + x;
                    boolean in = y >= 3 && y < 11 && x >= 5 && x < 13;
                    // noise is drawn channel by channel, row by row, as torch fills a [C, h, w] tensor
                    assertThat(px[i]).isEqualTo(in ? g++ : orig[i]);
                }
        assertThat(s.gaussians).isEqualTo(c * 8 * 8);
    }

    @Test
    void sidesRoundHalfToEvenAndTheAspectStretchesThem() {
        // area 6.25 of 256, aspect 1 (the middle draw: exactly exp(0) with StrictMath, on every machine):
        // sqrt = 2.5 -> Python's round gives 2 (Math.round would give 3)
        Script s = new Script().uniform(0, areaDraw(6.25 / 256), 0.5).index(0, 0);
        assertThat(RandomErasing.apply(image(1, 16, 16), 0, 1, 16, 16, 1, s)).containsExactly(0, 0, 2, 2);
        // area 1/4 of 256 = 64, aspect 0.3^-1 (the top of the range): h = round(sqrt(64 / 0.3)) = 15, w = round(sqrt(64 * 0.3)) = 4
        Script t = new Script().uniform(0, areaDraw(0.25), 1.0).index(1, 12);
        assertThat(RandomErasing.apply(image(1, 16, 16), 0, 1, 16, 16, 1, t)).containsExactly(1, 12, 15, 4);
        // the same at the bottom of the range: the sides swap
        Script u = new Script().uniform(0, areaDraw(0.25), 0.0).index(0, 0);
        assertThat(RandomErasing.apply(image(1, 16, 16), 0, 1, 16, 16, 1, u)).containsExactly(0, 0, 4, 15);
    }

    @Test
    void aBoxThatNeverFitsIsGivenUpAfterTenAttempts() {
        // 4 x 4: the largest area (1/3 of 16) at the tallest aspect gives h = round(sqrt(5.33 / 0.3)) = 4, not < 4
        Script s = new Script().uniform(0);
        for (int a = 0; a < RandomErasing.ATTEMPTS; a++) s.uniform(1.0, 1.0);
        float[] px = image(3, 4, 4), orig = px.clone();
        assertThat(RandomErasing.apply(px, 0, 3, 4, 4, 1, s)).isNull();
        assertThat(s.calls).isEqualTo(1 + 2 * RandomErasing.ATTEMPTS);
        assertThat(px).containsExactly(orig);
        // the offset is honoured: the second image of a batch, the first untouched
        float[] two = new float[2 * 16 * 16];
        RandomErasing.apply(two, 16 * 16, 1, 16, 16, 1, new Script().uniform(0, areaDraw(0.25), 0.5).index(0, 0));
        for (int i = 0; i < 16 * 16; i++) assertThat(two[i]).isZero();
        assertThat(two[16 * 16]).isEqualTo(100f);
    }

    @Test
    void realDrawsEraseAtTheRateWithBoxesInRangeAndStandardNoise() {
        int h = 32, w = 32, n = 20_000, erased = 0;
        double sum = 0, sq = 0;
        long values = 0;
        SplittableRandom rnd = new SplittableRandom(11);
        for (int k = 0; k < n; k++) {
            float[] px = new float[3 * h * w]; // zeros: every non-zero is noise
            int[] box = RandomErasing.apply(px, 0, 3, h, w, 0.25, rnd);
            if (box == null) {
                for (float v : px) assertThat(v).isZero();
                continue;
            }
            erased++;
            int top = box[0], left = box[1], bh = box[2], bw = box[3];
            assertThat(top + bh).isLessThanOrEqualTo(h);
            assertThat(left + bw).isLessThanOrEqualTo(w);
            assertThat(bh).isLessThan(h);
            assertThat(bw).isLessThan(w);
            // sides are rounded from an area of 2-33 % and an aspect of 0.3-3.3: allow half a pixel per side
            assertThat((bh + 0.5) * (bw + 0.5)).isGreaterThanOrEqualTo(RandomErasing.MIN_AREA * h * w);
            assertThat((bh - 0.5) * (bw - 0.5)).isLessThanOrEqualTo(RandomErasing.MAX_AREA * h * w);
            assertThat((bh + 0.5) / (bw - 0.5)).isGreaterThanOrEqualTo(RandomErasing.MIN_ASPECT);
            assertThat((bh - 0.5) / (bw + 0.5)).isLessThanOrEqualTo(1 / RandomErasing.MIN_ASPECT);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        float v = px[(c * h + y) * w + x];
                        boolean in = y >= top && y < top + bh && x >= left && x < left + bw;
                        if (!in) assertThat(v).isZero();
                        else {
                            sum += v;
                            sq += v * v;
                            values++;
                        }
                    }
        }
        double rate = (double) erased / n, se = Math.sqrt(0.25 * 0.75 / n);
        assertThat(rate).isCloseTo(0.25, within(4 * se));
        double mean = sum / values;
        assertThat(mean).isCloseTo(0, within(0.01));
        assertThat(sq / values - mean * mean).isCloseTo(1, within(0.01));
    }

    @Test
    void theProbabilityRoundTripsThroughTheCheckpointAndIsChecked() {
        TrainConfig base = new TrainConfig(2, 8, 1e-3, 0, 0, 0.05, 0, 0.1, 4, true, 3, false);
        assertThat(base.erase()).isZero();
        assertThat(base.toJson()).doesNotContainKey("random_erase");
        TrainConfig erased = base.withMix(MixConfig.of(0.8, 1.0)).withErase(0.25);
        assertThat(erased.toJson()).containsEntry("random_erase", 0.25);
        TrainConfig back = TrainConfig.fromJson(new Json.Obj(Json.parseObject(Json.write(erased.toJson())), "t"));
        assertThat(back).isEqualTo(erased);
        assertThat(TrainConfig.fromJson(new Json.Obj(Json.parseObject(Json.write(base.toJson())), "t")).erase()).as("older checkpoints: off").isZero();
        assertThatThrownBy(() -> base.withErase(1.5)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("random-erasing");
        assertThatThrownBy(() -> base.withErase(Double.NaN)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> base.withErase(-0.1)).isInstanceOf(IllegalArgumentException.class);
    }
}
