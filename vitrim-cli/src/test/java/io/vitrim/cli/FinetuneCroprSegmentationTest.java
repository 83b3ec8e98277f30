package io.vitrim.cli;

import io.vitrim.io.Json;
import io.vitrim.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.vitrim.cli.SegmentationCliTest.assertBadInput;
import static io.vitrim.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code vitrim finetune --method cropr} on a segmentation model (made here by {@code vitrim
 * train} on synthetic scenes): the auxiliary grid's queries in the model folder, the curriculum's
 * rate per epoch, mIoU with and without pruning, eval/segment with {@code --reduce cropr},
 * resume, and one-line errors for data of the other task and grids that do not fit.
 */
class FinetuneCroprSegmentationTest {
    @TempDir
    Path tmp;

    @Test
    @SuppressWarnings("unchecked")
    void finetunesASegmentationModelWithCroprAndRefusesWhatDoesNotFit() throws Exception {
        Path data = SegmentationCliTest.scenes(tmp.resolve("train.zip"), 16, 32), val = SegmentationCliTest.scenes(tmp.resolve("val.zip"), 4, 32);
        Path seg = tmp.resolve("seg");
        CliTest.Run t = run("train", "--data", data.toString(), "--labels", "sky,road,car", "--ignore-index", "3", "--img-size", "16x24",
                "--patch-size", "4", "--embed-dim", "32", "--depth", "4", "--heads", "2", "--epochs", "1", "--batch", "8", "--warmup", "0",
                "--threads", "2", "--out", seg.toString());
        assertThat(t.code()).as(t.err()).isZero();

        Path out = tmp.resolve("cropr");
        String[] ft = {"finetune", "--method", "cropr", "--model", seg.toString(), "--rate", "3", "--llf", "--curriculum", "--aux-grid", "3x4",
                "--data", data.toString(), "--eval-data", val.toString(), "--epochs", "2", "--batch", "8", "--threads", "2", "--out", out.toString()};
        CliTest.Run r = run(ft);
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("rate 3, llf true, curriculum, 2 module(s) (2 new), 12 queries per module (auxiliary grid 3x4)")
                .contains("layer decay 0.90");
        Map<String, Object> summary = Json.parseObject(r.out().trim());
        assertThat(summary).containsKeys("eval_miou", "eval_miou_reduced", "train_aux_losses").containsEntry("spec", "cropr:rate=3,llf=1");
        assertThat((List<?>) summary.get("train_aux_losses")).hasSize(2);
        // the curriculum over 2 epochs: linspace(0, 3, 1) = [0], then 3
        List<String> log = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertThat(log).hasSize(2);
        assertThat(Json.parseObject(log.get(0)).get("cropr_rate")).isEqualTo(0L);
        assertThat(Json.parseObject(log.get(1)).get("cropr_rate")).isEqualTo(3L);
        try (SafeTensors st = SafeTensors.open(out.resolve("model.safetensors"))) {
            assertThat(st.entries().get("cropr.0.cross_attn.queries").shape()).containsExactly(1, 12, 32);
            assertThat(st.entries().get("cropr.1.head.head.weight").shape()).containsExactly(3, 32);
            assertThat(st.entries()).containsKeys("decoder.head.weight").doesNotContainKey("cropr.2.cross_attn.queries");
        }
        Map<String, Object> cfg = Json.parseObject(Files.readString(out.resolve("config.json")));
        assertThat(cfg).containsKey("segmentation");
        Map<String, Object> cc = (Map<String, Object>) cfg.get("cropr_cfg");
        assertThat(cc).containsEntry("num_queries", 12L).containsEntry("llf", true).containsEntry("pruning_rate", 3L);
        assertThat((List<Object>) cc.get("aux_grid")).containsExactly(3L, 4L);

        CliTest.Run e = run("eval", "--model", out.toString(), "--data", val.toString(), "--reduce", "cropr", "--json", "--batch", "4");
        assertThat(e.code()).as(e.err()).isZero();
        Map<String, Object> cropr = (Map<String, Object>) ((List<Object>) Json.parseObject(e.out()).get("results")).get(1);
        assertThat(cropr.get("spec")).isEqualTo("cropr:rate=3,llf=1");
        assertThat(cropr).containsKeys("miou", "per_class_iou");
        // blocks 1 and 2 see 21 and 18 of 25 tokens, the last block all of them again
        assertThat(((Number) cropr.get("mac_ratio")).doubleValue()).isBetween(1.05, 1.3);
        CliTest.Run s = run("segment", "--model", out.toString(), "--reduce", "cropr", val.toString(), "--out", tmp.resolve("masks").toString());
        assertThat(s.code()).as(s.err()).isZero();
        assertThat(tmp.resolve("masks").resolve("s000.mask.png")).exists();

        CliTest.Run again = run("finetune", "--resume", "--out", out.toString(), "--threads", "2");
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.err()).contains("resumed from").contains("after epoch 2");

        // data of the other task, grids that do not fit: one line each, before any data is read
        Path classes = tmp.resolve("classes");
        Files.createDirectories(classes.resolve("cat"));
        Files.createDirectories(classes.resolve("dog"));
        String o2 = tmp.resolve("o2").toString();
        assertBadInput(run("finetune", "--method", "cropr", "--model", seg.toString(), "--rate", "3", "--llf", "--data", classes.toString(),
                "--out", o2), "not a segmentation set", "is a segmentation model");
        assertBadInput(run("finetune", "--method", "cropr", "--model", EmbeddedModelTest.MODEL.toString(), "--rate", "3", "--data", data.toString(),
                "--out", o2), "a segmentation set", "is a classifier");
        assertBadInput(run("finetune", "--method", "cropr", "--model", EmbeddedModelTest.MODEL.toString(), "--rate", "3", "--aux-grid", "4x4",
                "--data", classes.toString(), "--out", o2), "--aux-grid", "apply to a segmentation model");
        assertBadInput(run("finetune", "--method", "cropr", "--model", seg.toString(), "--rate", "3", "--llf", "--aux-grid", "17x4",
                "--data", data.toString(), "--out", o2), "--aux-grid 17x4 does not fit", "16x24 input");
        assertBadInput(run("finetune", "--method", "cropr", "--model", seg.toString(), "--rate", "3", "--llf", "--aux-grid", "3by4",
                "--data", data.toString(), "--out", o2), "expects HxW");
        assertBadInput(run("finetune", "--method", "cropr", "--model", seg.toString(), "--rate", "3", "--llf", "--holdout", "4",
                "--data", data.toString(), "--out", o2), "no --holdout");
        assertBadInput(run("finetune", "--method", "cropr", "--model", seg.toString(), "--rate", "3", "--llf", "--randaugment", "2,9",
                "--data", data.toString(), "--out", o2), "--randaugment", "apply to a classifier");
        assertBadInput(run("finetune", "--method", "cropr", "--model", seg.toString(), "--rate", "12", "--llf",
                "--data", data.toString(), "--out", o2), "rate=12", "at most rate=11");
        // continuing the fine-tuned model on another grid: its queries are one per cell of 3x4
        assertBadInput(run("finetune", "--method", "cropr", "--model", out.toString(), "--rate", "3", "--llf",
                "--data", data.toString(), "--out", o2), "has 12 queries", "4x6 (the patch grid) needs 24");
        assertThat(Files.exists(Path.of(o2))).as("no output after refused options").isFalse();
    }
}
