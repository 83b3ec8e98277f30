package io.vitrim.cli;

import io.vitrim.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static io.vitrim.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Segmentation end to end on a small synthetic set made here (images/ + labels/ in a zip):
 * train (from scratch, and resumed), eval (mIoU, per-class IoU, pixel accuracy per reduction),
 * segment (masks, overlays, ids, class shares), and the one-line errors.
 */
class SegmentationCliTest {
    @TempDir
    Path tmp;

    /**
     * {@code n} 24×32 scenes: sky (class 0) above a horizon row, road (1) below, a car (2) box;
     * the photo colours follow the classes with noise, a few pixels void (3).
     */
    static Path scenes(Path zip, int n, int labelW) throws IOException {
        java.util.Random rnd = new java.util.Random(n);
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(zip))) {
            for (int i = 0; i < n; i++) {
                int h = 24, w = 32, horizon = 8 + rnd.nextInt(8), cx = rnd.nextInt(20), cy = horizon + rnd.nextInt(6);
                BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
                BufferedImage lab = new BufferedImage(labelW, h, BufferedImage.TYPE_BYTE_GRAY);
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        int k = y < horizon ? 0 : (x >= cx && x < cx + 10 && y >= cy && y < cy + 6 ? 2 : 1);
                        if (rnd.nextInt(40) == 0) k = 3;
                        int[] c = k == 0 ? new int[] {90, 140, 230} : k == 1 ? new int[] {100, 100, 100} : k == 2 ? new int[] {200, 30, 30} : new int[] {0, 0, 0};
                        int r = clamp(c[0] + rnd.nextInt(31) - 15), g = clamp(c[1] + rnd.nextInt(31) - 15), b = clamp(c[2] + rnd.nextInt(31) - 15);
                        img.setRGB(x, y, (r << 16) | (g << 8) | b);
                        if (x < labelW) lab.getRaster().setSample(x, y, 0, k);
                    }
                }
                put(z, String.format("images/s%03d.png", i), img);
                put(z, String.format("labels/s%03d.png", i), lab);
            }
        }
        return zip;
    }

    private static int clamp(int v) {
        return Math.max(0, Math.min(255, v));
    }

    private static void put(ZipOutputStream z, String name, BufferedImage img) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        ImageIO.write(img, "png", b);
        z.putNextEntry(new ZipEntry(name));
        z.write(b.toByteArray());
        z.closeEntry();
    }

    @Test
    @SuppressWarnings("unchecked")
    void trainEvalSegmentAndResume() throws Exception {
        Path data = scenes(tmp.resolve("train.zip"), 24, 32), val = scenes(tmp.resolve("val.zip"), 6, 32);
        Path out = tmp.resolve("model");
        String[] train = {"train", "--data", data.toString(), "--eval-data", val.toString(), "--labels", "sky,road,car", "--ignore-index", "3",
                "--img-size", "16x24", "--patch-size", "4", "--embed-dim", "32", "--depth", "2", "--heads", "2", "--epochs", "4", "--batch", "8",
                "--lr", "3e-3", "--warmup", "0", "--threads", "2", "--out", out.toString()};
        CliTest.Run t = run(train);
        assertThat(t.code()).as(t.err()).isZero();
        assertThat(t.err()).contains("segmentation: train 24 images, 3 classes (ignore 3)").contains("eval_miou=");
        Map<String, Object> cfg = Json.parseObject(Files.readString(out.resolve("config.json")));
        assertThat(cfg).containsKey("segmentation");
        assertThat(cfg.get("label_names")).isEqualTo(List.of("sky", "road", "car"));
        List<String> metrics = Files.readAllLines(out.resolve("metrics.csv"));
        assertThat(metrics.get(0)).contains("eval_miou").contains("eval_pixel_acc");
        assertThat(metrics).hasSize(5);
        assertThat(out.resolve("learning_curve.png")).exists();

        // these scenes are easy: after 4 short epochs sky and road are found
        CliTest.Run e = run("eval", "--model", out.toString(), "--data", val.toString(), "--reduce", "tome:r=6", "--reduce", "random:r=6",
                "--restore", "llf", "--json", "--batch", "8");
        assertThat(e.code()).as(e.err()).isZero();
        List<Object> rows = (List<Object>) Json.parseObject(e.out()).get("results");
        assertThat(rows).hasSize(3);
        Map<String, Object> dense = (Map<String, Object>) rows.get(0);
        assertThat(dense).containsKeys("miou", "per_class_iou", "pixel_acc", "gmacs");
        assertThat(((Number) dense.get("pixel_acc")).doubleValue()).isGreaterThan(0.6);
        assertThat(((Map<String, Object>) dense.get("per_class_iou")).keySet()).containsExactly("sky", "road", "car");
        Map<String, Object> tome = (Map<String, Object>) rows.get(1);
        assertThat(((Number) tome.get("mac_ratio")).doubleValue()).isGreaterThan(1.1);

        // the metrics log's last mIoU is this evaluation's (same images, same model)
        String[] head = metrics.get(0).split(","), last = metrics.get(4).split(",");
        int col = List.of(head).indexOf("eval_miou");
        assertThat(Double.parseDouble(last[col])).isCloseTo(((Number) dense.get("miou")).doubleValue(), org.assertj.core.data.Offset.offset(1e-12));

        Path masks = tmp.resolve("masks");
        CliTest.Run s = run("segment", "--model", out.toString(), "--ids", "--json", val.toString(), "--out", masks.toString());
        assertThat(s.code()).as(s.err()).isZero();
        assertThat(s.lines()).hasSize(6); // the photos, not the label maps
        Map<String, Object> first = Json.parseObject(s.lines().get(0));
        double share = 0;
        for (Object v : ((Map<String, Object>) first.get("class_shares")).values()) share += ((Number) v).doubleValue();
        assertThat(share).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-9));
        BufferedImage mask = ImageIO.read(masks.resolve("s000.mask.png").toFile());
        assertThat(mask.getWidth()).isEqualTo(32);
        assertThat(mask.getHeight()).isEqualTo(24);
        assertThat(masks.resolve("s000.overlay.png")).exists();
        assertThat(masks.resolve("s000.ids.png")).exists();

        // --compare: photo | ground truth | dense mask | tome mask, the dense panel equal to the mask file
        Path cmp = tmp.resolve("cmp");
        CliTest.Run c = run("segment", "--model", out.toString(), "--compare", "tome:r=6", val.toString(), "--out", cmp.toString());
        assertThat(c.code()).as(c.err()).isZero();
        BufferedImage fig = ImageIO.read(cmp.resolve("s000.compare.png").toFile());
        assertThat(fig.getWidth()).isEqualTo(4 * 32 + 3 * 4);
        int band = fig.getHeight() - 24;
        assertThat(band).isPositive();
        BufferedImage denseMask = ImageIO.read(cmp.resolve("s000.mask.png").toFile());
        for (int y = 0; y < 24; y++) {
            for (int x = 0; x < 32; x++) {
                assertThat(fig.getRGB(2 * 36 + x, band + y) & 0xFFFFFF).as("dense panel at %d,%d", x, y).isEqualTo(denseMask.getRGB(x, y) & 0xFFFFFF);
            }
        }

        // pareto plots mIoU against measured speed-up; visualize draws the merged tokens
        Path rep = tmp.resolve("pareto");
        CliTest.Run p = run("pareto", "--model", out.toString(), "--data", val.toString(), "--methods", "tome,random", "--batch", "4",
                "--warmup", "0", "--rounds", "1", "--restore", "llf", "--out", rep.toString());
        assertThat(p.code()).as(p.err()).isZero();
        List<String> csv = Files.readAllLines(rep.resolve("results.csv"));
        assertThat(csv.get(0)).startsWith("method,spec,miou,pixel_acc,gmacs");
        assertThat(csv.get(1)).startsWith("none,");
        assertThat(Double.parseDouble(csv.get(1).split(",")[2])).isCloseTo(((Number) dense.get("miou")).doubleValue(), org.assertj.core.data.Offset.offset(1e-6));
        assertThat(Files.readString(rep.resolve("report.html"))).contains("mIoU").contains("segmentation");
        CliTest.Run v = run("visualize", "--model", out.toString(), "--reduce", "tome:r=6", val.toString() + "", "--out", tmp.resolve("viz").toString());
        assertThat(v.code()).as(v.err()).isZero();

        // one more epoch: --resume continues the same run
        String[] more = train.clone();
        more[java.util.Arrays.asList(more).indexOf("--epochs") + 1] = "5";
        CliTest.Run dup = run(more);
        assertBadInput(dup, "already holds a training run");
        CliTest.Run r = run("train", "--resume", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("after epoch 4");
    }

    /** One error line (after any "loading …" progress line), exit code 2. */
    static void assertBadInput(CliTest.Run r, String... fragments) {
        String err = r.err().lines().filter(l -> !l.startsWith("loading ")).collect(java.util.stream.Collectors.joining("\n", "", "\n"));
        CliTest.assertBadInput(new CliTest.Run(r.code(), r.out(), err), fragments);
    }

    @Test
    void badInputIsOneLine() throws Exception {
        Path ok = scenes(tmp.resolve("ok.zip"), 8, 32), narrow = scenes(tmp.resolve("narrow.zip"), 8, 30);
        String[] base = {"train", "--labels", "sky,road,car", "--ignore-index", "3", "--img-size", "16x24", "--patch-size", "4", "--embed-dim", "16",
                "--depth", "1", "--heads", "1", "--epochs", "1", "--batch", "4"};
        // a label map whose size differs from its photo
        assertBadInput(run(concat(base, "--data", narrow.toString(), "--out", tmp.resolve("a").toString())), "labels/s000.png", "30x24");
        assertThat(tmp.resolve("a").resolve("model.safetensors")).doesNotExist();
        // label values outside the classes and the ignore value
        String[] noIgnore = base.clone();
        noIgnore[java.util.Arrays.asList(noIgnore).indexOf("--ignore-index") + 1] = "9";
        assertBadInput(run(concat(noIgnore, "--data", ok.toString(), "--out", tmp.resolve("b").toString())), "label value 3");
        assertBadInput(run("train", "--data", ok.toString(), "--labels", "sky,road,car", "--out", tmp.resolve("c").toString()), "--img-size HxW");
        assertBadInput(run("train", "--data", ok.toString(), "--img-size", "16x24", "--out", tmp.resolve("d").toString()), "--labels");
        assertBadInput(run(concat(base, "--data", ok.toString(), "--class-weights", "1,2", "--out", tmp.resolve("e").toString())), "2 weights for 3 classes");
        // a classification model passed to segment, and a segmentation command on a classifier
        assertBadInput(run("segment", "--model", CliTest.MODEL.toString(), CliTest.PHOTOS.toString(), "--out", tmp.resolve("m").toString()),
                "not a segmentation model");
        assertThat(tmp.resolve("m")).doesNotExist();
        // --compare reads the ground truth: a label map of the wrong size fails before the image's files
        Path seg = tmp.resolve("seg");
        CliTest.Run t = run("train", "--data", ok.toString(), "--labels", "sky,road,car", "--ignore-index", "3", "--img-size", "16x24", "--patch-size", "4",
                "--embed-dim", "16", "--depth", "1", "--heads", "1", "--epochs", "1", "--batch", "4", "--warmup", "0", "--out", seg.toString());
        assertThat(t.code()).as(t.err()).isZero();
        assertBadInput(run("segment", "--model", seg.toString(), "--compare", "tome:r=2", narrow.toString(), "--out", tmp.resolve("n").toString()),
                "labels/s000.png", "30x24");
        assertThat(tmp.resolve("n").resolve("s000.mask.png")).doesNotExist();
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void segmentWithoutAModelRunsTheEmbeddedCamvidModel() throws IOException {
        Path camvid = Path.of("../models/camvid-vit9"), photo = Path.of("../samples/cat_0000.jpg");
        assertThat(camvid.resolve("model.safetensors")).as("the embedded segmentation model").exists();
        String old = System.getProperty("vitrim.home");
        System.setProperty("vitrim.home", ".."); // as the launcher sets it: the repository root
        try {
            Path out = tmp.resolve("embedded");
            CliTest.Run r = run("segment", photo.toString(), "--out", out.toString());
            assertThat(r.code()).as(r.err()).isZero();
            // CamVid's classes, not CIFAR-10's: the segmentation model, not the classifier default
            assertThat(r.out()).containsPattern("(Sky|Building|Road|Tree|Car|Pavement) \\d+\\.\\d%");
            BufferedImage mask = ImageIO.read(out.resolve("cat_0000.mask.png").toFile());
            BufferedImage in = ImageIO.read(photo.toFile());
            assertThat(new int[] {mask.getWidth(), mask.getHeight()}).containsExactly(in.getWidth(), in.getHeight());
        } finally {
            if (old == null) System.clearProperty("vitrim.home");
            else System.setProperty("vitrim.home", old);
        }
    }
}
