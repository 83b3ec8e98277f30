package io.vitrim.spark;

import io.vitrim.cli.Main;
import io.vitrim.io.Json;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.VisionTransformer;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The Spark job in local[2] mode against {@code vitrim classify} / {@code vitrim embed} on the same images. */
class SparkJobTest {
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    static final Path MODEL = ROOT.resolve("models/cifar10-vit9-c2");
    static final Path SAMPLES = ROOT.resolve("samples");

    @TempDir
    static Path tmp;

    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("vitrim-spark test").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "localhost").config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
        ExecutorModels.closeAll();
    }

    record Cli(int code, String out, String err) {}

    static Cli cli(boolean spark, String... args) {
        StringWriter o = new StringWriter(), e = new StringWriter();
        int code = spark ? SparkMain.run(args, new PrintWriter(o), new PrintWriter(e)) : Main.execute(args, new PrintWriter(o), new PrintWriter(e));
        return new Cli(code, o.toString(), e.toString());
    }

    /** {@code vitrim classify --json} on {@code input}, by file name. */
    static Map<String, Map<String, Object>> classify(String input, String reduce) {
        Cli c = cli(false, "classify", "--model", MODEL.toString(), "--reduce", reduce, "--json", "--topk", "3", input);
        assertThat(c.code()).as(c.err()).isZero();
        Map<String, Map<String, Object>> byName = new HashMap<>();
        for (String line : c.out().split("\n")) {
            Map<String, Object> o = Json.parseObject(line);
            byName.put(name((String) o.get("input")), o);
        }
        return byName;
    }

    static String name(String path) {
        int cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('!'));
        return path.substring(cut + 1);
    }

    static List<Row> rows(JobSpec spec, String input, int partitions) {
        return ImageJob.rows(spark, spec, input, partitions).collectAsList();
    }

    static JobSpec spec(JobSpec.Task task, String reduce) {
        return new JobSpec(task, MODEL.toString(), null, reduce, 4, 3, 1);
    }

    @SuppressWarnings("unchecked")
    static void assertSameAsClassify(List<Row> rows, Map<String, Map<String, Object>> expected) {
        assertThat(rows).hasSize(expected.size());
        for (Row r : rows) {
            Map<String, Object> e = expected.get(name(r.getString(0)));
            assertThat(e).as(r.getString(0)).isNotNull();
            assertThat(r.isNullAt(r.fieldIndex("error"))).isTrue();
            List<Object> top = (List<Object>) e.get("top");
            List<String> labels = r.getList(r.fieldIndex("top_labels"));
            List<Double> probs = r.getList(r.fieldIndex("top_probabilities"));
            assertThat(labels).hasSize(top.size());
            for (int i = 0; i < top.size(); i++) {
                Map<String, Object> t = (Map<String, Object>) top.get(i);
                assertThat(labels.get(i)).isEqualTo(t.get("label"));
                assertThat(probs.get(i)).isCloseTo(((Number) t.get("probability")).doubleValue(), within(1e-5));
            }
            assertThat(r.getString(r.fieldIndex("label"))).isEqualTo(labels.get(0));
            List<Integer> tokens = r.getList(r.fieldIndex("tokens"));
            List<Object> want = (List<Object>) e.get("tokens");
            assertThat(tokens).hasSize(want.size());
            for (int i = 0; i < want.size(); i++) assertThat(tokens.get(i)).isEqualTo(((Number) want.get(i)).intValue());
            assertThat(r.getDouble(r.fieldIndex("gmacs"))).isPositive();
        }
    }

    @Test
    void folderRowsEqualVitrimClassify() {
        List<Row> rows = rows(spec(JobSpec.Task.CLASSIFY, "none"), SAMPLES.toString(), 3);
        assertSameAsClassify(rows, classify(SAMPLES.toString(), "none"));
    }

    @Test
    void zipRowsWithReductionEqualVitrimClassify() throws IOException {
        Path zip = tmp.resolve("samples.zip");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(zip)); Stream<Path> files = Files.list(SAMPLES)) {
            for (Path f : files.sorted().toList()) {
                z.putNextEntry(new ZipEntry("test/" + f.getFileName()));
                z.write(Files.readAllBytes(f));
                z.closeEntry();
            }
        }
        List<Row> rows = rows(spec(JobSpec.Task.CLASSIFY, "tome:r=8"), zip.toString(), 0);
        assertSameAsClassify(rows, classify(zip.toString(), "tome:r=8"));
        // merging happened: fewer tokens enter the last block than the first
        List<Integer> t = rows.get(0).getList(rows.get(0).fieldIndex("tokens"));
        assertThat(t.get(t.size() - 1)).isLessThan(t.get(0));
    }

    @Test
    void corruptImageIsAnErrorRowNotAFailedJob() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("mixed"));
        Files.copy(SAMPLES.resolve("airplane_0000.jpg"), dir.resolve("good.jpg"));
        byte[] png = Files.readAllBytes(SAMPLES.resolve("airplane_0001.jpg"));
        Files.write(dir.resolve("truncated.jpg"), java.util.Arrays.copyOf(png, 40));
        Files.writeString(dir.resolve("notes.png"), "not an image at all");
        Files.writeString(dir.resolve("readme.txt"), "ignored: not an image name");
        List<Row> rows = rows(spec(JobSpec.Task.CLASSIFY, "none"), dir.toString(), 0);
        assertThat(rows).hasSize(3);
        Map<String, Row> byName = new HashMap<>();
        for (Row r : rows) byName.put(name(r.getString(0)), r);
        assertThat(byName.get("good.jpg").isNullAt(byName.get("good.jpg").fieldIndex("error"))).isTrue();
        for (String bad : List.of("truncated.jpg", "notes.png")) {
            Row r = byName.get(bad);
            String error = r.getString(r.fieldIndex("error"));
            assertThat(error).as(bad).contains(bad).doesNotContain("\n");
            assertThat(r.isNullAt(r.fieldIndex("label"))).isTrue();
        }
    }

    @Test
    void emptyInputGivesAnEmptyTable() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("empty"));
        Files.writeString(dir.resolve("readme.txt"), "no images here");
        Path out = tmp.resolve("empty.parquet");
        Cli c = cli(true, "classify", "--master", "local[2]", "--model", MODEL.toString(), "--input", dir.toString(), "--output", out.toString());
        assertThat(c.code()).as(c.err()).isZero();
        Map<String, Object> summary = Json.parseObject(c.out().trim());
        assertThat(((Number) summary.get("rows")).longValue()).isZero();
        SparkSession s = SparkSession.builder().master("local[2]").getOrCreate();
        List<Row> back = s.read().parquet(out.toString()).collectAsList();
        assertThat(back).isEmpty();
        assertThat(s.read().parquet(out.toString()).schema().fieldNames()).contains("path", "label", "tokens", "error");
    }

    @Test
    void commandWritesParquetAndSummary() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("three"));
        for (String f : List.of("cat_0000.jpg", "dog_0000.jpg", "ship_0000.jpg")) Files.copy(SAMPLES.resolve(f), dir.resolve(f));
        Files.write(dir.resolve("broken.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3});
        Path out = tmp.resolve("three.parquet");
        Cli c = cli(true, "embed", "--master", "local[2]", "--model", MODEL.toString(), "--input", dir.toString(),
                "--output", out.toString(), "--reduce", "tome:r=4", "--batch", "2");
        assertThat(c.code()).as(c.err()).isZero();
        Map<String, Object> summary = Json.parseObject(c.out().trim());
        assertThat(summary).containsKeys("rows", "errors", "images_per_s");
        assertThat(((Number) summary.get("rows")).longValue()).isEqualTo(4);
        assertThat(((Number) summary.get("errors")).longValue()).isEqualTo(1);
        // no temporary folder left beside the output
        try (Stream<Path> left = Files.list(tmp)) {
            assertThat(left.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".three.parquet"));
        }
        SparkSession s = SparkSession.builder().master("local[2]").getOrCreate();
        List<Row> back = s.read().parquet(out.toString()).collectAsList();
        try (VisionTransformer m = ModelLoader.load(MODEL, null, 1)) {
            io.vitrim.image.Preprocessor pre = new io.vitrim.image.Preprocessor(m.preprocess());
            for (Row r : back) {
                String n = name(r.getString(0));
                if (n.equals("broken.png")) {
                    assertThat(r.getString(r.fieldIndex("error"))).contains("broken.png");
                    continue;
                }
                float[] px = pre.toTensor(io.vitrim.image.ImageDecoder.decode(Files.readAllBytes(dir.resolve(n)), n));
                float[] want = m.encode(px, 1, m.reducer("tome:r=4"), false).embedding(0);
                List<Float> got = r.getList(r.fieldIndex("embedding"));
                assertThat(got).hasSize(want.length);
                for (int i = 0; i < want.length; i++) assertThat(got.get(i)).as(n + "[" + i + "]").isCloseTo(want[i], within(1e-4f));
            }
        }
    }

    @Test
    void badInputIsOneLineAndNoOutput() throws IOException {
        Path out = tmp.resolve("never.parquet");
        Cli missing = cli(true, "classify", "--master", "local[2]", "--model", MODEL.toString(), "--input", tmp.resolve("nope.zip").toString(),
                "--output", out.toString());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err().trim()).contains("nope.zip").doesNotContain("\n");
        Cli spec = cli(true, "classify", "--master", "local[2]", "--model", MODEL.toString(), "--input", SAMPLES.toString(),
                "--output", out.toString(), "--reduce", "tome:r=banana");
        assertThat(spec.code()).isEqualTo(2);
        assertThat(spec.err().trim()).contains("banana").doesNotContain("\n");
        assertThat(out).doesNotExist();
        Cli parts = cli(true, "classify", "--model", MODEL.toString(), "--input", SAMPLES.toString(), "--output", out.toString(),
                "--partitions", "-1");
        assertThat(parts.code()).isEqualTo(2);
        assertThat(parts.err().trim()).contains("--partitions -1");
        Cli noOut = cli(true, "classify", "--input", SAMPLES.toString());
        assertThat(noOut.code()).isEqualTo(2);
        assertThat(noOut.err()).contains("--output");
        Path exists = Files.createDirectories(tmp.resolve("exists.parquet"));
        Cli clash = cli(true, "classify", "--master", "local[2]", "--model", MODEL.toString(), "--input", SAMPLES.toString(),
                "--output", exists.toString());
        assertThat(clash.code()).isEqualTo(2);
        assertThat(clash.err()).contains("--overwrite");
        List<String> none = new ArrayList<>();
        try (Stream<Path> s = Files.list(exists)) {
            s.forEach(p -> none.add(p.toString()));
        }
        assertThat(none).isEmpty();
    }
}
