package io.vitrim.cli;

import io.vitrim.io.Json;
import io.vitrim.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class CliTest {
    static final Path FIX = Path.of("../vitrim-core/src/test/resources/fixtures");
    static final Path MODEL = FIX.resolve("loader/timm_model");
    static final Path PHOTOS = FIX.resolve("images/src");

    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {
        List<String> lines() {
            return out.lines().toList();
        }
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    static void assertBadInput(Run r, String... fragments) {
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        List<String> lines = r.err().lines().filter(l -> !l.startsWith("Try '")).toList();
        assertThat(lines).as("one line on stderr: " + r.err()).hasSize(1);
        assertThat(lines.get(0)).startsWith("vitrim: ").doesNotContain("Exception").doesNotContain("\tat ");
        for (String f : fragments) assertThat(lines.get(0)).contains(f);
    }

    @Test
    void classifiesFoldersAndFilesAsTextAndJson() {
        Run text = run("classify", "--model", MODEL.toString(), "--topk", "2", PHOTOS.resolve("rocket_640x427.jpg").toString());
        assertThat(text.code()).as(text.err()).isZero();
        assertThat(text.out()).matches("(?s).*rocket_640x427\\.jpg: (ant|bee|cat|dog|eel) \\d+\\.\\d% \\| .*");

        Run json = run("classify", "--model", MODEL.toString(), "--json", "--logits", "--batch", "3", PHOTOS.toString());
        assertThat(json.code()).as(json.err()).isZero();
        assertThat(json.lines()).hasSize(8);
        for (String line : json.lines()) {
            Map<String, Object> o = Json.parseObject(line);
            assertThat(o).containsKeys("input", "top", "tokens", "logits");
            assertThat((List<?>) o.get("top")).hasSize(5);
            assertThat((List<?>) o.get("logits")).hasSize(5);
            assertThat(o.get("tokens")).isEqualTo(List.of(17L, 17L));
        }
    }

    @Test
    void reductionsInClassifyAndBench() {
        Run tome = run("classify", "--model", MODEL.toString(), "--reduce", "tome:r=4", "--json", PHOTOS.resolve("rocket_640x427.jpg").toString());
        assertThat(tome.code()).as(tome.err()).isZero();
        assertThat(Json.parseObject(tome.out().trim()).get("tokens")).isEqualTo(List.of(17L, 13L));
        Run ppt = run("classify", "--model", MODEL.toString(), "--reduce", "ppt:r=3,layers=0/1,threshold=0", "--json", "--explain", PHOTOS.toString());
        assertThat(ppt.code()).as(ppt.err()).isZero();
        for (String line : ppt.lines()) assertThat(Json.parseObject(line).get("decisions")).isEqualTo(List.of("0:prune", "1:prune"));
        assertThat(ppt.err()).contains("8 prune");
        Run b = run("bench", "--model", MODEL.toString(), "--reduce", "tome:r=4", "--reduce", "lgtm:r=4,dense=0,switch=1,windows=2x2",
                "--batch", "2", "--warmup", "0", "--rounds", "1", "--json", "--breakdown");
        assertThat(b.code()).as(b.err()).isZero();
        List<?> res = (List<?>) Json.parseObject(b.out().trim()).get("results");
        assertThat(res.stream().map(o -> ((Map<?, ?>) o).get("spec")).toList()).isEqualTo(List.of("none", "tome:r=4", "lgtm:r=4,dense=0,switch=1,windows=2x2"));
        assertThat(((Number) ((Map<?, ?>) res.get(1)).get("mac_ratio")).doubleValue()).isGreaterThan(1.0);
        // --breakdown: every part of the forward pass, MACs that add up to the method's, reduction time where reducing
        // (the unreduced row's "reduce" holds only the no-op calls: a few microseconds, not asserted, being a time)
        for (Object o : res) {
            Map<?, ?> r = (Map<?, ?>) o;
            Map<?, ?> phases = (Map<?, ?>) r.get("phases");
            assertThat(List.copyOf(phases.keySet())).isEqualTo(List.of("embed", "norm", "qkv", "attention", "proj", "reduce", "fc1", "fc2", "head"));
            double macs = 0, ms = 0;
            for (Object v : phases.values()) {
                macs += ((Number) ((Map<?, ?>) v).get("gmacs")).doubleValue();
                ms += ((Number) ((Map<?, ?>) v).get("median_ms")).doubleValue();
            }
            assertThat(macs).as("phase MACs of %s", r.get("spec")).isCloseTo(((Number) r.get("gmacs")).doubleValue(), org.assertj.core.data.Offset.offset(1e-9));
            assertThat(ms).as("phase times of %s", r.get("spec")).isPositive();
            double reduceMs = ((Number) ((Map<?, ?>) phases.get("reduce")).get("median_ms")).doubleValue();
            if (r.get("spec").equals("none")) assertThat(reduceMs).isNotNegative();
            else assertThat(reduceMs).isPositive();
        }
        Run text = run("bench", "--model", MODEL.toString(), "--reduce", "tome:r=4", "--batch", "1", "--warmup", "0", "--rounds", "1", "--breakdown");
        assertThat(text.code()).as(text.err()).isZero();
        assertThat(text.out()).contains("where the time goes").contains("qkv GEMM").contains("sum of parts");
    }

    @Test
    void compareShowsEachImageWithAndWithoutReduction() {
        Run json = run("classify", "--model", MODEL.toString(), "--compare", "tome:r=4", "--json", PHOTOS.toString());
        assertThat(json.code()).as(json.err()).isZero();
        Run plain = run("classify", "--model", MODEL.toString(), "--json", PHOTOS.toString());
        Run tome = run("classify", "--model", MODEL.toString(), "--reduce", "tome:r=4", "--json", PHOTOS.toString());
        int agree = 0;
        for (int i = 0; i < json.lines().size(); i++) {
            Map<String, Object> o = Json.parseObject(json.lines().get(i));
            Map<?, ?> c = (Map<?, ?>) o.get("compare");
            // the unreduced part equals a plain run, the compared part a run with --reduce
            assertThat(o.get("top")).isEqualTo(Json.parseObject(plain.lines().get(i)).get("top"));
            assertThat(c.get("top")).isEqualTo(Json.parseObject(tome.lines().get(i)).get("top"));
            assertThat(c.get("tokens")).isEqualTo(List.of(17L, 13L));
            if (((Map<?, ?>) ((List<?>) o.get("top")).get(0)).get("index").equals(((Map<?, ?>) ((List<?>) c.get("top")).get(0)).get("index"))) agree++;
        }
        assertThat(json.err()).contains("same top-1 on " + agree + " of " + json.lines().size() + " images");
        Run text = run("classify", "--model", MODEL.toString(), "--compare", "tome:r=4", PHOTOS.resolve("rocket_640x427.jpg").toString());
        assertThat(text.out()).contains("  tome:r=4 (13 tokens at the last block): ").contains("tome:r=4 vs none: same top-1 on");
        assertBadInput(run("classify", "--model", MODEL.toString(), "--compare", "tome:r=-1", PHOTOS.toString()), "tome");
    }

    @Test
    void pixelTensorPathReproducesTheGoldenLogits() throws IOException {
        Json.Obj exp = new Json.Obj(Json.parseObject(Files.readString(FIX.resolve("loader/expected.json"))), "expected");
        float[] px = io.vitrim.testing.HashInit.pixels(io.vitrim.testing.Fixtures.config(exp.obj("config")), 2, exp.integer("pixel_seed", 0));
        Path f = tmp.resolve("px.safetensors");
        SafeTensors.write(f, Map.of("pixel_values", new SafeTensors.Tensor(px, 2, 3, 32, 32)), null);
        Run r = run("classify", "--model", MODEL.toString(), "--pixels", f.toString(), "--json", "--logits");
        assertThat(r.code()).as(r.err()).isZero();
        List<Object> want = exp.obj("logits").list("F32");
        List<String> lines = r.lines();
        assertThat(lines).hasSize(2);
        for (int b = 0; b < 2; b++) {
            List<?> got = (List<?>) Json.parseObject(lines.get(b)).get("logits");
            for (int i = 0; i < 5; i++) {
                assertThat(((Number) got.get(i)).doubleValue()).isCloseTo(((Number) want.get(b * 5 + i)).doubleValue(),
                        org.assertj.core.data.Offset.offset(1e-4));
            }
        }
    }

    @Test
    void badInputIsOneLineAndExitCodeTwo() throws IOException {
        assertBadInput(run("classify", "--model", MODEL.toString(), "missing.jpg"), "missing.jpg", "no such file");
        assertBadInput(run("classify", "--model", MODEL.toString(), "pom.xml"), "pom.xml", "not an image");
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertBadInput(run("classify", "--model", MODEL.toString(), empty.toString()), "empty", "no images found");
        Path corrupt = tmp.resolve("broken.jpg");
        Files.write(corrupt, new byte[] {(byte) 0xff, (byte) 0xd8, (byte) 0xff, (byte) 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 2, 3});
        assertBadInput(run("classify", "--model", MODEL.toString(), corrupt.toString()), "broken.jpg");
        assertBadInput(run("bench", "--arch", "vit_gigantic_patch3_999"), "vit_gigantic_patch3_999", "unknown");
        assertBadInput(run("classify", "--model", tmp.resolve("nomodel").toString(), PHOTOS.toString()), "nomodel", "no such file");
        Path badCfg = Files.createDirectories(tmp.resolve("badcfg"));
        Files.copy(MODEL.resolve("model.safetensors"), badCfg.resolve("model.safetensors"));
        Files.writeString(badCfg.resolve("config.json"), Files.readString(MODEL.resolve("config.json")).replace("\"embed_dim\": 32", "\"embed_dim\": 48"));
        assertBadInput(run("info", "--model", badCfg.toString()), "model.safetensors", "does not match");
        Path trunc = tmp.resolve("t.safetensors");
        byte[] all = Files.readAllBytes(MODEL.resolve("model.safetensors"));
        Files.write(trunc, java.util.Arrays.copyOf(all, all.length / 2));
        assertBadInput(run("info", "--model", trunc.toString(), "--arch", "deit_tiny_patch16_224"), "t.safetensors", "past the data section");
        assertBadInput(run("classify", "--model", MODEL.toString(), "--reduce", "nosuch:r=1", PHOTOS.toString()), "unknown method", "none");
        assertBadInput(run("classify", "--model", MODEL.toString(), "--reduce", "ltmp", PHOTOS.toString()),
                "timm_model", "no blocks.0.merge_masker.threshold");
        assertBadInput(run("classify", "--model", MODEL.toString(), "--batch", "0", PHOTOS.toString()), "--batch");
        assertBadInput(run("classify", "--model", MODEL.toString()), "nothing to classify");
        assertBadInput(run("bench", "--threads", "0"), "--threads");
        assertBadInput(run("bench", "--forks", "0"), "--forks");
        assertBadInput(run("bench", "--frobnicate"), "Unknown option");
        Path px = tmp.resolve("wrong.safetensors");
        SafeTensors.write(px, Map.of("pixel_values", new SafeTensors.Tensor(new float[3 * 8 * 8], 1, 3, 8, 8)), null);
        assertBadInput(run("classify", "--model", MODEL.toString(), "--pixels", px.toString()), "wrong.safetensors", "[B, 3, 32, 32]");
    }

    /** {@code --eval-every} and {@code --ema} reach the run: held-out top-1 after every 2nd epoch and the last, the average beside it; the checkpoint keeps both for --resume. */
    @Test
    void trainEvaluatesEveryNthEpochAndTheLastWithAnEma() throws IOException {
        Path data = io.vitrim.testing.Fixtures.noiseClassFolders(tmp.resolve("ee-data"), List.of("a", "b", "c"), 8, 16, 3, "%d.png");
        Path out = tmp.resolve("ee");
        Run t = run("train", "--data", data.toString(), "--holdout", "6", "--arch", "vit_tiny_patch16_224", "--img-size", "16",
                "--patch-size", "4", "--embed-dim", "32", "--depth", "2", "--heads", "2", "--epochs", "3", "--batch", "6",
                "--eval-every", "2", "--ema", "0.9", "--threads", "1", "--out", out.toString());
        assertThat(t.code()).as(t.err()).isZero();
        List<String> rows = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertThat(rows).hasSize(3);
        assertThat(rows.stream().map(l -> l.contains("\"eval_top1\"")).toList()).containsExactly(false, true, true);
        assertThat(io.vitrim.train.Trainer.storedMetadata(out)).containsEntry("eval_every", "2").containsEntry("ema_decay", "0.9");
        assertThat(rows.get(2)).contains("\"eval_ema_top1\"");
        Run e = run("eval", "--model", out.resolve("ema").toString(), "--data", data.toString(), "--json");
        assertThat(e.code()).as("the averaged model is a model folder: " + e.err()).isZero();
    }

    @Test
    void trainBadInputFailsBeforeLoadingData() throws IOException {
        Path out = tmp.resolve("ft");
        String data = tmp.resolve("never-read.zip").toString(); // the options fail first
        assertBadInput(run("train", "--init", MODEL.toString(), "--embed-dim", "48", "--data", data, "--out", out.toString()),
                "timm_model", "--embed-dim 48", "folder: 32");
        assertBadInput(run("train", "--init", MODEL.toString(), "--trainable", "head.*,nosuch.*", "--data", data, "--out", out.toString()),
                "--trainable", "nosuch.*", "matches no parameter");
        assertBadInput(run("train", "--init", MODEL.toString(), "--lr-group", "head.*", "--data", data, "--out", out.toString()),
                "--lr-group", "GLOB=LR");
        assertBadInput(run("train", "--init", MODEL.toString(), "--reduce", "tome:r=x", "--data", data, "--out", out.toString()),
                "tome:r=x", "integer");
        assertBadInput(run("train", "--init", tmp.resolve("nofolder").toString(), "--data", data, "--out", out.toString()),
                "nofolder", "no such file");
        assertBadInput(run("train", "--layer-decay", "1.5", "--data", data, "--out", out.toString()), "--layer-decay");
        assertBadInput(run("train", "--eval-every", "0", "--data", data, "--out", out.toString()), "--eval-every", ">= 1");
        assertBadInput(run("train", "--ema", "1", "--data", data, "--out", out.toString()), "--ema", "between 0 and 1");
        assertBadInput(run("train", "--randaugment", "2", "--data", data, "--out", out.toString()), "--randaugment", "N,M");
        assertBadInput(run("train", "--randaugment", "2,31", "--data", data, "--out", out.toString()), "RandAugment", "magnitude 0-30");
        assertBadInput(run("train", "--drop-path", "1", "--data", data, "--out", out.toString()), "drop path", "[0, 1)");
        assertBadInput(run("train", "--cutmix", "-1", "--data", data, "--out", out.toString()), "CutMix", "[0, 100]");
        assertBadInput(run("train", "--task", "segmentation", "--mixup", "0.8", "--data", data, "--out", out.toString()), "--mixup");
        assertBadInput(run("train", "--task", "segmentation", "--cutmix", "1", "--data", data, "--out", out.toString()), "--cutmix");
        assertBadInput(run("train", "--random-erase", "1.5", "--data", data, "--out", out.toString()), "random-erasing", "[0, 1]");
        assertBadInput(run("train", "--random-erase", "NaN", "--data", data, "--out", out.toString()), "random-erasing");
        assertBadInput(run("train", "--task", "segmentation", "--random-erase", "0.25", "--data", data, "--out", out.toString()), "--random-erase");
        assertBadInput(run("train", "--holdout", "100", "--eval-data", data, "--data", data, "--out", out.toString()), "--holdout", "--eval-data");
        assertThat(Files.exists(out)).as("no output folder after a refused run").isFalse();
    }

    @Test
    void benchTimesOnPhotosWhenAsked(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        String[] common = {"bench", "--model", MODEL.toString(), "--reduce", "ltmp:merge=0.5,prune=off", "--batch", "4", "--warmup", "0",
                "--rounds", "1", "--threads", "1", "--json"};
        Run noise = run(common);
        Run photos = run(concat(common, "--images", "../samples"));
        assertThat(noise.code()).as(noise.err()).isZero();
        assertThat(photos.code()).as(photos.err()).isZero();
        Map<String, Object> n = Json.parseObject(noise.out().trim()), p = Json.parseObject(photos.out().trim());
        assertThat(n.get("input")).isEqualTo("seeded noise");
        assertThat((String) p.get("input")).startsWith("photos from ").contains("samples");
        // LTMP merges by similarity: what it does, and so its MACs, depends on the pixels
        double gn = ((Number) ((Map<?, ?>) ((List<?>) n.get("results")).get(1)).get("gmacs")).doubleValue();
        double gp = ((Number) ((Map<?, ?>) ((List<?>) p.get("results")).get(1)).get("gmacs")).doubleValue();
        assertThat(gp).isNotEqualTo(gn);
        assertBadInput(run(concat(common, "--images", tmp.resolve("absent").toString())), "absent");
        java.nio.file.Files.createDirectories(tmp.resolve("empty"));
        assertBadInput(run(concat(common, "--images", tmp.resolve("empty").toString())), "no images");
    }

    private static String[] concat(String[] a, String... b) {
        String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    @Test
    void benchAndInfoJson() {
        Run b = run("bench", "--model", MODEL.toString(), "--batch", "2", "--warmup", "0", "--rounds", "2", "--threads", "1", "--json");
        assertThat(b.code()).as(b.err()).isZero();
        Map<String, Object> o = Json.parseObject(b.out().trim());
        assertThat(o).containsKeys("model", "batch", "threads", "jdk", "cpu", "results");
        List<?> res = (List<?>) o.get("results");
        assertThat(res).hasSize(1);
        Map<?, ?> none = (Map<?, ?>) res.get(0);
        assertThat(none.get("spec")).isEqualTo("none");
        assertThat(((Number) none.get("speedup")).doubleValue()).isEqualTo(1.0);
        assertThat(((Number) none.get("images_per_s")).doubleValue()).isPositive();
        assertThat(((Number) none.get("gflops")).doubleValue()).isPositive();
        assertThat(none.containsKey("peak_fraction")).as("peak_fraction without --peak").isFalse();

        Run p = run("bench", "--model", MODEL.toString(), "--batch", "2", "--warmup", "0", "--rounds", "1", "--threads", "1", "--peak", "--json");
        assertThat(p.code()).as(p.err()).isZero();
        Map<String, Object> po = Json.parseObject(p.out().trim());
        double peakGflops = ((Number) po.get("peak_gflops")).doubleValue();
        assertThat(peakGflops).as("a single core's FP32 FMA peak in GFLOP/s").isPositive().isFinite();
        Map<?, ?> pn = (Map<?, ?>) ((List<?>) po.get("results")).get(0);
        // its share of the peak is the ratio of the two measured rates
        assertThat(((Number) pn.get("peak_fraction")).doubleValue()).isPositive()
                .isCloseTo(((Number) pn.get("gflops")).doubleValue() / peakGflops, org.assertj.core.data.Offset.offset(1e-9));

        // --forks: the same measurement in fresh JVMs; medians over the forks, each fork's speed-up kept
        Run fk = run("bench", "--model", MODEL.toString(), "--reduce", "tome:r=4", "--batch", "2", "--warmup", "0", "--rounds", "1",
                "--threads", "1", "--forks", "2", "--json");
        assertThat(fk.code()).as(fk.err()).isZero();
        Map<String, Object> fo = Json.parseObject(fk.out().trim());
        assertThat(fo.get("forks")).isEqualTo(2L);
        List<?> fres = (List<?>) fo.get("results");
        assertThat(((Map<?, ?>) fres.get(0)).get("speedup_per_fork")).isEqualTo(List.of(1.0, 1.0));
        List<?> tomeForks = (List<?>) ((Map<?, ?>) fres.get(1)).get("speedup_per_fork");
        assertThat(tomeForks).hasSize(2);
        double lo = Math.min(((Number) tomeForks.get(0)).doubleValue(), ((Number) tomeForks.get(1)).doubleValue());
        double hi = Math.max(((Number) tomeForks.get(0)).doubleValue(), ((Number) tomeForks.get(1)).doubleValue());
        assertThat(((Number) ((Map<?, ?>) fres.get(1)).get("speedup")).doubleValue()).as("median of two forks").isCloseTo((lo + hi) / 2,
                org.assertj.core.data.Offset.offset(1e-12));
        assertThat((List<?>) ((Map<?, ?>) fres.get(1)).get("runs_ms")).as("every fork's rounds").hasSize(2);
        Run ft = run("bench", "--model", MODEL.toString(), "--reduce", "tome:r=4", "--batch", "2", "--warmup", "0", "--rounds", "1",
                "--threads", "1", "--forks=2");
        assertThat(ft.code()).as(ft.err()).isZero();
        assertThat(ft.out()).contains("2 forks (fresh JVMs)").contains("speed-up in each fork").contains("÷ MAC ratio: median");
        Run bad = run("bench", "--model", MODEL.toString(), "--forks", "2", "--reduce", "tome:r=oops");
        assertBadInput(bad, "bench fork 1 failed", "tome:r=oops");
        assertThat(bad.out()).as("nothing on stdout when a fork fails").isEmpty();

        Run i = run("info", "--arch", "deit_small_patch16_224", "--json");
        assertThat(i.code()).as(i.err()).isZero();
        Map<String, Object> info = Json.parseObject(i.out().trim());
        // DeiT-S (C 384, 12 blocks, MLP 1536, 197 tokens, 14x14 patches of 16, 1000 classes), counted by hand as in
        // docs/design.md section 6: 4 n C^2 + 2 n^2 C + 2 n C hidden per block, the patch embedding and the head
        long c = 384, n = 197, hidden = 1536;
        double macs = 12 * (4 * n * c * c + 2 * n * n * c + 2 * n * c * hidden) + 196 * 3 * 16 * 16 * c + c * 1000;
        assertThat(((Number) info.get("gmacs")).doubleValue()).isCloseTo(macs / 1e9, org.assertj.core.data.Offset.offset(1e-6))
                .isCloseTo(4.599, org.assertj.core.data.Offset.offset(0.0005)); // the published DeiT-S figure (4.6 GFLOPs)
        // sum(p.numel() for p in timm.create_model("deit_small_patch16_224").parameters())
        assertThat(((Number) info.get("parameters")).longValue()).isEqualTo(22_050_664L);
    }

    @Test
    void everyCommandHasHelpWithExamplesThatFitsEightyColumns() {
        for (String cmd : new String[] {"classify", "bench", "info", "eval", "train", "finetune", "visualize", "pareto", "completion"}) {
            Run r = run(cmd, "--help");
            assertThat(r.code()).isZero();
            assertThat(r.out()).contains("Examples:").contains("vitrim " + cmd);
            boolean examples = false;
            for (String line : r.out().lines().toList()) {
                assertThat(line.length()).as("%s --help line: %s", cmd, line).isLessThanOrEqualTo(80);
                if (line.equals("Examples:")) examples = true;
                // an example line is a command, a continuation (indented further) or blank: never a wrapped comment
                if (examples && !line.isBlank() && !line.startsWith("Exit codes") && !line.startsWith("Writes ")) {
                    assertThat(line).as("%s example line", cmd).matches("Examples:|  vitrim .*|      .*");
                }
            }
        }
        Run top = run("--help");
        // command summaries are whole sentences (picocli shows a command's header line)
        for (String line : top.out().lines().toList()) {
            assertThat(line.length()).isLessThanOrEqualTo(80);
            if (line.matches("  (classify|bench|info|train|finetune|eval|visualize|pareto|completion) .*")) assertThat(line).endsWith(".");
        }
    }

    @Test
    void completionScriptCoversCommandsOptionsAndMethods() throws Exception {
        Run r = run("completion");
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("#!/usr/bin/env bash").contains("classify").contains("pareto").contains("--reduce")
                .contains("tome").contains("ltmp").contains("lgtm");
        // bash accepts it and completes a subcommand
        Path script = tmp.resolve("c.bash");
        Files.writeString(script, r.out());
        Process p = new ProcessBuilder("bash", "-c", "source " + script + " && COMP_WORDS=(vitrim cla) COMP_CWORD=1 COMP_LINE='vitrim cla' "
                + "COMP_POINT=10 && _complete_vitrim && echo \"${COMPREPLY[@]}\"").redirectErrorStream(true)
                .redirectOutput(tmp.resolve("c.out").toFile()).start();
        boolean ended = p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS);
        if (!ended) p.destroyForcibly();
        String got = Files.readString(tmp.resolve("c.out"));
        assertThat(ended).as("bash ended within a minute: " + got).isTrue();
        assertThat(p.exitValue()).as(got).isZero();
        assertThat(got.trim()).isEqualTo("classify");
    }

    @Test
    void versionNamesTheCommitAndEveryCommandDefaultsToTheEmbeddedModel() {
        Run v = run("--version");
        assertThat(v.out()).containsPattern("vitrim \\S+ \\(commit [0-9a-f]{7}");
        for (String cmd : new String[] {"classify", "bench", "info", "eval", "visualize", "pareto", "segment"}) {
            assertThat(run(cmd, "--help").out().replaceAll("\\s+", " ")).as(cmd)
                    .contains("Default: the embedded models/cifar10-vit9-c2 (segment: models/camvid-vit9), unless --arch is given");
        }
    }
}
