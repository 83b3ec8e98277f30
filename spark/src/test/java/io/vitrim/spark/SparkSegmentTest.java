package io.vitrim.spark;

import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.SegmentationConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.io.Json;
import io.vitrim.io.ModelFolder;
import io.vitrim.model.StateDict;
import io.vitrim.testing.HashInit;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static io.vitrim.spark.SparkJobTest.cli;
import static io.vitrim.spark.SparkJobTest.name;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@code segment} in local[2] mode against {@code vitrim segment} on the same photos: class
 * shares, tokens and the mask PNGs (decoded pixel by pixel) equal the CLI's, which is tested on
 * its own. The model is a small hash-initialised segmentation model written here; the photos are
 * a synthetic segmentation set (images/ + labels/) at sizes other than the model's input.
 */
class SparkSegmentTest {
    static final Path CLASSIFIER = SparkJobTest.MODEL;
    static final List<String> CLASSES = List.of("sky", "road", "car", "tree");

    @TempDir
    static Path tmp;

    static SparkSession spark;
    static Path model, set, zip;

    @BeforeAll
    static void start() throws IOException {
        spark = SparkSession.builder().master("local[2]").appName("vitrim-spark segment test").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "localhost").config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
        model = segmenter(tmp.resolve("segmenter"));
        set = scenes(Files.createDirectories(tmp.resolve("set")));
        zip = tmp.resolve("set.zip");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(zip)); Stream<Path> files = Files.walk(set)) {
            for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                z.putNextEntry(new ZipEntry("camvid/" + set.relativize(f).toString().replace('\\', '/')));
                z.write(Files.readAllBytes(f));
                z.closeEntry();
            }
        }
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
        ExecutorModels.closeAll();
    }

    /** A 3-block segmenter on 24×32 inputs (a 6×8 patch grid), hash-initialised, 4 classes. */
    static Path segmenter(Path dir) throws IOException {
        ViTConfig c = new ViTConfig("vit_tiny_patch16_224", 24, 32, 4, 3, 32, 3, 2, 64, true, true, false, ViTConfig.Pool.TOKEN, false, 0, 1e-6f);
        int k = CLASSES.size();
        StateDict sd = HashInit.stateDict(c, 11, 1.0);
        // a wide decoder: the classes' logits differ enough across patches for masks of several classes
        sd.put("decoder.head.weight", HashInit.uniform(11, "decoder.head.weight", k * 32, 1.0, 0), new int[] {k, 32});
        sd.put("decoder.head.bias", HashInit.uniform(11, "decoder.head.bias", k, 0.1, 0), new int[] {k});
        SegmentationConfig seg = new SegmentationConfig(k, 255, new int[][] {{70, 130, 180}, {128, 64, 128}, {64, 0, 128}, {128, 128, 0}});
        PreprocessConfig pre = new PreprocessConfig(24, 32, 1.0, PreprocessConfig.Interpolation.BILINEAR, PreprocessConfig.Resize.EXACT,
                PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD);
        ModelFolder.write(dir, c, pre, CLASSES, sd, Map.of(), ModelFolder.segmentationEntry(seg));
        return dir;
    }

    /** Seven street-like scenes of different sizes in images/ (PNG and JPEG), their label maps in labels/. */
    static Path scenes(Path dir) throws IOException {
        Path images = Files.createDirectories(dir.resolve("images")), labels = Files.createDirectories(dir.resolve("labels"));
        java.util.Random rnd = new java.util.Random(5);
        int[][] sizes = {{40, 30}, {64, 48}, {33, 25}, {32, 24}, {50, 70}, {48, 36}, {21, 17}};
        for (int i = 0; i < sizes.length; i++) {
            int w = sizes[i][0], h = sizes[i][1], horizon = h / 3 + rnd.nextInt(h / 3), cx = rnd.nextInt(w / 2);
            BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
            BufferedImage lab = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int k = y < horizon ? (x < w / 5 ? 3 : 0) : (x >= cx && x < cx + w / 3 && y < horizon + h / 4 ? 2 : 1);
                    int[] col = switch (k) {
                        case 0 -> new int[] {90, 140, 230};
                        case 1 -> new int[] {100, 100, 100};
                        case 2 -> new int[] {200, 30, 30};
                        default -> new int[] {30, 150, 40};
                    };
                    int rgb = 0;
                    for (int ch = 0; ch < 3; ch++) rgb = (rgb << 8) | Math.max(0, Math.min(255, col[ch] + rnd.nextInt(41) - 20));
                    img.setRGB(x, y, rgb);
                    lab.getRaster().setSample(x, y, 0, k);
                }
            }
            String id = String.format("s%03d", i);
            ImageIO.write(img, i % 3 == 2 ? "jpg" : "png", images.resolve(id + (i % 3 == 2 ? ".jpg" : ".png")).toFile());
            ImageIO.write(lab, "png", labels.resolve(id + ".png").toFile());
        }
        return dir;
    }

    /** What {@code vitrim segment --json --ids} printed and wrote, per photo (by file name stem). */
    record Expected(Map<String, Double> shares, List<Integer> tokens, double gmacs, BufferedImage mask, BufferedImage ids) {}

    @SuppressWarnings("unchecked")
    static Map<String, Expected> vitrimSegment(String input, String reduce, String restore, String out) throws IOException {
        SparkJobTest.Cli c = cli(false, "segment", "--model", model.toString(), "--reduce", reduce, "--restore", restore, "--ids", "--json",
                "--out", out, input);
        assertThat(c.code()).as(c.err()).isZero();
        Map<String, Expected> byStem = new HashMap<>();
        for (String line : c.out().split("\n")) {
            Map<String, Object> o = Json.parseObject(line);
            String stem = stem(name((String) o.get("input")));
            Map<String, Double> shares = new java.util.LinkedHashMap<>();
            ((Map<String, Object>) o.get("class_shares")).forEach((k, v) -> shares.put(k, ((Number) v).doubleValue()));
            List<Integer> tokens = ((List<Object>) o.get("tokens")).stream().map(t -> ((Number) t).intValue()).toList();
            byStem.put(stem, new Expected(shares, tokens, ((Number) o.get("gmacs")).doubleValue(),
                    ImageIO.read(Path.of(out, stem + ".mask.png").toFile()), ImageIO.read(Path.of(out, stem + ".ids.png").toFile())));
        }
        return byStem;
    }

    static String stem(String file) {
        return file.replaceFirst("\\.[^.]+$", "");
    }

    static BufferedImage png(byte[] b) throws IOException {
        assertThat(b).as("a PNG").startsWith(0x89, 'P', 'N', 'G');
        return ImageIO.read(new ByteArrayInputStream(b));
    }

    static void assertSamePixels(BufferedImage got, BufferedImage want, String what) {
        assertThat(got.getWidth()).as(what + " width").isEqualTo(want.getWidth());
        assertThat(got.getHeight()).as(what + " height").isEqualTo(want.getHeight());
        int[] g = got.getRGB(0, 0, got.getWidth(), got.getHeight(), null, 0, got.getWidth());
        int[] w = want.getRGB(0, 0, want.getWidth(), want.getHeight(), null, 0, want.getWidth());
        // the first differing pixel, not two whole arrays, in a failure
        int first = java.util.stream.IntStream.range(0, g.length).filter(i -> g[i] != w[i]).findFirst().orElse(-1);
        assertThat(first).as("%s: first differing pixel (x=%d, y=%d)", what, first % Math.max(1, got.getWidth()), first / Math.max(1, got.getWidth()))
                .isEqualTo(-1);
    }

    /** The rows equal {@code expected}; returns the classes seen in the masks. */
    static Set<String> assertSameAsSegment(List<Row> rows, Map<String, Expected> expected, boolean ids) throws IOException {
        assertThat(rows).hasSize(expected.size());
        Set<String> seen = new HashSet<>();
        for (Row r : rows) {
            String path = r.getString(0), stem = stem(name(path));
            assertThat(path).as("a photo, not a label map").doesNotContain("labels/");
            Expected e = expected.get(stem);
            assertThat(e).as(path).isNotNull();
            assertThat(r.isNullAt(r.fieldIndex("error"))).as(path).isTrue();
            Map<String, Double> shares = r.getJavaMap(r.fieldIndex("class_shares"));
            assertThat(shares).as(path).isEqualTo(e.shares());
            assertThat(shares.values().stream().mapToDouble(Double::doubleValue).sum()).isCloseTo(1.0, within(1e-9));
            seen.addAll(shares.keySet());
            BufferedImage mask = png((byte[]) r.get(r.fieldIndex("mask_png")));
            assertSamePixels(mask, e.mask(), path + " mask");
            if (ids) assertSamePixels(png((byte[]) r.get(r.fieldIndex("ids_png"))), e.ids(), path + " ids");
            else assertThat(r.schema().fieldNames()).doesNotContain("ids_png");
            assertThat(r.<Integer>getList(r.fieldIndex("tokens"))).as(path).isEqualTo(e.tokens());
            assertThat(r.getDouble(r.fieldIndex("gmacs"))).isCloseTo(e.gmacs(), within(1e-12));
        }
        return seen;
    }

    @Test
    void folderRowsEqualVitrimSegment() throws IOException {
        Map<String, Expected> want = vitrimSegment(set.toString(), "tome:r=6", "output", tmp.resolve("cli-folder").toString());
        assertThat(want).hasSize(7);
        // batches of 3 over 7 photos: full and partial batches, images of different sizes in one pass
        JobSpec spec = new JobSpec(JobSpec.Task.SEGMENT, model.toString(), null, "tome:r=6", 3, 1, 1, io.vitrim.reduce.Dense.Restore.OUTPUT, true);
        List<Row> rows = ImageJob.rows(spark, spec, set.toString(), 2).collectAsList();
        Set<String> classes = assertSameAsSegment(rows, want, true);
        // the comparison means something: the masks hold several classes, and merging happened
        assertThat(classes).hasSizeGreaterThanOrEqualTo(2);
        List<Integer> t = rows.get(0).getList(rows.get(0).fieldIndex("tokens"));
        assertThat(t.get(t.size() - 1)).isLessThan(t.get(0));
    }

    @Test
    void commandOnAZipWithPruningEqualsVitrimSegment() throws IOException {
        Map<String, Expected> want = vitrimSegment(zip.toString(), "topk:r=8", "llf", tmp.resolve("cli-zip").toString());
        Path out = tmp.resolve("zip.parquet");
        SparkJobTest.Cli c = cli(true, "segment", "--master", "local[2]", "--model", model.toString(), "--input", zip.toString(),
                "--output", out.toString(), "--reduce", "topk:r=8", "--restore", "llf", "--batch", "4");
        assertThat(c.code()).as(c.err()).isZero();
        Map<String, Object> summary = Json.parseObject(c.out().trim());
        assertThat(((Number) summary.get("rows")).longValue()).isEqualTo(7);
        assertThat(((Number) summary.get("errors")).longValue()).isZero();
        assertThat(summary.get("restore")).isEqualTo("llf");
        // read back from Parquet: the map and the binary columns survive the round trip
        SparkSession s = SparkSession.builder().master("local[2]").getOrCreate();
        List<Row> rows = s.read().parquet(out.toString()).collectAsList();
        assertSameAsSegment(rows, want, false);
        // pruning happened; with llf the parked tokens are back before the last block
        List<Integer> t = rows.get(0).getList(rows.get(0).fieldIndex("tokens"));
        assertThat(t).hasSize(3);
        assertThat(t.get(1)).isLessThan(t.get(0));
        assertThat(t.get(2)).isEqualTo(t.get(0));
        // a class's share is one look-up in SQL
        double sky = s.read().parquet(out.toString()).selectExpr("sum(coalesce(class_shares['sky'], 0))").first().getDouble(0);
        assertThat(sky).isCloseTo(want.values().stream().mapToDouble(e -> e.shares().getOrDefault("sky", 0.0)).sum(), within(1e-9));
    }

    @Test
    void corruptImageIsAnErrorRow() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("mixed"));
        Files.copy(set.resolve("images/s000.png"), dir.resolve("good.png"));
        byte[] jpg = Files.readAllBytes(set.resolve("images/s002.jpg"));
        Files.write(dir.resolve("truncated.jpg"), java.util.Arrays.copyOf(jpg, 40));
        Files.writeString(dir.resolve("notes.png"), "not an image at all");
        JobSpec spec = new JobSpec(JobSpec.Task.SEGMENT, model.toString(), null, "none", 4, 1, 1, null, true);
        List<Row> rows = ImageJob.rows(spark, spec, dir.toString(), 0).collectAsList();
        assertThat(rows).hasSize(3);
        for (Row r : rows) {
            String n = name(r.getString(0));
            if (n.equals("good.png")) {
                assertThat(r.isNullAt(r.fieldIndex("error"))).isTrue();
                assertThat(png((byte[]) r.get(r.fieldIndex("mask_png"))).getWidth()).isEqualTo(40);
                continue;
            }
            assertThat(r.getString(r.fieldIndex("error"))).as(n).contains(n).doesNotContain("\n");
            for (String col : List.of("class_shares", "mask_png", "ids_png", "tokens", "gmacs")) assertThat(r.isNullAt(r.fieldIndex(col))).as(col).isTrue();
        }
    }

    @Test
    void emptyInputGivesAnEmptyTable() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("empty"));
        Files.writeString(dir.resolve("readme.txt"), "no images here");
        Path out = tmp.resolve("empty.parquet");
        SparkJobTest.Cli c = cli(true, "segment", "--master", "local[2]", "--model", model.toString(), "--input", dir.toString(),
                "--output", out.toString(), "--ids");
        assertThat(c.code()).as(c.err()).isZero();
        assertThat(((Number) Json.parseObject(c.out().trim()).get("rows")).longValue()).isZero();
        SparkSession s = SparkSession.builder().master("local[2]").getOrCreate();
        assertThat(s.read().parquet(out.toString()).collectAsList()).isEmpty();
        assertThat(s.read().parquet(out.toString()).schema().fieldNames())
                .containsExactly("path", "class_shares", "mask_png", "ids_png", "tokens", "gmacs", "error");
    }

    @Test
    void theWrongKindOfModelIsOneLineAndNoOutput() {
        Path out = tmp.resolve("never.parquet");
        SparkJobTest.Cli classifier = cli(true, "segment", "--master", "local[2]", "--model", CLASSIFIER.toString(), "--input", set.toString(),
                "--output", out.toString());
        assertThat(classifier.code()).isEqualTo(2);
        assertThat(classifier.err().trim()).contains("cifar10-vit9-c2").contains("not a segmentation model").contains("classify").doesNotContain("\n");
        SparkJobTest.Cli segmenter = cli(true, "classify", "--master", "local[2]", "--model", model.toString(), "--input", set.toString(),
                "--output", out.toString());
        assertThat(segmenter.code()).isEqualTo(2);
        assertThat(segmenter.err().trim()).contains("segmenter").contains("a segmentation model").contains("vitrim-spark segment").doesNotContain("\n");
        SparkJobTest.Cli restore = cli(true, "segment", "--master", "local[2]", "--model", model.toString(), "--input", set.toString(),
                "--output", out.toString(), "--restore", "later");
        assertThat(restore.code()).isEqualTo(2);
        assertThat(restore.err().trim()).contains("--restore").contains("later").doesNotContain("\n");
        // the default model is the embedded classifier: segment asks for one
        SparkJobTest.Cli noModel = cli(true, "segment", "--master", "local[2]", "--input", set.toString(), "--output", out.toString());
        assertThat(noModel.code()).isEqualTo(2);
        assertThat(noModel.err().trim()).contains("--model").doesNotContain("\n");
        assertThat(out).doesNotExist();
    }

    @Test
    void idsOfMoreThan256ClassesAreRefused() {
        ViTConfig c = new ViTConfig("vit_tiny_patch16_224", 8, 8, 4, 3, 16, 1, 2, 32, true, true, false, ViTConfig.Pool.TOKEN, false, 0, 1e-6f);
        StateDict sd = HashInit.stateDict(c, 3, 1.0);
        sd.put("decoder.head.weight", new float[257 * 16], new int[] {257, 16});
        sd.put("decoder.head.bias", new float[257], new int[] {257});
        PreprocessConfig pre = new PreprocessConfig(8, 8, 1.0, PreprocessConfig.Interpolation.BILINEAR, PreprocessConfig.Resize.EXACT,
                PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD);
        try (var m = io.vitrim.model.VisionTransformer.createSegmenter(c, pre, new SegmentationConfig(257, 255, null), null, sd, 1, "memory")) {
            new JobSpec(JobSpec.Task.SEGMENT, "wide", null, "none", 1, 1, 1, null, false).check(m); // colour masks: any class count
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> new JobSpec(JobSpec.Task.SEGMENT, "wide", null, "none", 1, 1, 1, null, true).check(m))
                    .isInstanceOf(io.vitrim.VitrimException.class).hasMessageContaining("wide").hasMessageContaining("256");
        }
    }

    @Test
    void everyCommandHasHelpWithExamplesThatFitsEightyColumns() {
        for (String cmd : new String[] {"classify", "segment", "embed", ""}) {
            SparkJobTest.Cli r = cmd.isEmpty() ? cli(true, "--help") : cli(true, cmd, "--help");
            assertThat(r.code()).isZero();
            assertThat(r.out()).contains("Examples:").contains("./vitrim-spark " + cmd);
            for (String line : r.out().lines().toList()) assertThat(line.length()).as("%s --help line: %s", cmd, line).isLessThanOrEqualTo(80);
        }
    }
}
