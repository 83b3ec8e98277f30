package io.vitrim.io;

import io.vitrim.VitrimException;
import io.vitrim.model.RandomInit;
import io.vitrim.model.StateDict;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.model.Architectures;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import io.vitrim.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModelLoaderTest {
    @TempDir
    Path tmp;

    static Path fixture(String rel) {
        try {
            return Path.of(ModelLoaderTest.class.getResource("/fixtures/loader/" + rel).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static final Json.Obj EXPECTED = Fixtures.load("loader/expected.json");

    static void assertLogits(VisionTransformer m, String dtype) {
        ViTConfig cfg = Fixtures.config(EXPECTED.obj("config"));
        float[] px = HashInit.pixels(cfg, 2, EXPECTED.integer("pixel_seed", 0));
        float[] got = m.forward(px, 2, TokenReducer.NONE, false).logits();
        float[] want = Fixtures.floats(EXPECTED.obj("logits").list(dtype));
        assertThat(got).as(dtype + " logits").hasSameSizeAs(want);
        for (int i = 0; i < want.length; i++) assertThat((double) got[i]).as(dtype + " logit " + i).isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-4));
    }

    @Test
    void timmFolderWithLabelsAndPreprocessing() {
        try (VisionTransformer m = ModelLoader.load(fixture("timm_model"), null, 2)) {
            assertThat(m.labels()).containsExactly("ant", "bee", "cat", "dog", "eel");
            assertThat(m.config().embedDim()).isEqualTo(32);
            assertThat(m.config().imgHeight()).isEqualTo(32);
            assertThat(m.preprocess().cropPct()).isEqualTo(0.9);
            assertThat(m.preprocess().mean()).containsExactly(0.5f, 0.5f, 0.5f);
            assertLogits(m, "F32");
        }
    }

    @Test
    void halfAndBfloatWeights() {
        ViTConfig cfg = Fixtures.config(EXPECTED.obj("config"));
        for (String dt : new String[] {"F16", "BF16"}) {
            StateDict sd = ModelLoader.readTensors(fixture("bare_" + dt.toLowerCase() + ".safetensors"));
            try (VisionTransformer m = VisionTransformer.create(cfg, null, null, sd, 1, dt)) {
                assertLogits(m, dt);
            }
        }
    }

    @Test
    void huggingFaceLayoutGivesTheSameModel() {
        try (VisionTransformer m = ModelLoader.load(fixture("hf_model"), null, 1)) {
            assertThat(m.labels()).containsExactly("ant", "bee", "cat", "dog", "eel");
            assertThat(m.preprocess().interpolation().name()).isEqualTo("BILINEAR");
            assertLogits(m, "F32");
        }
    }

    @Test
    void bareFileWithArchTakesClassCountFromHead() throws IOException {
        ViTConfig c = Architectures.get("deit_tiny_patch16_224").config().withNumClasses(10);
        StateDict sd = RandomInit.create(c, 3);
        Path f = tmp.resolve("deit_tiny_10.safetensors");
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        sd.tensors().forEach((k, v) -> {
            long[] s = new long[v.shape().length];
            for (int i = 0; i < s.length; i++) s[i] = v.shape()[i];
            t.put(k, new SafeTensors.Tensor(v.data(), s));
        });
        SafeTensors.write(f, t, null);
        assertThatThrownBy(() -> ModelLoader.read(f, null)).isInstanceOf(VitrimException.class).hasMessageContaining("needs --arch");
        ModelLoader.Checkpoint cp = ModelLoader.read(f, "deit_tiny_patch16_224");
        assertThat(cp.config().numClasses()).isEqualTo(10);
        // the wrong architecture: listed mismatches, one line
        assertThatThrownBy(() -> ModelLoader.load(f, "deit_small_patch16_224", 1))
                .isInstanceOf(VitrimException.class)
                .hasMessageContaining("wrong shape")
                .hasMessageContaining("151 wrong shape: cls_token [1, 1, 192] (expected [1, 1, 384])")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        assertThatThrownBy(() -> ModelLoader.load(f, "deit_tiny_distilled_patch16_224", 1))
                .hasMessageContaining("missing: dist_token");
    }

    @Test
    void configThatDoesNotMatchTheWeights() throws IOException {
        Path d = tmp.resolve("m");
        Files.createDirectories(d);
        Files.copy(fixture("timm_model/model.safetensors"), d.resolve("model.safetensors"));
        Files.writeString(d.resolve("config.json"), Files.readString(fixture("timm_model/config.json")).replace("\"depth\": 2", "\"depth\": 3"));
        assertThatThrownBy(() -> ModelLoader.load(d, null, 1)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("missing: blocks.2.norm1.weight");
        Files.writeString(d.resolve("config.json"), "{\"architecture\": 42}");
        assertThatThrownBy(() -> ModelLoader.load(d, null, 1)).hasMessageContaining("config.json").hasMessageContaining("must be a string");
        Files.writeString(d.resolve("config.json"), "{oops");
        assertThatThrownBy(() -> ModelLoader.load(d, null, 1)).hasMessageContaining("not valid JSON");
        Files.writeString(d.resolve("config.json"), "{\"architecture\": \"vit_small_patch16_224\", \"model_args\": {\"mlp_layer\": \"swiglu\"}}");
        assertThatThrownBy(() -> ModelLoader.load(d, null, 1)).hasMessageContaining("model_args.mlp_layer \"swiglu\" is not supported (mlp, swiglu_packed)");
        // SwiGLUPacked (DINOv2 giant's MLP) over plain MLP weights: fc2 reads half of fc1's width
        Files.writeString(d.resolve("config.json"), Files.readString(fixture("timm_model/config.json"))
                .replace("\"depth\": 2", "\"depth\": 2, \"mlp_layer\": \"swiglu_packed\", \"act_layer\": \"silu\""));
        assertThatThrownBy(() -> ModelLoader.load(d, null, 1)).hasMessageContaining("wrong shape: blocks.0.mlp.fc2.weight");
        // the other gate, whatever the keys' order
        for (String args : new String[] {"\"mlp_layer\": \"swiglu_packed\", \"act_layer\": \"gelu\"", "\"act_layer\": \"gelu\", \"mlp_layer\": \"swiglu_packed\""}) {
            Files.writeString(d.resolve("config.json"), Files.readString(fixture("timm_model/config.json")).replace("\"depth\": 2", "\"depth\": 2, " + args));
            assertThatThrownBy(() -> ModelLoader.load(d, null, 1)).as(args).hasMessageContaining("SwiGLUPacked's gate is SiLU; act_layer must be silu, got \"gelu\"");
        }
        // SiLU is only SwiGLU's gate here
        Files.writeString(d.resolve("config.json"), Files.readString(fixture("timm_model/config.json"))
                .replace("\"depth\": 2", "\"depth\": 2, \"act_layer\": \"silu\""));
        assertThatThrownBy(() -> ModelLoader.load(d, null, 1)).hasMessageContaining("act_layer \"silu\" is supported only as the gate of mlp_layer swiglu_packed");
        // LayerScale is supported now: asked for by the config, its absence in the weights is named
        Files.writeString(d.resolve("config.json"), Files.readString(fixture("timm_model/config.json")).replace("\"depth\": 2", "\"depth\": 2, \"init_values\": 1e-5"));
        assertThatThrownBy(() -> ModelLoader.load(d, null, 1)).hasMessageContaining("missing: blocks.0.ls1.gamma");
        Files.delete(d.resolve("model.safetensors"));
        Files.writeString(d.resolve("pytorch_model.bin"), "x");
        assertThatThrownBy(() -> ModelLoader.load(d, null, 1)).hasMessageContaining("pickle checkpoints are not supported");
    }
}
