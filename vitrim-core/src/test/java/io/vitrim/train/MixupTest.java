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
    void cutmixBoxIsTimmsRandBbox() {
        // timm 1.0.29 rand_bbox by hand: cut = int(H * sqrt(1 - lam)); [c - cut // 2, c + (cut + 1) // 2) clipped
        // lam 0.7 on 32x32: sqrt(0.3) = 0.5477, cut = 17 -> [c - 8, c + 9)
        assertBox(Mixup.box(32, 32, 0.7, 10, 20), 2, 19, 12, 29);
        assertBox(Mixup.box(32, 32, 0.7, 0, 31), 0, 9, 23, 32);
        // lam 0.75 on 8x6: sqrt(0.25) = 0.5, cut 4 x 3 -> [cy - 2, cy + 2), [cx - 1, cx + 2)
        assertBox(Mixup.box(8, 6, 0.75, 4, 3), 2, 6, 2, 5);
        // lam 0.999 on 32: int(32 * 0.0316) = 1 -> one pixel, [c, c + 1)
        assertBox(Mixup.box(32, 32, 0.999, 5, 7), 5, 6, 7, 8);
        // lam 1: nothing pasted, and lam stays 1
        Mixup.Mix none = Mixup.box(32, 32, 1.0, 5, 7);
        assertBox(none, 5, 5, 7, 7);
        assertThat(none.lam()).isEqualTo(1f);
        // lam 0: the whole image when centred
        Mixup.Mix all = Mixup.box(32, 32, 0.0, 16, 16);
        assertBox(all, 0, 32, 0, 32);
        assertThat(all.lam()).isEqualTo(0f);
        assertThat(Mixup.box(32, 32, 0.7, 10, 20).lam()).isCloseTo(1f - 17f * 17 / 1024, within(1e-6f));
    }

    static void assertBox(Mixup.Mix m, int y0, int y1, int x0, int x1) {
        assertThat(new int[] {m.y0(), m.y1(), m.x0(), m.x1()}).containsExactly(y0, y1, x0, x1);
    }

    @Test
    void cutmixLambdaAveragesWhatTheClippedBoxesLeave() {
        // E[uncovered share] over Beta(1,1) lam and uniform centres on 32x32, independent of the code:
        // the same expectation computed by brute force over a grid of lam and every centre
        double expect = 0;
        int n = 400;
        for (int i = 0; i < n; i++) {
            double lam = (i + 0.5) / n;
            int cut = (int) (32 * Math.sqrt(1 - lam));
            for (int c = 0; c < 32; c++)
                for (int d = 0; d < 32; d++) {
                    int hy = Math.min(32, c + (cut + 1) / 2) - Math.max(0, c - cut / 2);
                    int hx = Math.min(32, d + (cut + 1) / 2) - Math.max(0, d - cut / 2);
                    expect += 1 - hy * hx / 1024.0;
                }
        }
        expect /= n * 1024.0;
        SplittableRandom r = new SplittableRandom(4);
        double sum = 0;
        int draws = 40_000;
        for (int i = 0; i < draws; i++) sum += Mixup.draw(new MixConfig(0, 1.0, 1, 0.5), 32, 32, r).lam();
        assertThat(sum / draws).isCloseTo(expect, within(0.005));
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
        for (double a : new double[] {0.01, 0.2, 0.8, 1.0, 2.5}) {
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
        for (int i = 0; i < 40_000; i++) sum += Math.exp(Mixup.logGamma(0.5, r));
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
        assertThatThrownBy(() -> new MixConfig(0, 0, 1, 0.5)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("alpha > 0");
        assertThatThrownBy(() -> MixConfig.of(0.001, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0.01");
    }
}
