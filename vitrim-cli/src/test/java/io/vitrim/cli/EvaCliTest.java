package io.vitrim.cli;

import io.vitrim.config.ViTConfig;
import io.vitrim.io.Json;
import io.vitrim.io.SafeTensors;
import io.vitrim.model.Architectures;
import io.vitrim.model.RandomInit;
import io.vitrim.model.VisionTransformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.vitrim.cli.CliTest.assertBadInput;
import static io.vitrim.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** EVA02 from the command line: info, embed (random weights by --arch), bench, and training refused. */
class EvaCliTest {
    static final Path SAMPLES = Path.of("../samples");
    static final String ARCH = "eva02_tiny_patch14_224";

    @TempDir
    Path tmp;

    @Test
    void infoDescribesTheBlock() {
        CliTest.Run r = run("info", "--arch", "eva02_small_patch14_224", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        Map<String, Object> o = Json.parseObject(r.out().trim());
        assertThat(((Number) o.get("parameters")).longValue()).isEqualTo(21_621_120L); // timm's count
        assertThat(((Number) o.get("mlp_hidden")).intValue()).isEqualTo(1024);
        assertThat(o.get("block")).isEqualTo("eva (SwiGLU, RoPE ref 16x16, fused qkv)");
        CliTest.Run clip = run("info", "--arch", "eva02_base_patch16_clip_224", "--img-size", "112", "--reduce", "tome:r=4", "--explain");
        assertThat(clip.code()).as(clip.err()).isZero();
        assertThat(clip.out()).contains("eva (SwiGLU, RoPE ref 16x16, q/k/v projections, mlp.norm, attn.norm)").contains("mac_ratio");
        // the DINOv2 giant's layout (timm-made at width 32, from the core fixtures)
        CliTest.Run giant = run("info", "--model", "../vitrim-core/src/test/resources/fixtures/encoders/dinov2_giant", "--json");
        assertThat(giant.code()).as(giant.err()).isZero();
        Map<String, Object> g = Json.parseObject(giant.out().trim());
        assertThat(g.get("block")).isEqualTo("vit (SwiGLUPacked MLP, LayerScale)");
        assertThat(((Number) g.get("mlp_hidden")).intValue()).isEqualTo(85);
        // the towers too big to build here: their block as info names it
        assertThat(InfoCommand.evaBlock(Architectures.get("eva02_enormous_patch14_clip_224").config().eva()))
                .isEqualTo("eva (post-norm, GELU MLP, fused qkv)");
        assertThat(InfoCommand.evaBlock(Architectures.get("eva_giant_patch14_224").config().eva())).isEqualTo("eva (GELU MLP, fused qkv)");
    }

    /** The same random-weight tower the command builds, at 56 px (16 patches + class). */
    static VisionTransformer model() {
        Architectures.Arch a = Architectures.get(ARCH);
        ViTConfig c = a.config().withImageSize(56, 56);
        return VisionTransformer.create(c, a.preprocess().withInputSize(56, 56), null, RandomInit.create(c, 0), 2, ARCH);
    }

    @Test
    void embedWritesWhatEncodeGives() throws Exception {
        List<Path> files = List.of(SAMPLES.resolve("cat_0000.jpg"), SAMPLES.resolve("ship_0001.jpg"), SAMPLES.resolve("dog_0000.jpg"));
        Path out = tmp.resolve("e.safetensors");
        CliTest.Run r = run("embed", "--arch", ARCH, "--img-size", "56", "--reduce", "tome:r=3", "--tokens", "--batch", "2",
                files.get(0).toString(), files.get(1).toString(), files.get(2).toString(), "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("3 images").contains("[3 x 192]");
        try (VisionTransformer m = model(); SafeTensors st = SafeTensors.open(out)) {
            VisionTransformer.Encoding e = m.encode(EmbedCommandTest.pixels(m, files), 3, m.reducer("tome:r=3"), true);
            assertThat(st.floats("embeddings")).containsExactly(e.embeddings());
            assertThat(st.floats("tokens")).containsExactly(e.tokens());
            float[] off = st.floats("token_offsets"), src = st.floats("source");
            // 17 → 14 → 11 → 8 → 5 → 3 → 2 tokens (cap ⌊(n − 1)/2⌋); the class token stays first
            assertThat((int) (off[1] - off[0])).isEqualTo(2);
            for (int b = 0; b < 3; b++) assertThat((int) src[b * 17]).isZero();
            // MIM EVA02 has no head: the embedding is fc_norm of the mean patch token, not the class token
            boolean differs = false;
            for (int j = 0; j < 192; j++) differs |= e.embeddings()[j] != e.tokens()[j];
            assertThat(differs).isTrue();
        }
    }

    @Test
    void benchRunsWithMerging() {
        // a smoke run (one round, no warm-up, tiny input): the command works on EVA02, nothing is measured here
        CliTest.Run b = run("bench", "--arch", ARCH, "--img-size", "56", "--reduce", "tome:r=8", "--batch", "1", "--warmup", "0",
                "--rounds", "1", "--threads", "1", "--json");
        assertThat(b.code()).as(b.err()).isZero();
        assertThat(b.out()).contains("tome:r=8").contains("none");
    }

    @Test
    void trainingIsRefused() throws Exception {
        Path folder = Path.of("../vitrim-core/src/test/resources/fixtures/encoders/eva02_base");
        Path out = tmp.resolve("ft");
        assertBadInput(run("train", "--init", folder.toString(), "--data", tmp.resolve("never-read.zip").toString(), "--out", out.toString()),
                "eva02_base", "training an EVA model", "inference only");
        assertThat(Files.exists(out)).isFalse();
        // nor from scratch under an EVA name (it would be a plain ViT that does not load back as EVA02)
        assertBadInput(run("train", "--arch", ARCH, "--data", tmp.resolve("never-read.zip").toString(), "--out", out.toString()),
                "--arch " + ARCH, "inference only");
        assertThat(Files.exists(out)).isFalse();
        // the same for the other encoder names (registers and LayerScale, an attention pool), and for segmentation
        for (String enc : new String[] {"vit_small_patch14_reg4_dinov2", "vit_base_patch16_siglip_224"}) {
            assertBadInput(run("train", "--arch", enc, "--data", tmp.resolve("never-read.zip").toString(), "--out", out.toString()),
                    "--arch " + enc, "inference only");
        }
        assertBadInput(run("train", "--task", "segmentation", "--arch", ARCH, "--labels", "a,b", "--img-size", "28x28",
                "--data", tmp.resolve("never-read.zip").toString(), "--out", out.toString()), "--arch " + ARCH, "inference only");
        assertThat(Files.exists(out)).isFalse();
    }
}
