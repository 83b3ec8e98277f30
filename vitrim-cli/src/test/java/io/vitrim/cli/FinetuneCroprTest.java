package io.vitrim.cli;

import io.vitrim.io.Json;
import io.vitrim.io.SafeTensors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.vitrim.cli.CliTest.assertBadInput;
import static io.vitrim.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code vitrim finetune --method cropr}: a model folder that eval runs with {@code --reduce cropr}, resume, bad input. */
class FinetuneCroprTest {
    static final Path MODEL = EmbeddedModelTest.FOUR_BLOCK, TEST = EmbeddedModelTest.TEST;

    @TempDir
    Path tmp;

    @Test
    void trainsAModelFolderThatEvalRunsWithReduceCropr() throws Exception {
        if (!Files.isRegularFile(TEST)) {
            System.err.println("SKIPPED FinetuneCroprTest.trainsAModelFolderThatEvalRunsWithReduceCropr: " + TEST.toAbsolutePath().normalize() + " is absent");
            Assumptions.abort("needs " + TEST);
        }
        Path out = tmp.resolve("cropr");
        CliTest.Run r = run("finetune", "--method", "cropr", "--rate", "12", "--model", MODEL.toString(), "--data", TEST.toString(),
                "--limit", "192", "--holdout", "64", "--batch", "32", "--threads", "2", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        Map<String, Object> summary = Json.parseObject(r.out().trim());
        assertThat(summary).containsKeys("eval_top1", "eval_top1_reduced", "train_aux_losses").containsEntry("spec", "cropr:rate=12,llf=0");
        assertThat((List<?>) summary.get("train_aux_losses")).hasSize(3); // modules after blocks 0, 1, 2 of 4
        assertThat(r.err()).contains("rate 12, llf false", "3 module(s) (3 new)");
        try (SafeTensors st = SafeTensors.open(out.resolve("model.safetensors"))) {
            assertThat(st.entries()).containsKeys("cropr.0.cross_attn.queries", "cropr.2.head.head.weight", "blocks.3.mlp.fc2.bias");
        }
        Map<String, Object> cfg = Json.parseObject(Files.readString(out.resolve("config.json")));
        assertThat(cfg).containsKey("cropr_cfg");
        // metrics.csv stays rectangular although a column holds a list (quoted as RFC 4180 says)
        List<String> csv = Files.readAllLines(out.resolve("metrics.csv"));
        assertThat(csv).hasSize(2);
        assertThat(csv.get(1)).contains("\"[");
        assertThat(csvFields(csv.get(1))).isEqualTo(csvFields(csv.get(0)));
        CliTest.Run e = run("eval", "--model", out.toString(), "--data", TEST.toString(), "--limit", "64",
                "--reduce", "cropr", "--reduce", "cropr:scorer=random", "--json");
        assertThat(e.code()).as(e.err()).isZero();
        List<?> res = (List<?>) Json.parseObject(e.out().trim()).get("results");
        Map<?, ?> cropr = (Map<?, ?>) res.get(1);
        assertThat(cropr.get("spec")).isEqualTo("cropr:rate=12,llf=0");
        // modules after blocks 0..2 leave 52, 40, 28 tokens: 1.48x fewer MACs than 65 everywhere
        assertThat(((Number) cropr.get("mac_ratio")).doubleValue()).isBetween(1.4, 1.6);
        // resuming a finished run does nothing more and says so in the same summary
        CliTest.Run again = run("finetune", "--resume", "--out", out.toString(), "--threads", "2");
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.err()).contains("resumed from").contains("after epoch 1");
        assertThat(Files.readString(out.resolve("metrics.jsonl")).lines()).hasSize(1);
        assertBadInput(run("finetune", "--method", "cropr", "--rate", "12", "--model", MODEL.toString(), "--data", TEST.toString(),
                "--out", out.toString()), "already holds a training run");
        // the base model's augmentation recipe for the fine-tune, kept in the checkpoint for --resume
        Path aug = tmp.resolve("cropr-aug");
        CliTest.Run ra = run("finetune", "--method", "cropr", "--rate", "12", "--model", MODEL.toString(), "--data", TEST.toString(),
                "--limit", "96", "--holdout", "32", "--batch", "32", "--threads", "2", "--randaugment", "2,9", "--mixup", "0.8",
                "--cutmix", "1.0", "--random-erase", "0.25", "--out", aug.toString());
        assertThat(ra.code()).as(ra.err()).isZero();
        assertThat(ra.err()).contains("RandAugment 2,9, mixup 0.8, CutMix 1.0, random erasing 0.25");
        try (SafeTensors st = SafeTensors.open(aug.resolve("checkpoint.safetensors"))) {
            Map<String, Object> tc = Json.parseObject(st.metadata().get("train_config"));
            assertThat(tc).containsEntry("randaugment_ops", 2L).containsEntry("randaugment_magnitude", 9L)
                    .containsEntry("random_erase", 0.25).containsEntry("mixup_alpha", 0.8).containsEntry("cutmix_alpha", 1.0);
        }
    }

    @Test
    void badOptionsAreOneLineErrorsBeforeAnyDataIsRead() {
        String data = tmp.resolve("never-read.zip").toString(), out = tmp.resolve("o").toString();
        assertBadInput(run("finetune", "--method", "cropr", "--model", MODEL.toString(), "--data", data, "--out", out), "needs --rate");
        assertBadInput(run("finetune", "--method", "cropr", "--rate", "40", "--model", MODEL.toString(), "--data", data, "--out", out),
                "rate=40", "at most rate=20");
        assertBadInput(run("finetune", "--method", "cropr", "--rate", "40", "--llf", "--model", MODEL.toString(), "--data", data, "--out", out),
                "at most rate=31");
        assertBadInput(run("finetune", "--method", "cropr", "--rate", "-2", "--model", MODEL.toString(), "--data", data, "--out", out), "--rate");
        assertBadInput(run("finetune", "--method", "cropr", "--rate", "4", "--lr", "0", "--model", MODEL.toString(), "--data", data, "--out", out), "lr > 0");
        assertBadInput(run("finetune", "--method", "ltmp", "--rate", "4", "--model", MODEL.toString(), "--data", data, "--out", out), "cropr options");
        assertBadInput(run("finetune", "--method", "ltmp", "--randaugment", "2,9", "--model", MODEL.toString(), "--data", data, "--out", out), "cropr options");
        assertBadInput(run("finetune", "--method", "cropr", "--rate", "4", "--randaugment", "2,40", "--model", MODEL.toString(), "--data", data,
                "--out", out), "RandAugment", "magnitude 0-30");
        assertBadInput(run("finetune", "--method", "cropr", "--rate", "4", "--random-erase", "2", "--model", MODEL.toString(), "--data", data,
                "--out", out), "random-erasing");
        assertBadInput(run("finetune", "--method", "tome", "--model", MODEL.toString(), "--data", data, "--out", out), "not a learned method");
        assertBadInput(run("finetune", "--resume", "--out", out), "has no checkpoint");
        assertThat(Files.exists(Path.of(out))).as("no output after refused options").isFalse();
        // a model folder without queries
        assertBadInput(run("classify", "--model", MODEL.toString(), "--reduce", "cropr:rate=8,llf=1", CliTest.PHOTOS.resolve("chelsea_palette_60x40.png").toString()),
                "no cropr.0.cross_attn.queries");
        assertBadInput(run("classify", "--model", MODEL.toString(), "--reduce", "cropr", CliTest.PHOTOS.resolve("chelsea_palette_60x40.png").toString()),
                "give rate=R");
    }

    /** Fields of one CSV line, commas inside double quotes not counted. */
    private static int csvFields(String line) {
        int n = 1;
        boolean quoted = false;
        for (char c : line.toCharArray()) {
            if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted) n++;
        }
        return n;
    }
}
