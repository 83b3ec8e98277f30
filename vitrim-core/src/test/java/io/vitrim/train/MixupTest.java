package io.vitrim.train;

import io.vitrim.io.Json;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Mixup and CutMix in batch mode (timm's {@code Mixup}), by property. */
class MixupTest {
    static final int B = 4, C = 3, H = 8, W = 6;

    static float[] batch() {
        float[] px = new float[B * C * H * W];
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < px.length; i++) px[i] = (float) r.nextGaussian();
        return px;
    }

    static float at(float[] px, int b, int c, int y, int x) {
        return px[((b * C + c) * H + y) * W + x];
    }

    @Test
    void mixupBlendsEachImageWithItsMirrorInTheBatch() {
        float[] x = batch(), px = x.clone();
        Mixup.apply(new Mixup.Mix(0.7f, false, 0, 0, 0, 0), px, B, C, H, W);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    for (int i = 0; i < W; i++)
                        assertThat(at(px, b, c, y, i)).isCloseTo(0.7f * at(x, b, c, y, i) + 0.3f * at(x, B - 1 - b, c, y, i), within(1e-6f));
        float[] same = x.clone();
        Mixup.apply(Mixup.Mix.NONE, same, B, C, H, W);
        assertThat(same).containsExactly(x);
    }

    @Test
    void cutmixPastesTheBoxFromTheMirrorAndLambdaIsTheUncoveredShare() {
        SplittableRandom r = new SplittableRandom(11);
        MixConfig cut = new MixConfig(0, 1.0, 1, 0.5);
        int pasted = 0;
        for (int trial = 0; trial < 200; trial++) {
            Mixup.Mix m = Mixup.draw(cut, H, W, r);
            assertThat(m.cutmix()).isTrue();
            assertThat(m.y0()).isBetween(0, m.y1());
            assertThat(m.x0()).isBetween(0, m.x1());
            assertThat(m.y1()).isLessThanOrEqualTo(H);
            assertThat(m.x1()).isLessThanOrEqualTo(W);
            int area = (m.y1() - m.y0()) * (m.x1() - m.x0());
            assertThat(m.lam()).isCloseTo(1f - (float) area / (H * W), within(1e-6f));
            float[] x = batch(), px = x.clone();
            Mixup.apply(m, px, B, C, H, W);
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++)
                    for (int y = 0; y < H; y++)
                        for (int i = 0; i < W; i++) {
                            boolean in = y >= m.y0() && y < m.y1() && i >= m.x0() && i < m.x1();
                            assertThat(at(px, b, c, y, i)).isEqualTo(at(x, in ? B - 1 - b : b, c, y, i));
                        }
            pasted += area;
        }
        assertThat(pasted).as("boxes are not all empty").isPositive();
    }

    @Test
    void cutmixBoxSideIsTimmsWhenItFitsInside() {
        // timm's rand_bbox: cut = int(H * sqrt(1 - lam)), the box [c - cut//2, c + cut//2) clipped
        SplittableRandom r = new SplittableRandom(3);
        int checked = 0;
        for (int trial = 0; trial < 2000; trial++) {
            Mixup.Mix m = Mixup.draw(new MixConfig(0, 1.0, 1, 0.5), 32, 32, r);
            if (m.y0() > 0 && m.y1() < 32 && m.x0() > 0 && m.x1() < 32) {
                int side = m.y1() - m.y0();
                assertThat(side % 2).as("cy - cut/2 .. cy + cut/2 has an even length").isZero();
                assertThat(m.x1() - m.x0()).isEqualTo(side);
                // side = 2 * (int(32 * sqrt(1 - lam_drawn)) / 2): lam_drawn is not kept, so check the bound it implies
                assertThat(side).isLessThanOrEqualTo(32);
                checked++;
            }
        }
        assertThat(checked).isGreaterThan(100);
    }

    @Test
    void targetsAreTheBlendOfSmoothedOneHots() {
        int[] labels = {0, 2, 1, 2};
        float[] t = Mixup.targets(labels, 0.6f, 3, 0.1f);
        float[] s = SoftmaxCrossEntropy.smoothed(labels, 3, 0.1f);
        for (int b = 0; b < 4; b++) {
            float sum = 0;
            for (int k = 0; k < 3; k++) {
                assertThat(t[b * 3 + k]).isCloseTo(0.6f * s[b * 3 + k] + 0.4f * s[(3 - b) * 3 + k], within(1e-7f));
                sum += t[b * 3 + k];
            }
            assertThat(sum).isCloseTo(1f, within(1e-6f));
        }
        assertThat(Mixup.targets(labels, 1f, 3, 0.1f)).containsExactly(s);
    }

    @Test
    void betaHasTheRightMeanAndVariance() {
        for (double a : new double[] {0.2, 0.8, 1.0, 2.5}) {
            SplittableRandom r = new SplittableRandom(42);
            int n = 40_000;
            double sum = 0, sq = 0;
            for (int i = 0; i < n; i++) {
                double v = Mixup.beta(a, r);
                assertThat(v).isBetween(0.0, 1.0);
                sum += v;
                sq += v * v;
            }
            double mean = sum / n, var = sq / n - mean * mean;
            assertThat(mean).as("mean, alpha %s", a).isCloseTo(0.5, within(0.01));
            assertThat(var).as("variance, alpha %s", a).isCloseTo(1 / (4 * (2 * a + 1)), within(0.004));
        }
        SplittableRandom r = new SplittableRandom(1);
        double sum = 0;
        for (int i = 0; i < 40_000; i++) sum += Mixup.gamma(0.5, r);
        assertThat(sum / 40_000).as("Gamma(0.5) mean").isCloseTo(0.5, within(0.02));
    }

    @Test
    void bothOnChoosesEachAboutHalfTheTimeAndProbZeroNeverMixes() {
        SplittableRandom r = new SplittableRandom(9);
        int cut = 0;
        for (int i = 0; i < 4000; i++) if (Mixup.draw(new MixConfig(0.8, 1.0, 1, 0.5), H, W, r).cutmix()) cut++;
        assertThat(cut).isBetween(1800, 2200);
        for (int i = 0; i < 100; i++) assertThat(Mixup.draw(new MixConfig(0.8, 1.0, 0, 0.5), H, W, r)).isEqualTo(Mixup.Mix.NONE);
    }

    @Test
    void configRoundTripsAndRefusesBadValues() {
        TrainConfig base = new TrainConfig(2, 8, 1e-3, 1e-5, 0, 0.05, 1, 0.1, 4, true, 0, false);
        TrainConfig mixed = base.withMix(MixConfig.of(0.8, 1.0));
        TrainConfig back = TrainConfig.fromJson(new Json.Obj(Json.parseObject(Json.write(mixed.toJson())), "t"));
        assertThat(back).isEqualTo(mixed);
        assertThat(TrainConfig.fromJson(new Json.Obj(Json.parseObject(Json.write(base.toJson())), "t")).mix()).as("old checkpoints: off").isNull();
        assertThat(MixConfig.of(0, 0)).isNull();
        assertThatThrownBy(() -> MixConfig.of(-1, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new MixConfig(0.8, 0, 1.5, 0.5)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> MixConfig.of(Double.NaN, 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
