package io.vitrim.data;

import io.vitrim.VitrimException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Pairs of photos and label maps: read raw, checked for size and values, with one-line errors. */
class SegmentationImagesTest {
    @TempDir
    Path tmp;

    static byte[] png(BufferedImage img) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        ImageIO.write(img, "png", b);
        return b.toByteArray();
    }

    static byte[] photo(int w, int h) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, (x * 40) << 16 | (y * 30) << 8 | 7);
        return png(img);
    }

    /** A grey label map whose value at (x, y) is {@code (x + 2y) % mod}, or {@code bad} at (1, 0). */
    static byte[] labels(int w, int h, int mod, int bad) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.getRaster().setSample(x, y, 0, (x + 2 * y) % mod);
        if (bad >= 0) img.getRaster().setSample(1, 0, 0, bad);
        return png(img);
    }

    Path zip(Map<String, byte[]> entries) throws IOException {
        Path z = tmp.resolve("set" + entries.hashCode() + ".zip");
        try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(z))) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                out.putNextEntry(new ZipEntry(e.getKey()));
                out.write(e.getValue());
                out.closeEntry();
            }
        }
        return z;
    }

    @Test
    void readsPairsInIdOrderWithRawLabelValues() throws IOException {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("images/b.png", photo(6, 4));
        m.put("labels/b.png", labels(6, 4, 12, -1));
        m.put("images/a.png", photo(5, 3));
        m.put("labels/a.png", labels(5, 3, 12, -1));
        SegmentationImages s = SegmentationImages.load(zip(m), 11, 11, 0);
        assertThat(s.size()).isEqualTo(2);
        assertThat(s.get(0).id()).isEqualTo("a");
        SegmentationImages.Example b = s.get(1);
        assertThat(b.image().width()).isEqualTo(6);
        for (int y = 0; y < 4; y++) for (int x = 0; x < 6; x++) assertThat(b.labels().get(x, y)).isEqualTo((x + 2 * y) % 12);
        // the same from a folder
        Path dir = tmp.resolve("folder");
        for (Map.Entry<String, byte[]> e : m.entrySet()) {
            Files.createDirectories(dir.resolve(e.getKey()).getParent());
            Files.write(dir.resolve(e.getKey()), e.getValue());
        }
        assertThat(SegmentationImages.load(dir, 11, 11, 1).size()).isEqualTo(1);
    }

    @Test
    void refusesMismatchesWithOneLine() throws IOException {
        Map<String, byte[]> size = Map.of("images/a.png", photo(5, 3), "labels/a.png", labels(5, 4, 11, -1));
        assertThatThrownBy(() -> SegmentationImages.load(zip(size), 11, 11, 0)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("labels/a.png").hasMessageContaining("5x4").hasMessageContaining("5x3");
        Map<String, byte[]> value = Map.of("images/a.png", photo(5, 3), "labels/a.png", labels(5, 3, 11, 12));
        assertThatThrownBy(() -> SegmentationImages.load(zip(value), 11, 11, 0)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("label value 12 at pixel (1, 0)");
        Map<String, byte[]> missing = Map.of("images/a.png", photo(5, 3), "images/c.png", photo(5, 3), "labels/a.png", labels(5, 3, 11, -1));
        assertThatThrownBy(() -> SegmentationImages.load(zip(missing), 11, 11, 0)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("images/c.png has no labels/c.png");
        Map<String, byte[]> rgb = Map.of("images/a.png", photo(5, 3), "labels/a.png", photo(5, 3));
        assertThatThrownBy(() -> SegmentationImages.load(zip(rgb), 11, 11, 0)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("one channel");
        for (Throwable t : new Throwable[] {catchIt(size), catchIt(value), catchIt(missing)}) assertThat(t.getMessage()).doesNotContain("\n");
    }

    private Throwable catchIt(Map<String, byte[]> m) throws IOException {
        Path z = zip(m);
        try {
            SegmentationImages.load(z, 11, 11, 0);
            return new AssertionError("accepted");
        } catch (VitrimException e) {
            return e;
        }
    }

    @Test
    void camvidValidationSetLoads() {
        Path val = Path.of("../../shared/data/camvid/val.zip");
        if (!Files.exists(val)) val = Path.of("../shared/data/camvid/val.zip");
        if (!Files.exists(val)) {
            System.err.println("SKIPPED SegmentationImagesTest.camvidValidationSetLoads: ../shared/data/camvid/val.zip not found");
            org.junit.jupiter.api.Assumptions.abort("../shared/data/camvid/val.zip not found");
        }
        SegmentationImages s = SegmentationImages.load(val, 11, 11, 5);
        assertThat(s.size()).isEqualTo(5);
        SegmentationImages.Example e = s.get(0);
        assertThat(e.image().width()).isEqualTo(480);
        assertThat(e.image().height()).isEqualTo(360);
        int[] counts = new int[12];
        for (byte b : e.labels().labels()) counts[b & 0xFF]++;
        assertThat(counts[3]).as("road pixels").isPositive();
        assertThat(counts[0]).as("sky pixels").isPositive();
    }
}
