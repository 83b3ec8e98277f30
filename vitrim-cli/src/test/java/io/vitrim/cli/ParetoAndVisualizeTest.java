package io.vitrim.cli;

import io.vitrim.data.LabelledImages;
import io.vitrim.io.Json;
import io.vitrim.io.ModelFolder;
import io.vitrim.io.ModelLoader;
import io.vitrim.measure.Accuracy;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.model.RandomInit;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Methods;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

class ParetoAndVisualizeTest {
    @TempDir
    static Path tmp;
    static Path data, model;
    static final List<String> CLASSES = List.of("ant", "bee", "cat");

    @BeforeAll
    static void setUp() throws IOException {
        SplittableRandom r = new SplittableRandom(5);
        data = tmp.resolve("data");
        for (String c : CLASSES) {
            Files.createDirectories(data.resolve(c));
            for (int i = 0; i < 8; i++) {
                BufferedImage img = new BufferedImage(20, 20, BufferedImage.TYPE_INT_RGB);
                for (int y = 0; y < 20; y++) for (int x = 0; x < 20; x++) img.setRGB(x, y, r.nextInt(1 << 24));
                ImageIO.write(img, "png", data.resolve(c).resolve(i + ".png").toFile());
            }
        }
        ViTConfig cfg = new ViTConfig("vit_tiny_patch16_224", 16, 16, 4, 3, 32, 4, 2, 64, true, true, false,
                ViTConfig.Pool.TOKEN, false, 3, 1e-6f);
        PreprocessConfig pre = new PreprocessConfig(16, 16, 1.0, PreprocessConfig.Interpolation.BICUBIC,
                PreprocessConfig.Resize.SHORTER_SIDE, PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD);
        model = tmp.resolve("model");
        ModelFolder.write(model, cfg, pre, CLASSES, io.vitrim.testing.HashInit.stateDict(cfg, 9, 2.0), null);
    }

    @Test
    void pointsOnFineTunedVariantsRunOnTheirOwnWeights() throws IOException {
        ViTConfig cfg;
        PreprocessConfig pre;
        try (VisionTransformer m = ModelLoader.load(model, null, 1)) {
            cfg = m.config();
            pre = m.preprocess();
        }
        Path variant = tmp.resolve("variant"), deeper = tmp.resolve("deeper");
        ModelFolder.write(variant, cfg, pre, CLASSES, io.vitrim.testing.HashInit.stateDict(cfg, 77, 2.0), null);
        ViTConfig deep = new ViTConfig("vit_tiny_patch16_224", 16, 16, 4, 3, 32, 5, 2, 64, true, true, false, ViTConfig.Pool.TOKEN, false, 3, 1e-6f);
        ModelFolder.write(deeper, deep, pre, CLASSES, io.vitrim.testing.HashInit.stateDict(deep, 1, 2.0), null);
        Path out = tmp.resolve("pareto-variants");
        CliTest.Run r = CliTest.run("pareto", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(), "--no-grid",
                "--point", "none@" + variant, "--point", "tome:r=2@" + variant, "--point", "tome:r=2",
                "--warmup", "0", "--rounds", "1", "--batch", "8", "--threads", "2");
        assertThat(r.code()).as(r.err()).isZero();
        List<?> pts = (List<?>) Json.parseObject(Files.readString(out.resolve("results.json"))).get("points");
        Map<String, Double> top1 = new TreeMap<>();
        for (Object o : pts) top1.put((String) ((Map<?, ?>) o).get("spec"), ((Number) ((Map<?, ?>) o).get("top1")).doubleValue());
        assertThat(top1).containsKeys("none", "none@" + variant, "tome:r=2@" + variant, "tome:r=2");
        try (VisionTransformer v = ModelLoader.load(variant, null, 1)) {
            LabelledImages d = LabelledImages.load(data, v.preprocess(), 1, 0, null);
            assertThat(top1.get("tome:r=2@" + variant)).as("the variant's own accuracy")
                    .isEqualTo(Accuracy.evaluate(v, d, Methods.parse("tome:r=2", v.config()), 5, null, null).top1Rate());
        }
        CliTest.assertBadInput(CliTest.run("pareto", "--model", model.toString(), "--data", data.toString(), "--out", tmp.resolve("bad").toString(),
                "--no-grid", "--point", "none@" + deeper), "deeper", "not a variant");
        CliTest.assertBadInput(CliTest.run("pareto", "--model", model.toString(), "--data", data.toString(), "--out", tmp.resolve("bad").toString(),
                "--no-grid", "--point", "none@" + tmp.resolve("missing")), "missing", "no such file");
    }

    /** A cached point on a method-weights file (ltmp:file=) is measured again once the file changes. */
    @Test
    void aPointOnASideFileIsMeasuredAgainWhenTheFileChanges() throws IOException {
        Path side = tmp.resolve("side").resolve("thresholds.safetensors");
        Files.createDirectories(side.getParent());
        thresholds(side, 0.9f);
        Path out = tmp.resolve("pareto-side");
        String[] args = {"pareto", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(), "--no-grid",
                "--point", "ltmp:file=" + side, "--warmup", "0", "--rounds", "1", "--batch", "8", "--threads", "2"};
        CliTest.Run first = CliTest.run(args);
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.out()).contains("2 measured now"); // none and the LTMP point
        CliTest.Run same = CliTest.run(args);
        assertThat(same.out()).as(same.err()).contains("0 measured now");
        thresholds(side, 0.5f); // other thresholds at the same path
        CliTest.Run changed = CliTest.run(args);
        assertThat(changed.code()).as(changed.err()).isZero();
        assertThat(changed.out()).contains("1 measured now");
    }

    /** LTMP thresholds for the 4-block test model: merge at {@code merge} in every block, prune off (0). */
    static void thresholds(Path file, float merge) throws IOException {
        Map<String, io.vitrim.io.SafeTensors.Tensor> t = new java.util.LinkedHashMap<>();
        for (int i = 0; i < 4; i++) {
            t.put("blocks." + i + ".merge_masker.threshold", new io.vitrim.io.SafeTensors.Tensor(new float[] {merge}, 1));
            t.put("blocks." + i + ".prune_masker.threshold", new io.vitrim.io.SafeTensors.Tensor(new float[] {0f}, 1));
        }
        io.vitrim.io.SafeTensors.write(file, t, Map.of("method", "ltmp"));
    }

    @Test
    void paretoWritesConsistentResults() throws IOException {
        Path out = tmp.resolve("pareto");
        CliTest.Run r = CliTest.run("pareto", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(),
                "--warmup", "0", "--rounds", "1", "--batch", "8", "--threads", "2");
        assertThat(r.code()).as(r.err()).isZero();
        for (String f : List.of("results.csv", "results.json", "report.html", "accuracy_vs_speedup.png", "accuracy_vs_speedup.svg",
                "accuracy_vs_gmacs.png", "accuracy_vs_gmacs.svg", "points.jsonl")) {
            assertThat(out.resolve(f)).as(f).exists();
            assertThat(Files.size(out.resolve(f))).as(f).isPositive();
        }
        assertThat(Files.readAllBytes(out.resolve("accuracy_vs_speedup.png"))).startsWith((byte) 0x89, (byte) 'P', (byte) 'N', (byte) 'G');
        assertThat(Files.readString(out.resolve("accuracy_vs_gmacs.svg"))).contains("<svg");
        Map<String, Object> json = Json.parseObject(Files.readString(out.resolve("results.json")));
        List<?> pts = (List<?>) json.get("points");
        List<String> csv = Files.readAllLines(out.resolve("results.csv"));
        assertThat(csv).hasSize(pts.size() + 1);
        String html = Files.readString(out.resolve("report.html"));
        Map<String, List<double[]>> byMethod = new TreeMap<>();
        Pattern pureR = Pattern.compile("(tome|random|topk):r=(\\d+)");
        for (int i = 0; i < pts.size(); i++) {
            Map<?, ?> p = (Map<?, ?>) pts.get(i);
            String spec = (String) p.get("spec");
            assertThat(csv.get(i + 1)).contains("\"" + spec + "\"");
            assertThat(html).contains(spec.replace("&", "&amp;"));
            Matcher m = pureR.matcher(spec);
            if (m.matches()) byMethod.computeIfAbsent(m.group(1), k -> new ArrayList<>())
                    .add(new double[] {Integer.parseInt(m.group(2)), ((Number) p.get("gmacs")).doubleValue()});
        }
        assertThat(byMethod.keySet()).contains("tome", "random", "topk");
        for (Map.Entry<String, List<double[]>> e : byMethod.entrySet()) {
            List<double[]> l = e.getValue();
            l.sort((a, b) -> Double.compare(a[0], b[0]));
            assertThat(l.size()).as(e.getKey() + " points").isGreaterThanOrEqualTo(4);
            for (int i = 1; i < l.size(); i++) assertThat(l.get(i)[1]).as("%s MACs fall as r grows", e.getKey()).isLessThanOrEqualTo(l.get(i - 1)[1]);
        }
        assertThat(pts.stream().map(p -> (String) ((Map<?, ?>) p).get("method")).distinct().toList())
                .contains("none", "tome", "random", "topk", "ppt", "lgtm");
        // accuracy of one point recomputed independently
        Map<?, ?> tome = pts.stream().map(p -> (Map<?, ?>) p).filter(p -> p.get("spec").equals("tome:r=4")).findFirst().orElseThrow();
        try (VisionTransformer m = ModelLoader.load(model, null, 1)) {
            LabelledImages d = LabelledImages.load(data, m.preprocess(), 1, 0, null);
            Accuracy.Result a = Accuracy.evaluate(m, d, Methods.parse("tome:r=4", m.config()), 5, null, null);
            assertThat(((Number) tome.get("top1")).doubleValue()).isEqualTo(a.top1Rate());
        }
        // a second run reuses every cached point
        CliTest.Run again = CliTest.run("pareto", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(),
                "--warmup", "0", "--rounds", "1", "--batch", "8", "--threads", "2");
        assertThat(again.out()).contains("0 measured now");
        // --retime times every cached point again and keeps its cached accuracy: a planted figure survives
        Path cache = out.resolve("points.jsonl");
        String tomeRow = Files.readAllLines(cache).stream().filter(l -> l.contains("\"spec\":\"tome:r=4\"")).reduce((x, y) -> y).orElseThrow();
        assertThat(tomeRow).contains("\"top1\":");
        Files.writeString(cache, tomeRow.replaceFirst("\"top1\":[0-9.eE-]+", "\"top1\":0.123456") + "\n", java.nio.file.StandardOpenOption.APPEND);
        long lines = Files.readAllLines(cache).size();
        CliTest.Run retimed = CliTest.run("pareto", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(),
                "--warmup", "0", "--rounds", "1", "--batch", "8", "--threads", "2", "--retime");
        assertThat(retimed.code()).as(retimed.err()).isZero();
        assertThat(retimed.out()).contains("0 measured now, " + pts.size() + " cached ones timed again");
        assertThat(Files.readAllLines(cache)).hasSize((int) lines + pts.size());
        List<?> after = (List<?>) Json.parseObject(Files.readString(out.resolve("results.json"))).get("points");
        for (int i = 0; i < pts.size(); i++) {
            Map<?, ?> p = (Map<?, ?>) pts.get(i), q = (Map<?, ?>) after.get(i);
            assertThat(q.get("spec")).isEqualTo(p.get("spec"));
            assertThat(((Number) q.get("top1")).doubleValue()).as((String) p.get("spec"))
                    .isEqualTo(p.get("spec").equals("tome:r=4") ? 0.123456 : ((Number) p.get("top1")).doubleValue());
        }
        // new weights at the same path (a retrained model) are measured afresh, not read from the cache
        ViTConfig cfg;
        try (VisionTransformer m = ModelLoader.load(model, null, 1)) {
            cfg = m.config();
        }
        ModelFolder.write(model, cfg, new PreprocessConfig(16, 16, 1.0, PreprocessConfig.Interpolation.BICUBIC,
                PreprocessConfig.Resize.SHORTER_SIDE, PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD),
                CLASSES, io.vitrim.testing.HashInit.stateDict(cfg, 10, 2.0), null);
        CliTest.Run retrained = CliTest.run("pareto", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(),
                "--warmup", "0", "--rounds", "1", "--batch", "8", "--threads", "2");
        assertThat(retrained.code()).as(retrained.err()).isZero();
        assertThat(retrained.out()).doesNotContain(" 0 measured now");
    }

    @Test
    void evalReportsAccuracyPerReduction() {
        CliTest.Run r = CliTest.run("eval", "--model", model.toString(), "--data", data.toString(), "--reduce", "none", "--reduce", "tome:r=3",
                "--batch", "7", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        List<?> res = (List<?>) Json.parseObject(r.out().trim()).get("results");
        assertThat(res).hasSize(2);
        Map<?, ?> none = (Map<?, ?>) res.get(0), tome = (Map<?, ?>) res.get(1);
        assertThat(((Number) none.get("images")).intValue()).isEqualTo(24);
        assertThat(((Number) tome.get("gmacs")).doubleValue()).isLessThan(((Number) none.get("gmacs")).doubleValue());
        double drop = ((Number) none.get("top1")).doubleValue() - ((Number) tome.get("top1")).doubleValue();
        assertThat(((Number) tome.get("top1_drop")).doubleValue()).isCloseTo(drop, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(((Number) tome.get("mac_ratio")).doubleValue()).isCloseTo(((Number) none.get("gmacs")).doubleValue()
                / ((Number) tome.get("gmacs")).doubleValue(), org.assertj.core.data.Offset.offset(1e-12));
        // without --reduce none, the baseline is still measured first; the text names the drop
        CliTest.Run t = CliTest.run("eval", "--model", model.toString(), "--data", data.toString(), "--reduce", "tome:r=3", "--batch", "7");
        assertThat(t.code()).as(t.err()).isZero();
        assertThat(t.lines()).hasSize(2);
        assertThat(t.lines().get(0)).startsWith("none").contains("(baseline)");
        assertThat(t.lines().get(1)).startsWith("tome:r=3").contains(" pt ").contains("x MACs");
    }

    @Test
    void paretoBadInput() throws IOException {
        Path other = tmp.resolve("other");
        Files.createDirectories(other.resolve("dog"));
        Files.copy(data.resolve("ant").resolve("0.png"), other.resolve("dog").resolve("0.png"));
        CliTest.assertBadInput(CliTest.run("pareto", "--model", model.toString(), "--data", other.toString(), "--out", tmp.resolve("x").toString()),
                "class \"dog\" is not one of the model's labels");
        CliTest.assertBadInput(CliTest.run("eval", "--model", model.toString(), "--data", other.toString()), "class \"dog\"");
        CliTest.assertBadInput(CliTest.run("pareto", "--model", model.toString(), "--data", data.toString(), "--methods", "none",
                "--out", tmp.resolve("y").toString()), "empty grid");
        CliTest.assertBadInput(CliTest.run("pareto", "--model", model.toString(), "--data", data.toString(), "--methods", "tome,magic",
                "--out", tmp.resolve("z").toString()), "unknown method", "valid: none, tome");
    }

    @Test
    void visualizeWritesUpscaledImages() throws IOException {
        Path out = tmp.resolve("viz");
        CliTest.Run r = CliTest.run("visualize", "--model", model.toString(), "--reduce", "tome:r=3", "--every-block", "--out", out.toString(),
                data.resolve("ant").toString());
        assertThat(r.code()).as(r.err()).isZero();
        List<Path> files;
        try (var s = Files.list(out)) {
            files = s.toList();
        }
        assertThat(files).hasSize(8);
        BufferedImage img = ImageIO.read(files.get(0).toFile());
        assertThat(img.getHeight()).isEqualTo(16 * 28); // 16-pixel input upscaled to >= 448
        assertThat(img.getWidth()).isEqualTo(5 * 16 * 28 + 4 * 6); // input + 4 blocks
    }

    /** The ETA prices fresh points at a measured point's time and cached ones at a retimed one's (or nothing without --retime). */
    @Test
    void etaCountsFreshAndRetimedPointsApart() {
        Map<String, Map<String, Object>> cached = Map.of("a", Map.of(), "b", Map.of());
        List<String> left = List.of("a", "b", "c", "d"); // two cached, two fresh
        // 2 measured in 600 s (300 each), 4 retimed in 40 s (10 each): 2·300 + 2·10
        assertThat(ParetoCommand.eta(600, 2, 40, 4, left, cached, true)).isEqualTo(", ETA 10m20s");
        // without --retime the cached ones cost nothing
        assertThat(ParetoCommand.eta(600, 2, 0, 0, left, cached, false)).isEqualTo(", ETA 10m00s");
        // nothing retimed yet: a measured point's time is the bound
        assertThat(ParetoCommand.eta(600, 2, 0, 0, left, cached, true)).isEqualTo(", ETA 20m00s");
        assertThat(ParetoCommand.eta(0, 0, 40, 4, left, cached, true)).isEmpty();
    }
}
