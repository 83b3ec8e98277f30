package io.vitrim.reduce;

import io.vitrim.VitrimException;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.StateDict;
import io.vitrim.model.VisionTransformer;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code pool=wavg} on every merging method (docs/encoders.md): an average-pooled head sees each
 * surviving patch once — the pooled vector is the mean, over the original patches that were not
 * pruned, of the final token each one ended in (read from the source map, not from the sizes
 * the method tracks), then {@code fc_norm}. PPT's threshold 0 only prunes (the control: there
 * wavg and mean agree bit for bit).
 */
class SizeWeightedPoolTest {
    /** 8×8 patches, class token, average pooling into fc_norm, no head: the embedding is the normalised pool. */
    private static final ViTConfig AVG = new ViTConfig("avg", 32, 32, 4, 3, 24, 6, 2, 48, true, true, false, ViTConfig.Pool.AVG, true, 0,
            1e-6f, 0, false, false, false, ViTConfig.Act.GELU);

    @ParameterizedTest
    @ValueSource(strings = {"tome:r=6", "lgtm:r=6,dense=1,switch=3", "ltmp:merge=0.5,prune=0.02", "ppt:r=10,layers=1/3,threshold=1",
            "ppt:r=10,layers=1/3,threshold=0"})
    void thePoolCountsEverySurvivingPatchOnce(String spec) {
        StateDict sd = HashInit.stateDict(AVG, 93, 2.0);
        float[] px = HashInit.pixels(AVG, 2, 94);
        float[] w = sd.get("fc_norm.weight").data(), bias = sd.get("fc_norm.bias").data();
        int c = AVG.embedDim(), prefix = AVG.numPrefix();
        try (VisionTransformer m = VisionTransformer.create(AVG, null, null, sd, 1, "avg")) {
            VisionTransformer.Encoding wavg = m.encode(px, 2, Methods.parse(spec + ",pool=wavg", AVG), true);
            VisionTransformer.Encoding mean = m.encode(px, 2, Methods.parse(spec, AVG), false);
            boolean anyMerged = false;
            for (int b = 0; b < 2; b++) {
                int o = wavg.tokenOffsets()[b], n = wavg.tokenOffsets()[b + 1] - o;
                int[] src = wavg.source()[b];
                double[] acc = new double[c];
                int patches = 0;
                for (int q = prefix; q < src.length; q++) {
                    if (src[q] < 0) continue; // pruned
                    patches++;
                    for (int j = 0; j < c; j++) acc[j] += wavg.tokens()[(o + src[q]) * c + j];
                }
                anyMerged |= patches > n - prefix;
                float[] expected = layerNorm(acc, patches, w, bias, AVG.normEps());
                float[] got = wavg.embedding(b);
                for (int j = 0; j < c; j++) assertThat((double) got[j]).as("%s image %d channel %d", spec, b, j).isCloseTo(expected[j],
                        org.assertj.core.data.Offset.offset(1e-4));
            }
            // PPT with threshold 0 only prunes: every survivor stands for one patch, and wavg is the mean
            boolean pruneOnly = spec.endsWith("threshold=0");
            assertThat(anyMerged).as("%s merges something here", spec).isEqualTo(!pruneOnly);
            if (pruneOnly) assertThat(wavg.embeddings()).containsExactly(mean.embeddings());
            else assertThat(wavg.embeddings()).as("the plain mean differs once tokens are merged").isNotEqualTo(mean.embeddings());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tome:r=4", "lgtm:r=4", "ltmp:merge=0.5,prune=off", "ppt:r=4,layers=1/3"})
    void theKnobParsesAndIsChecked(String spec) {
        assertThat(Methods.parse(spec, AVG).sizeWeightedPool()).isFalse();
        assertThat(Methods.parse(spec + ",pool=wavg", AVG).sizeWeightedPool()).isTrue();
        assertThatThrownBy(() -> Methods.parse(spec + ",pool=max", AVG)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("pool must be mean or wavg");
    }

    /** PPT without proportional attention restarts its sizes at each PP layer: they no longer count patches. */
    @org.junit.jupiter.api.Test
    void pptWithoutProportionalAttentionRefusesWavg() {
        assertThatThrownBy(() -> Methods.parse("ppt:r=4,layers=1/3,prop_attn=false,pool=wavg", AVG)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("pool=wavg needs prop_attn=true");
    }

    private static float[] layerNorm(double[] sum, int n, float[] w, float[] b, float eps) {
        int c = sum.length;
        double mu = 0, var = 0;
        double[] x = new double[c];
        for (int j = 0; j < c; j++) mu += x[j] = sum[j] / n;
        mu /= c;
        for (int j = 0; j < c; j++) var += (x[j] - mu) * (x[j] - mu);
        var /= c;
        float[] y = new float[c];
        for (int j = 0; j < c; j++) y[j] = (float) ((x[j] - mu) / Math.sqrt(var + eps) * w[j] + b[j]);
        return y;
    }
}
