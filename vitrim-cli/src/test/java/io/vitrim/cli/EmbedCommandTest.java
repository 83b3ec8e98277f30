package io.vitrim.cli;

import io.vitrim.image.ImageDecoder;
import io.vitrim.image.Preprocessor;
import io.vitrim.io.Json;
import io.vitrim.io.SafeTensors;
import io.vitrim.model.Architectures;
import io.vitrim.model.RandomInit;
import io.vitrim.model.VisionTransformer;
import io.vitrim.config.ViTConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.vitrim.cli.CliTest.assertBadInput;
import static io.vitrim.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code vitrim embed}: what it writes equals the Java API's {@code encode}, and bad input leaves no file. */
class EmbedCommandTest {
    static final Path SAMPLES = Path.of("../samples");
    static final String ARCH = "vit_small_patch14_reg4_dinov2";

    @TempDir
    Path tmp;

    /** The same random-weight tower the command builds, at 56 px (16 patches + class + 4 registers). */
    static VisionTransformer model() {
        Architectures.Arch a = Architectures.get(ARCH);
        ViTConfig c = a.config().withImageSize(56, 56);
        return VisionTransformer.create(c, a.preprocess().withInputSize(56, 56), null, RandomInit.create(c, 0), 2, ARCH);
    }

    static float[] pixels(VisionTransformer m, List<Path> files) throws Exception {
        Preprocessor pre = new Preprocessor(m.preprocess());
        int per = 3 * 56 * 56;
        float[] px = new float[files.size() * per];
        for (int i = 0; i < files.size(); i++) {
            pre.toTensor(ImageDecoder.decode(Files.readAllBytes(files.get(i)), files.get(i).toString()), px, i * per);
        }
        return px;
    }

    @Test
    void writesTheEmbeddingsTokensAndSourceMapOfEncode() throws Exception {
        List<Path> files = List.of(SAMPLES.resolve("cat_0000.jpg"), SAMPLES.resolve("dog_0000.jpg"), SAMPLES.resolve("ship_0001.jpg"));
        Path out = tmp.resolve("e.safetensors");
        CliTest.Run r = run("embed", "--arch", ARCH, "--img-size", "56", "--reduce", "tome:r=3", "--tokens", "--batch", "2",
                files.get(0).toString(), files.get(1).toString(), files.get(2).toString(), "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("3 images").contains("[3 x 384]");
        try (VisionTransformer m = model(); SafeTensors st = SafeTensors.open(out)) {
            VisionTransformer.Encoding e = m.encode(pixels(m, files), 3, m.reducer("tome:r=3"), true);
            assertThat(st.entry("embeddings").shape()).containsExactly(3, 384);
            assertThat(st.floats("embeddings")).containsExactly(e.embeddings());
            float[] off = st.floats("token_offsets");
            for (int b = 0; b <= 3; b++) assertThat((int) off[b]).isEqualTo(e.tokenOffsets()[b]);
            // ToMe keeps the 5 prefix tokens and merges r = 3 per block while it can (cap ⌊(n − 5)/2⌋): 21 → 18 → 15 → 12 → 9 → 7 → 6
            assertThat((int) (off[1] - off[0])).isEqualTo(5 + 1);
            assertThat(st.floats("tokens")).containsExactly(e.tokens());
            float[] src = st.floats("source");
            assertThat(src).hasSize(3 * 21);
            for (int b = 0; b < 3; b++) {
                for (int q = 0; q < 5; q++) assertThat((int) src[b * 21 + q]).as("prefix token %d stays", q).isEqualTo(q);
                for (int q = 0; q < 21; q++) assertThat((int) src[b * 21 + q]).isEqualTo(e.source()[b][q]);
            }
            List<?> inputs = (List<?>) Json.parse(st.metadata().get("inputs"));
            assertThat(inputs).hasSize(3);
            assertThat(st.metadata()).containsEntry("reduce", "tome:r=3");
            // the pooled embedding is the normalised class token, as timm's forward_head(pre_logits) for num_classes 0
            for (int j = 0; j < 384; j++) assertThat(e.embeddings()[j]).isEqualTo(e.tokens()[j]);
        }
    }

    @Test
    void writesNpy() throws Exception {
        List<Path> files = List.of(SAMPLES.resolve("cat_0000.jpg"), SAMPLES.resolve("deer_0001.jpg"));
        Path out = tmp.resolve("e.npy");
        CliTest.Run r = run("embed", "--arch", ARCH, "--img-size", "56", files.get(0).toString(), files.get(1).toString(), "-o", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        byte[] b = Files.readAllBytes(out);
        assertThat(new String(b, 1, 5, StandardCharsets.US_ASCII)).isEqualTo("NUMPY");
        int hlen = (b[8] & 0xff) | (b[9] & 0xff) << 8;
        assertThat((10 + hlen) % 64).isZero();
        assertThat(new String(b, 10, hlen, StandardCharsets.US_ASCII)).contains("'descr': '<f4'").contains("'shape': (2, 384)");
        float[] got = new float[2 * 384];
        ByteBuffer.wrap(b, 10 + hlen, got.length * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(got);
        try (VisionTransformer m = model()) {
            assertThat(got).containsExactly(m.encode(pixels(m, files), 2, m.reducer("none"), false).embeddings());
        }
    }

    @Test
    void compareReportsHowFarEmbeddingsMove() throws Exception {
        Path out = tmp.resolve("e.npy");
        CliTest.Run r = run("embed", "--arch", ARCH, "--img-size", "56", SAMPLES.toString(), "-o", out.toString(), "--json",
                "--compare", "none", "--compare", "tome:r=3", "--compare", "ltmp:merge=0.2,prune=0.5");
        assertThat(r.code()).as(r.err()).isZero();
        Map<String, Object> rep = Json.parseObject(r.out().trim());
        assertThat(((Number) rep.get("images")).intValue()).isEqualTo(20);
        List<?> rows = (List<?>) rep.get("compare");
        Map<?, ?> same = (Map<?, ?>) rows.get(0), tome = (Map<?, ?>) rows.get(1), ltmp = (Map<?, ?>) rows.get(2);
        assertThat(((Number) same.get("cosine_min")).doubleValue()).as("none vs none").isEqualTo(1.0, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(((Number) same.get("mac_ratio")).doubleValue()).isEqualTo(1.0);
        for (Map<?, ?> m : List.of(tome, ltmp)) {
            double mean = ((Number) m.get("cosine_mean")).doubleValue(), min = ((Number) m.get("cosine_min")).doubleValue();
            assertThat(min).isLessThanOrEqualTo(((Number) m.get("cosine_p05")).doubleValue());
            assertThat(mean).isLessThan(1.0).isGreaterThan(min - 1e-12);
            assertThat(((Number) m.get("mac_ratio")).doubleValue()).isGreaterThan(1.0);   // dense / reduced
        }
    }

    @Test
    void zeroShotPicksTheClosestTextEmbedding() throws Exception {
        List<Path> files = List.of(SAMPLES.resolve("cat_0000.jpg"), SAMPLES.resolve("dog_0000.jpg"), SAMPLES.resolve("ship_0001.jpg"));
        Path text = tmp.resolve("prompts.safetensors");
        try (VisionTransformer m = model()) {
            // "text" embeddings that are the images' own (scaled: only the direction counts)
            float[] e = m.encode(pixels(m, files), 3, m.reducer("none"), false).embeddings();
            for (int i = 0; i < e.length; i++) e[i] *= 3f;
            SafeTensors.write(text, Map.of("embeddings", new SafeTensors.Tensor(e, 3, 384)), Map.of("labels", "[\"a cat\",\"a dog\",\"a ship\"]"));
        }
        CliTest.Run r = run("embed", "--arch", ARCH, "--img-size", "56", "--zero-shot", text.toString(), "--json", "-k", "2",
                files.get(0).toString(), files.get(1).toString(), files.get(2).toString(), "--out", tmp.resolve("e.npy").toString());
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines).hasSize(3);
        String[] want = {"a cat", "a dog", "a ship"};
        for (int i = 0; i < 3; i++) {
            Map<String, Object> o = Json.parseObject(lines.get(i));
            List<?> top = (List<?>) o.get("top");
            assertThat(top).hasSize(2);
            Map<?, ?> first = (Map<?, ?>) top.get(0);
            assertThat(first.get("label")).isEqualTo(want[i]);
            assertThat(((Number) first.get("cosine")).doubleValue()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
        }
        Path bad = tmp.resolve("bad.safetensors");
        SafeTensors.write(bad, Map.of("embeddings", new SafeTensors.Tensor(new float[2 * 10], 2, 10)), Map.of("labels", "[\"a\",\"b\"]"));
        assertBadInput(run("embed", "--arch", ARCH, "--img-size", "56", "--zero-shot", bad.toString(), files.get(0).toString(),
                "--out", tmp.resolve("f.npy").toString()), "bad.safetensors", "[K, 384]");
        assertThat(tmp.resolve("f.npy")).doesNotExist();
    }

    @Test
    void badInputIsOneLineAndNoFile() throws Exception {
        Path cat = SAMPLES.resolve("cat_0000.jpg");
        Path npy = tmp.resolve("x.npy");
        assertBadInput(run("embed", "--arch", ARCH, "--img-size", "56", "--tokens", cat.toString(), "--out", npy.toString()),
                "--tokens needs a .safetensors output");
        assertBadInput(run("embed", "--arch", ARCH, "--img-size", "56", cat.toString(), "--out", tmp.resolve("x.csv").toString()),
                "must end in .safetensors or .npy");
        Path broken = tmp.resolve("broken.jpg");
        Files.write(broken, new byte[] {(byte) 0xff, (byte) 0xd8, (byte) 0xff, 1, 2, 3});
        Path out = tmp.resolve("y.safetensors");
        assertBadInput(run("embed", "--arch", ARCH, "--img-size", "56", cat.toString(), broken.toString(), "--out", out.toString()),
                "broken.jpg");
        assertThat(out).doesNotExist();
        assertThat(npy).doesNotExist();
        assertBadInput(run("embed", "--arch", ARCH, "--img-size", "0", cat.toString(), "--out", out.toString()), "--img-size 0");
        // a model without a head cannot classify: the command says what to use instead
        assertBadInput(run("classify", "--arch", ARCH, "--img-size", "56", cat.toString()), "no classifier head", "vitrim embed");
        try (var list = Files.list(tmp)) {
            assertThat(list.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList()).as("no temp files left").isEmpty();
        }
    }
}
