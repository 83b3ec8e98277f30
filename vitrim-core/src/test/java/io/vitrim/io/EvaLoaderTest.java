package io.vitrim.io;

import io.vitrim.VitrimException;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.Architectures;
import io.vitrim.model.Macs;
import io.vitrim.model.RandomInit;
import io.vitrim.model.StateDict;
import io.vitrim.model.VisionTransformer;
import io.vitrim.model.WeightBinder;
import io.vitrim.reduce.TokenReducer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** EVA02 folders and names: what loads, what is refused (one line naming the file), the registry against timm. */
class EvaLoaderTest {
    @TempDir
    Path tmp;

    /**
     * Parameter counts of timm 1.0.29's own models ({@code sum(p.numel() for p in
     * timm.create_model(name).parameters())}, default pretrained tag), so the registry's
     * shapes — SwiGLU width ⌊C·8/3⌋, no k bias, sub-LNs, heads — are timm's.
     */
    static final Map<String, Long> TIMM_PARAMS = Map.ofEntries(
            Map.entry("eva02_tiny_patch14_224", 5_502_144L),
            Map.entry("eva02_small_patch14_224", 21_621_120L),
            Map.entry("eva02_base_patch14_224", 85_758_720L),
            Map.entry("eva02_large_patch14_224", 303_268_800L),
            Map.entry("eva02_tiny_patch14_336", 5_756_584L),
            Map.entry("eva02_base_patch14_448", 87_117_544L),
            Map.entry("eva02_base_patch16_clip_224", 86_263_040L),
            Map.entry("eva02_large_patch14_clip_336", 304_432_832L),
            // the big ones (counted on timm's meta device): EVA02-E's post-norm blocks, EVA01, the DINOv2 giant's SwiGLU
            Map.entry("eva02_enormous_patch14_clip_224", 4_350_556_928L),
            Map.entry("eva_giant_patch14_224", 1_012_555_112L),
            Map.entry("eva_giant_patch14_560", 1_014_447_464L),
            Map.entry("eva_giant_patch14_clip_224", 1_012_588_928L),
            Map.entry("vit_giant_patch14_dinov2", 1_136_479_232L),
            Map.entry("vit_giant_patch14_reg4_dinov2", 1_136_483_840L));

    @Test
    void registryHasTimmsShapes() {
        for (Map.Entry<String, Long> e : TIMM_PARAMS.entrySet()) {
            ViTConfig c = Architectures.get(e.getKey()).config();
            assertThat(c.parameterCount()).as(e.getKey()).isEqualTo(e.getValue());
            long keys = 0;
            for (int[] shape : WeightBinder.vitKeys(c).values()) {
                long n = 1;
                for (int d : shape) n *= d;
                keys += n;
            }
            assertThat(keys).as(e.getKey() + " keys").isEqualTo(e.getValue());
        }
        Architectures.Arch small = Architectures.get("eva02_small_patch14_224.mim_in22k");
        assertThat(small.config().numClasses()).isZero();
        assertThat(small.config().fcNorm()).isTrue();
        assertThat(small.config().numTokens()).isEqualTo(257);
        assertThat(small.preprocess().mean()).containsExactly(PreprocessConfig.CLIP_MEAN);
        // timm's default tag of the 448 px fine-tunes stretches ('squash') instead of cropping
        assertThat(Architectures.get("eva02_base_patch14_448").preprocess().resize()).isEqualTo(PreprocessConfig.Resize.EXACT);
        // the big towers' default tags (timm eva.py / vision_transformer.py pretrained cfgs)
        PreprocessConfig e = Architectures.get("eva02_enormous_patch14_clip_224").preprocess();
        assertThat(e.cropPct()).isEqualTo(0.9);
        assertThat(e.mean()).containsExactly(PreprocessConfig.CLIP_MEAN);
        PreprocessConfig g336 = Architectures.get("eva_giant_patch14_336").preprocess(), g560 = Architectures.get("eva_giant_patch14_560").preprocess();
        assertThat(g336.resize()).isEqualTo(PreprocessConfig.Resize.EXACT);
        assertThat(g336.mean()).containsExactly(PreprocessConfig.CLIP_MEAN);
        assertThat(g560.resize()).isEqualTo(PreprocessConfig.Resize.EXACT);
        assertThat(g560.inputHeight()).isEqualTo(560);
        assertThat(g560.mean()).containsExactly(PreprocessConfig.IMAGENET_MEAN);
        assertThat(Architectures.get("eva_giant_patch14_clip_224").config().numClasses()).isEqualTo(1024);
        assertThat(Architectures.get("vit_giant_patch14_dinov2").preprocess().mean()).containsExactly(PreprocessConfig.IMAGENET_MEAN);
        // SwiGLU has three matrices (gate, value, out): per block 4·N·C² + 2·N²·C + 3·N·C·h, plus the patch embedding
        double n = 257, c = 384, h = 1024;
        assertThat(Macs.dense(small.config())).isEqualTo(12 * (4 * n * c * c + 2 * n * n * c + 3 * n * c * h) + 256 * 588 * c);
    }

    private Path copy(String fixture) throws IOException {
        Path d = Files.createDirectories(tmp.resolve(fixture + "-" + System.nanoTime()));
        Path src = EncoderGoldenTest.folder(fixture);
        Files.copy(src.resolve("model.safetensors"), d.resolve("model.safetensors"));
        Files.copy(src.resolve("config.json"), d.resolve("config.json"));
        return d;
    }

    /** Adds {@code "key": value} to model_args, or replaces the value the fixture gives {@code key}. */
    private static void withArg(Path d, String kv) throws IOException {
        Path cfg = d.resolve("config.json");
        String text = Files.readString(cfg), key = kv.substring(0, kv.indexOf(':') + 1);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(key) + " [^,\\n]+").matcher(text);
        if (!kv.contains(",") && m.find()) text = m.replaceFirst(java.util.regex.Matcher.quoteReplacement(kv));
        else text = text.replace("\"model_args\": {", "\"model_args\": {" + kv + ", ");
        Files.writeString(cfg, text);
    }

    @Test
    void otherEvaOptionsAreRefusedByName() throws IOException {
        String[][] cases = {
                {"\"rope_type\": \"mixed\"", "model_args.rope_type = \"mixed\" is not supported for EVA"},
                {"\"rope_rotate_half\": true", "rope_rotate_half"},
                {"\"init_values\": 1e-5", "init_values"},
                {"\"num_reg_tokens\": 4", "num_reg_tokens"},
                {"\"swiglu_mlp\": false, \"scale_mlp\": true", "scale_mlp without swiglu_mlp"},
                {"\"global_pool\": \"map\"", "global_pool \"map\" is not supported for EVA"},
                {"\"use_fc_norm\": false, \"use_post_transformer_norm\": false", "neither norm nor fc_norm"},
                {"\"mlp_layer\": \"x\"", "model_args.mlp_layer is not supported by vitrim's EVA"},
                {"\"num_heads\": 5", "not divisible by num_heads"},
                {"\"ref_feat_shape\": [4]", "ref_feat_shape must be an int or [h, w]"},
        };
        for (String[] c : cases) {
            Path d = copy("eva02");
            withArg(d, c[0]);
            assertThatThrownBy(() -> ModelLoader.load(d, null, 1)).as(c[0]).isInstanceOf(VitrimException.class)
                    .hasMessageContaining(d.resolve("config.json").toString()).hasMessageContaining(c[1])
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        }
        // a head width RoPE cannot split into row and column halves
        Path d = copy("eva02");
        withArg(d, "\"num_heads\": 4");
        assertThatThrownBy(() -> ModelLoader.load(d, null, 1)).hasMessageContaining("head width divisible by 4, got 6");
    }

    /** timm's post-norm block ignores init_values (no LayerScale there); the pre-norm one would add it, which EVA02 has not. */
    @Test
    void initValuesOnlyWithThePostNormBlock() throws IOException {
        Path d = copy("eva02_e");
        withArg(d, "\"init_values\": 1e-5");
        try (io.vitrim.model.VisionTransformer m = ModelLoader.load(d, null, 1)) {
            assertThat(m.config().eva().postNorm()).isTrue();
        }
        Path e = copy("eva02_e");
        withArg(e, "\"init_values\": 1e-5, \"use_post_norm\": false");
        assertThatThrownBy(() -> ModelLoader.load(e, null, 1)).hasMessageContaining("init_values (LayerScale in an EVA block) is not supported");
    }

    @Test
    void weightsOfAnotherLayoutNameTheKeys() throws IOException {
        // the base layout's config (separate q/k/v, fc1_g/fc1_x, mlp.norm) over the tiny layout's weights
        Path d = copy("eva02");
        withArg(d, "\"qkv_fused\": false, \"scale_mlp\": true");
        assertThatThrownBy(() -> ModelLoader.load(d, null, 1)).isInstanceOf(VitrimException.class)
                .hasMessageContaining(d.resolve("model.safetensors").toString())
                .hasMessageContaining("missing: blocks.0.attn.q_proj.weight")
                .hasMessageContaining("unexpected: blocks.0.attn.q_bias")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        // a GELU MLP over SwiGLU weights
        Path g = copy("eva02");
        withArg(g, "\"swiglu_mlp\": false");
        assertThatThrownBy(() -> ModelLoader.load(g, null, 1)).hasMessageContaining("wrong shape: blocks.0.mlp.fc1.weight [128, 24] (expected [64, 24])");
        // a SwiGLU width the weights do not have
        Path w = copy("eva02");
        withArg(w, "\"mlp_ratio\": 3.0");
        assertThatThrownBy(() -> ModelLoader.load(w, null, 1)).hasMessageContaining("wrong shape: blocks.0.mlp.fc1.weight [128, 24] (expected [144, 24])");
        // the CLIP tower without its attn.norm
        Path c = copy("eva02_clip");
        withArg(c, "\"scale_attn_inner\": false");
        assertThatThrownBy(() -> ModelLoader.load(c, null, 1)).hasMessageContaining("unexpected: blocks.0.attn.norm.weight");
    }

    @Test
    void squashCropModeAndOtherSizes() throws IOException {
        Path d = copy("eva02");
        Path cfg = d.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"crop_pct\": 1.0", "\"crop_pct\": 1.0, \"crop_mode\": \"squash\""));
        ModelLoader.Checkpoint ck = ModelLoader.read(d, null);
        assertThat(ck.preprocess().resize()).isEqualTo(PreprocessConfig.Resize.EXACT);
        Files.writeString(cfg, Files.readString(cfg).replace("\"squash\"", "\"border\""));
        assertThatThrownBy(() -> ModelLoader.read(d, null)).hasMessageContaining("crop_mode \"border\" is not supported (center, squash)");
        // a non-square size keeps its grid (3 x 5 patches of 7 px) and the EVA block
        ModelLoader.Checkpoint other = ModelLoader.atImageSize(ModelLoader.read(copy("eva02"), null), 21, 35);
        assertThat(other.config().numTokens()).isEqualTo(16);
        assertThat(other.config().eva()).isEqualTo(ck.config().eva());
    }

    @Test
    void randomWeightsRunAndTrainingIsRefused() {
        ViTConfig c = Architectures.get("eva02_tiny_patch14_224").config().withImageSize(56, 42).validate("test");
        StateDict sd = RandomInit.create(c, 3);
        for (String k : WeightBinder.vitKeys(c).keySet()) {
            if (k.endsWith("bias")) continue;
            boolean any = false;
            for (float v : sd.get(k).data()) any |= v != 0f;
            assertThat(any).as(k).isTrue();
            if (k.endsWith("norm.weight") || k.endsWith("norm1.weight")) for (float v : sd.get(k).data()) assertThat(v).as(k).isEqualTo(1f);
        }
        try (VisionTransformer m = VisionTransformer.create(c, null, null, sd, 2, "random")) {
            float[] px = new float[2 * 3 * 56 * 42];
            for (int i = 0; i < px.length; i++) px[i] = (float) Math.sin(i * 0.37);
            VisionTransformer.Encoding e = m.encode(px, 2, m.reducer("tome:r=4"), true);
            for (float v : e.embeddings()) assertThat(Float.isFinite(v)).isTrue();
            // 1 + 4·3 patches = 13 → 9 → 5 → 3 → 2 (ToMe's cap ⌊(n − 1)/2⌋), then 2 stay
            assertThat(e.tokenOffsets()[1]).isEqualTo(2);
            assertThatThrownBy(() -> m.newTape(1)).isInstanceOf(VitrimException.class)
                    .hasMessageContaining("training an EVA model").hasMessageContaining("inference only");
        }
    }
}
