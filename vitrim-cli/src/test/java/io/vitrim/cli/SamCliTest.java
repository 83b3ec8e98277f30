package io.vitrim.cli;

import io.vitrim.io.Json;
import io.vitrim.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.vitrim.cli.CliTest.assertBadInput;
import static io.vitrim.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code train --optimizer sam} and {@code eval --sharpness} from the command line. */
class SamCliTest {
    @TempDir
    Path tmp;

    Path dataset() throws IOException {
        return io.vitrim.testing.Fixtures.noiseClassFolders(tmp.resolve("data"), List.of("a", "b", "c"), 8, 16, 8, "%d.png");
    }

    @Test
    void samOptionsFailBeforeLoadingData() {
        Path out = tmp.resolve("ft");
        String data = tmp.resolve("never-read.zip").toString();
        assertBadInput(run("train", "--optimizer", "sam", "--rho", "-1", "--data", data, "--out", out.toString()), "--rho", ">= 0");
        assertBadInput(run("train", "--asam", "--data", data, "--out", out.toString()), "--asam applies to --optimizer sam only");
        assertBadInput(run("train", "--rho", "0.1", "--data", data, "--out", out.toString()), "--rho applies to --optimizer sam only");
        assertBadInput(run("train", "--sam-skip-1d", "--data", data, "--out", out.toString()), "--sam-skip-1d applies to --optimizer sam only");
        assertBadInput(run("train", "--optimizer", "sam", "--asam-eta", "0.1", "--data", data, "--out", out.toString()), "--asam-eta applies to --asam only");
        assertBadInput(run("train", "--optimizer", "sam", "--asam", "--asam-eta", "-1", "--data", data, "--out", out.toString()), "--asam-eta");
        assertBadInput(run("train", "--optimizer", "lion", "--data", data, "--out", out.toString()), "--optimizer lion", "adamw or sam");
        assertThat(Files.exists(out)).isFalse();
        assertBadInput(run("eval", "--model", CliTest.MODEL.toString(), "--data", data, "--sharpness", "-0.5"), "--sharpness must be a radius >= 0");
        assertBadInput(run("eval", "--model", CliTest.MODEL.toString(), "--data", data, "--sharpness-steps", "3"), "--sharpness-steps needs --sharpness");
        assertBadInput(run("eval", "--model", CliTest.MODEL.toString(), "--data", data, "--sharpness", "0.05", "--sharpness-steps", "0"),
                "--sharpness-steps must be at least 1");
        assertBadInput(run("eval", "--model", CliTest.MODEL.toString(), "--data", data, "--sharpness", "0.05", "--sharpness-images", "0"),
                "--sharpness-images must be at least 1");
        assertThat(run("train", "--help").out().replaceAll("\\s+", " ")).contains("two forward/backward passes per step");
    }

    @Test
    void samTrainsSaysWhatItCostsAndEvalMeasuresSharpness() throws IOException {
        Path data = dataset(), out = tmp.resolve("sam");
        CliTest.Run t = run("train", "--data", data.toString(), "--arch", "vit_tiny_patch16_224", "--img-size", "16", "--patch-size", "4",
                "--embed-dim", "32", "--depth", "2", "--heads", "2", "--epochs", "1", "--batch", "8", "--warmup", "0.5",
                "--optimizer", "sam", "--asam", "--threads", "2", "--out", out.toString());
        assertThat(t.code()).as(t.err()).isZero();
        assertThat(t.err()).contains("optimizer: ASAM rho=0.5 eta=0.01 around AdamW - two forward/backward passes per step")
                .containsPattern("epoch 1/1 .* img/s \\(SAM: 2 passes/step\\) ETA");
        Map<String, Object> cfg = Json.parseObject(Trainer.storedMetadata(out).get("train_config"));
        assertThat(cfg).containsEntry("optimizer", "sam").containsEntry("sam_rho", 0.5).containsEntry("sam_adaptive", true);

        CliTest.Run e = run("eval", "--model", out.toString(), "--data", data.toString(), "--sharpness", "0.05", "--sharpness-steps", "2",
                "--batch", "10", "--json");
        assertThat(e.code()).as(e.err()).isZero();
        Map<?, ?> s = (Map<?, ?>) Json.parseObject(e.out().trim()).get("sharpness");
        assertThat(((Number) s.get("images")).intValue()).isEqualTo(24);
        assertThat(((Number) s.get("steps")).intValue()).isEqualTo(2);
        assertThat((List<?>) s.get("losses")).hasSize(2);
        double clean = ((Number) s.get("clean_loss")).doubleValue(), worst = ((Number) s.get("perturbed_loss")).doubleValue();
        assertThat(((Number) s.get("increase")).doubleValue()).isEqualTo(worst - clean).isGreaterThan(0);
        // the text form: accuracy, then one sharpness line; 10 of the 24 images, deterministic
        CliTest.Run text = run("eval", "--model", out.toString(), "--data", data.toString(), "--sharpness", "0.05", "--sharpness-images", "10");
        CliTest.Run again = run("eval", "--model", out.toString(), "--data", data.toString(), "--sharpness", "0.05", "--sharpness-images", "10",
                "--threads", "1");
        assertThat(text.code()).as(text.err()).isZero();
        assertThat(text.lines()).hasSize(2);
        assertThat(text.lines().get(1)).matches("sharpness \\(rho 0\\.05, 5 ascent steps, 10 images\\): clean loss \\d\\.\\d{4}, "
                + "perturbed \\d\\.\\d{4}, increase \\+\\d\\.\\d{4}");
        assertThat(again.lines().get(1)).isEqualTo(text.lines().get(1));
        CliTest.Run zero = run("eval", "--model", out.toString(), "--data", data.toString(), "--sharpness", "0", "--json");
        assertThat(((Number) ((Map<?, ?>) Json.parseObject(zero.out().trim()).get("sharpness")).get("increase")).doubleValue()).isEqualTo(0.0);
    }

    @Test
    void segmentationTrainsWithSamTooAndRhoZeroIsAdamW() throws IOException {
        Path data = SegmentationCliTest.scenes(tmp.resolve("scenes.zip"), 16, 32);
        java.util.function.Function<String, String[]> args = out -> new String[] {"train", "--data", data.toString(), "--labels", "sky,road,car",
                "--ignore-index", "3", "--img-size", "16x24", "--patch-size", "4", "--embed-dim", "16", "--depth", "2", "--heads", "2",
                "--epochs", "1", "--batch", "8", "--warmup", "0", "--reduce", "tome:r=4", "--threads", "2", "--out", tmp.resolve(out).toString()};
        CliTest.Run adamw = run(args.apply("adamw"));
        assertThat(adamw.code()).as(adamw.err()).isZero();
        List<String> zero = new java.util.ArrayList<>(List.of(args.apply("zero")));
        zero.addAll(List.of("--optimizer", "sam", "--rho", "0"));
        CliTest.Run z = run(zero.toArray(String[]::new));
        assertThat(z.code()).as(z.err()).isZero();
        assertThat(z.err()).contains("(SAM: 2 passes/step)");
        io.vitrim.model.StateDict a = io.vitrim.io.ModelLoader.readTensors(tmp.resolve("adamw").resolve("model.safetensors"));
        io.vitrim.model.StateDict b = io.vitrim.io.ModelLoader.readTensors(tmp.resolve("zero").resolve("model.safetensors"));
        for (String k : a.tensors().keySet()) assertThat(b.get(k).data()).as(k).containsExactly(a.get(k).data());
        List<String> sam = new java.util.ArrayList<>(List.of(args.apply("sam")));
        sam.addAll(List.of("--optimizer", "sam"));
        CliTest.Run sr = run(sam.toArray(String[]::new));
        assertThat(sr.code()).as(sr.err()).isZero();
        float[] w = io.vitrim.io.ModelLoader.readTensors(tmp.resolve("sam").resolve("model.safetensors")).get("blocks.0.attn.qkv.weight").data();
        assertThat(w).isNotEqualTo(a.get("blocks.0.attn.qkv.weight").data());
        assertBadInput(run("eval", "--model", tmp.resolve("sam").toString(), "--data", data.toString(), "--sharpness", "0.05"),
                "--sharpness measures classifiers only");
    }
}
