package io.vitrim.cli;

import io.vitrim.io.Json;
import io.vitrim.io.SafeTensors;
import io.vitrim.io.SideWeights;
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

/** {@code vitrim finetune --method ltmp} and threshold side files ({@code ltmp:file=}). */
class FinetuneLtmpTest {
    static final Path MODEL = EmbeddedModelTest.FOUR_BLOCK, TEST = EmbeddedModelTest.TEST;

    @TempDir
    Path tmp;

    @Test
    void learnsThresholdsThatEvalReads() throws Exception {
        if (!Files.isRegularFile(TEST)) {
            System.err.println("SKIPPED FinetuneLtmpTest.learnsThresholdsThatEvalReads: " + TEST.toAbsolutePath().normalize() + " is absent");
            Assumptions.abort("needs " + TEST);
        }
        Path out = tmp.resolve("ltmp");
        CliTest.Run r = run("finetune", "--method", "ltmp", "--model", MODEL.toString(), "--data", TEST.toString(), "--limit", "320",
                "--holdout", "64", "--batch", "32", "--target", "0.5", "--lr-prune", "1e-4", "--threads", "2", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        Map<String, Object> summary = Json.parseObject(r.out().trim());
        assertThat(summary).containsKeys("eval_top1", "eval_mac_ratio", "merge_thresholds", "prune_thresholds", "spec");
        assertThat(r.err()).contains("epoch 1/1 8/8");
        Path file = out.resolve("thresholds.safetensors");
        try (SafeTensors st = SafeTensors.open(file)) {
            assertThat(st.entries()).hasSize(8); // 4 blocks × (merge, prune): the thresholds only
            assertThat(st.metadata()).containsEntry("method", "ltmp").containsKey("history");
            for (String k : st.entries().keySet()) assertThat(st.floats(k)[0]).isBetween(0f, 1f);
        }
        assertThat(Files.readString(out.resolve("metrics.jsonl")).lines()).hasSize(1);
        CliTest.Run e = run("eval", "--model", MODEL.toString(), "--data", TEST.toString(), "--limit", "64",
                "--reduce", "ltmp:file=" + file, "--reduce", "ltmp:file=" + file + ",prune=off", "--json");
        assertThat(e.code()).as(e.err()).isZero();
        List<?> res = (List<?>) Json.parseObject(e.out().trim()).get("results");
        double full = ((Number) ((Map<?, ?>) res.get(1)).get("mac_ratio")).doubleValue();
        double mergeOnly = ((Number) ((Map<?, ?>) res.get(2)).get("mac_ratio")).doubleValue();
        // eval's mac_ratio is dense MACs / reduced MACs
        assertThat(full).isGreaterThan(1.0);
        assertThat(mergeOnly).as("prune=off beside file= keeps the file's merge thresholds").isLessThanOrEqualTo(full).isGreaterThan(1.0);
        // the same folder is not overwritten
        assertBadInput(run("finetune", "--method", "ltmp", "--model", MODEL.toString(), "--data", TEST.toString(), "--out", out.toString()),
                "already holds thresholds.safetensors");
    }

    @Test
    void badOptionsAndBadThresholdFilesAreOneLineErrors() throws Exception {
        String data = tmp.resolve("never-read.zip").toString(), out = tmp.resolve("o").toString();
        for (String t : new String[] {"0", "1.5", "NaN", "-0.2"}) {
            assertBadInput(run("finetune", "--method", "ltmp", "--model", MODEL.toString(), "--data", data, "--target", t, "--out", out), "--target", "(0, 1]");
        }
        assertBadInput(run("finetune", "--method", "ltmp", "--model", MODEL.toString(), "--data", data, "--tau", "0", "--out", out), "--tau");
        assertBadInput(run("finetune", "--method", "cropr", "--model", MODEL.toString(), "--data", data, "--out", out), "--method cropr");
        assertThat(Files.exists(Path.of(out))).as("no output after refused options").isFalse();
        // threshold files: for another depth, out of range, NaN, missing
        Path deep = tmp.resolve("deep.safetensors"), nan = tmp.resolve("nan.safetensors"), big = tmp.resolve("big.safetensors");
        SideWeights.write(deep, Map.of("blocks.11.merge_masker.threshold", new float[] {0.9f}), Map.of());
        SideWeights.write(nan, Map.of("blocks.0.merge_masker.threshold", new float[] {Float.NaN}), Map.of());
        SideWeights.write(big, Map.of("blocks.0.prune_masker.threshold", new float[] {1.5f}), Map.of());
        String[][] cases = {
            {"ltmp:file=" + deep, "blocks.11.merge_masker.threshold", "another model"},
            {"ltmp:file=" + nan, "NaN", "outside [0, 1]"},
            {"ltmp:file=" + big, "1.5", "outside [0, 1]"},
            {"ltmp:file=" + tmp.resolve("none.safetensors"), "none.safetensors", "no such file"},
            {"ltmp:file=", "file= needs a path"},
        };
        for (String[] c : cases) {
            String[] frags = java.util.Arrays.copyOfRange(c, 1, c.length);
            assertBadInput(run("classify", "--model", MODEL.toString(), "--reduce", c[0], CliTest.PHOTOS.resolve("chelsea_palette_60x40.png").toString()), frags);
        }
    }
}
