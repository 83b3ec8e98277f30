package io.vitrim.model;

import io.vitrim.config.ViTConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class RandomInitTest {

    /** 16×16 input, patch 4 → 4×4 grid, embed 32, one class token. */
    static final ViTConfig C = new ViTConfig("vit_tiny_patch16_224", 16, 16, 4, 3, 32, 1, 2, 64, true, true, false,
            ViTConfig.Pool.TOKEN, false, 3, 1e-6f);

    @Test
    void sinCosPositionEmbeddingFollowsMaeLayout() {
        StateDict sd = RandomInit.create(C, 1);
        RandomInit.sinCosPosEmbed(sd, C);
        float[] pe = sd.get("pos_embed").data();
        int d = 32;
        for (int k = 0; k < d; k++) assertThat(pe[k]).as("class token row").isZero();
        // patch (row y = 2, column x = 3) is token 1 + 2*4 + 3; MAE: [sin(x w), cos(x w), sin(y w), cos(y w)], w_i = 10000^(-i/8)
        int row = (1 + 2 * 4 + 3) * d;
        for (int i = 0; i < 8; i++) {
            double w = Math.exp(-Math.log(10000) * i / 8);
            assertThat(pe[row + i]).isCloseTo((float) Math.sin(3 * w), within(1e-6f));
            assertThat(pe[row + 8 + i]).isCloseTo((float) Math.cos(3 * w), within(1e-6f));
            assertThat(pe[row + 16 + i]).isCloseTo((float) Math.sin(2 * w), within(1e-6f));
            assertThat(pe[row + 24 + i]).isCloseTo((float) Math.cos(2 * w), within(1e-6f));
        }
    }

    @Test
    void sinCosNeedsWidthDivisibleByFour() {
        ViTConfig odd = new ViTConfig("vit_tiny_patch16_224", 16, 16, 4, 3, 30, 1, 2, 60, true, true, false,
                ViTConfig.Pool.TOKEN, false, 3, 1e-6f);
        assertThatThrownBy(() -> RandomInit.sinCosPosEmbed(RandomInit.create(odd, 1), odd))
                .hasMessageContaining("divisible by 4");
    }

    @Test
    void encoderKeysGetUsableValues() {
        // registers, LayerScale, norm_pre and a MAP head: no key may be left all zeros where timm's init is not
        ViTConfig c = new ViTConfig("enc", 16, 16, 4, 3, 32, 2, 2, 64, true, true, false, ViTConfig.Pool.MAP, false, 0, 1e-6f,
                4, true, true, true, ViTConfig.Act.QUICK_GELU);
        StateDict sd = RandomInit.create(c.validate("test"), 3);
        for (String k : WeightBinder.vitKeys(c).keySet()) {
            float[] v = sd.get(k).data();
            if (k.endsWith(".bias")) continue;
            boolean anyNonZero = false;
            for (float x : v) anyNonZero |= x != 0f;
            assertThat(anyNonZero).as(k).isTrue();
            if (k.endsWith("norm.weight") || k.endsWith("norm_pre.weight") || k.endsWith(".gamma")) {
                for (float x : v) assertThat(x).as(k).isEqualTo(1f);
            }
        }
    }

    /** timm's GluMlp.init_weights (the DINOv2 giant's SwiGLUPacked): the value half of fc1 near weight 0, bias 1; the gate half as any Linear. */
    @Test
    void swigluPackedStartsWithItsValueHalfAtOne() {
        ViTConfig c = new ViTConfig("g", 16, 16, 4, 3, 32, 1, 2, 40, true, true, false, ViTConfig.Pool.TOKEN, false, 0, 1e-6f,
                0, false, true, false, ViTConfig.Act.SWIGLU).validate("test");
        StateDict sd = RandomInit.create(c, 5);
        float[] w = sd.get("blocks.0.mlp.fc1.weight").data(), b = sd.get("blocks.0.mlp.fc1.bias").data();
        assertThat(w).hasSize(80 * 32);
        double gate = 0, value = 0;
        for (int i = 0; i < 40 * 32; i++) gate = Math.max(gate, Math.abs(w[i]));
        for (int i = 40 * 32; i < w.length; i++) value = Math.max(value, Math.abs(w[i]));
        assertThat(gate).isGreaterThan(0.01);
        assertThat(value).isGreaterThan(0).isLessThan(1e-5);
        for (int i = 0; i < 80; i++) assertThat(b[i]).as("bias %d", i).isEqualTo(i < 40 ? 0f : 1f);
    }

    /** Weights past the heap are refused before anything is allocated, with the size to run at. */
    @Test
    void weightsPastTheHeapAreRefusedUpFront() {
        assertThatThrownBy(() -> WeightMemory.require(1_136_479_232L, 6L << 30, "vit_giant_patch14_dinov2"))
                .isInstanceOf(io.vitrim.VitrimException.class)
                .hasMessage("vit_giant_patch14_dinov2: the weights need 4.5 GB as float32 (1,136,479,232 parameters), twice that once "
                        + "packed, but the heap limit is 6.0 GiB; run with JAVA_OPTS=-Xmx11g");
        WeightMemory.require(1_136_479_232L, 12L << 30, "fits"); // 9.1 GB of 12 GiB
    }
}
