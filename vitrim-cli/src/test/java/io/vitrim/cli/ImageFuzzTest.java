package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.image.ImageDecoder;
import io.vitrim.image.RgbImage;
import io.vitrim.testing.Mutator;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * JPEG, PNG and WebP bytes mutated 10,000 times each (bit flips, cuts, splices, byte runs,
 * extreme values in size and length fields, and structure-aware edits of PNG's IHDR and chunk
 * lengths and JPEG's frame size): every decode returns an image or vitrim's one-line error —
 * never another exception, a hang or an out-of-memory. {@code -Dvitrim.fuzz.n=N} runs more.
 */
class ImageFuzzTest {
    static final int N = Integer.getInteger("vitrim.fuzz.n", 10_000);

    static byte[] encode(String format, int w, int h) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        SplittableRandom r = new SplittableRandom(1);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, (x * 8) << 16 | (y * 8) << 8 | r.nextInt(64));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(ImageIO.write(img, format, out)).isTrue();
        return out.toByteArray();
    }

    @Test
    void png() throws IOException {
        byte[] png = encode("png", 24, 17);
        fuzz("png", png, (b, r) -> {
            // IHDR width/height at 16/20, the first chunk length at 8, a later chunk's length
            int[] at = {8, 16, 20, 33};
            Mutator.field(b, at[r.nextInt(at.length)], r.nextLong(1L << 32), 4, true);
        });
    }

    @Test
    void jpeg() throws IOException {
        byte[] jpg = encode("jpg", 24, 17);
        int sof = -1;
        for (int i = 0; i + 1 < jpg.length; i++) if ((jpg[i] & 0xff) == 0xFF && (jpg[i + 1] & 0xff) == 0xC0) { sof = i; break; }
        assertThat(sof).as("baseline frame header").isPositive();
        final int frame = sof;
        fuzz("jpg", jpg, (b, r) -> {
            // frame height/width (SOF0 + 5 / + 7), or a segment length right after a marker
            if (r.nextBoolean()) Mutator.field(b, frame + (r.nextBoolean() ? 5 : 7), r.nextInt(1 << 16), 2, true);
            else Mutator.field(b, 4, r.nextInt(1 << 16), 2, true);
        });
    }

    @Test
    void webp() throws IOException {
        byte[] webp = Files.readAllBytes(Path.of("src/test/resources/chelsea_90x60_lossless.webp"));
        fuzz("webp", webp, (b, r) -> {
            // RIFF size at 4, VP8L chunk size at 16, the packed 14-bit width/height after its signature byte
            int[] at = {4, 16, 21, 22, 23};
            int pos = at[r.nextInt(at.length)];
            Mutator.field(b, pos, r.nextLong(1L << 32), pos < 20 ? 4 : 2, false);
        });
    }

    /**
     * A label map as CamVid stores them (8-bit grey PNG of class ids), read by the label decoder
     * and the segmentation set's checks: a label map, or the one-line error.
     */
    @Test
    void labelPng() throws IOException {
        BufferedImage lab = new BufferedImage(30, 20, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 20; y++) for (int x = 0; x < 30; x++) lab.getRaster().setSample(x, y, 0, y < 8 ? 0 : (x / 7) % 12);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(ImageIO.write(lab, "png", out)).isTrue();
        byte[] png = out.toByteArray();
        assertThat(ImageDecoder.decodeLabels(png, "seed.png").get(29, 19)).isEqualTo(4);
        List<String> failures = new ArrayList<>();
        int[] decoded = {0};
        assertTimeoutPreemptively(Mutator.budget(N), () -> {
            SplittableRandom r = new SplittableRandom(77);
            for (int i = 0; i < N && failures.size() < 5; i++) {
                byte[] b = Mutator.mutate(png, r);
                if (i % 4 == 0 && b.length > 40) Mutator.field(b, new int[] {8, 16, 20, 33}[r.nextInt(4)], r.nextLong(1L << 32), 4, true);
                try {
                    ImageDecoder.LabelMap m = ImageDecoder.decodeLabels(b, "fuzz.png");
                    assertThat(m.labels().length).isEqualTo(m.width() * m.height());
                    decoded[0]++;
                } catch (VitrimException e) {
                    if (e.getMessage() == null || e.getMessage().contains("\n") || !e.getMessage().startsWith("fuzz.png")) {
                        failures.add("not one line naming the input: " + e.getMessage());
                    }
                } catch (RuntimeException | Error e) {
                    failures.add("mutation " + i + ": " + e);
                }
            }
        });
        System.err.printf("ImageFuzzTest (label png): %d mutations, %d decoded, the rest one-line errors%n", N, decoded[0]);
        assertThat(failures).as("label PNG mutations that escaped as other exceptions").isEmpty();
        assertThat(decoded[0]).as("some label PNG mutations still decode").isPositive();
    }

    interface Edit {
        void apply(byte[] b, SplittableRandom r);
    }

    static void fuzz(String ext, byte[] seed, Edit structured) {
        RgbImage original = ImageDecoder.decode(seed, "seed." + ext);
        assertThat(original.width()).isPositive();
        List<String> failures = new ArrayList<>();
        int[] decoded = {0};
        assertTimeoutPreemptively(Mutator.budget(N), () -> {
            SplittableRandom r = new SplittableRandom(ext.hashCode());
            for (int i = 0; i < N && failures.size() < 5; i++) {
                byte[] b = Mutator.mutate(seed, r);
                if (i % 4 == 0 && b.length > 40) structured.apply(b, r);
                try {
                    RgbImage img = ImageDecoder.decode(b, "fuzz." + ext);
                    assertThat(img.rgb().length).isEqualTo(img.width() * img.height() * 3);
                    decoded[0]++;
                } catch (VitrimException e) {
                    if (e.getMessage() == null || e.getMessage().contains("\n") || !e.getMessage().startsWith("fuzz." + ext)) {
                        failures.add("not one line naming the input: " + e.getMessage());
                    }
                } catch (RuntimeException | Error e) {
                    failures.add("mutation " + i + ": " + e);
                }
            }
        });
        System.err.printf("ImageFuzzTest (%s): %d mutations, %d decoded, the rest one-line errors%n", ext, N, decoded[0]);
        assertThat(failures).as(ext + " mutations that escaped as other exceptions").isEmpty();
        assertThat(decoded[0]).as("some " + ext + " mutations still decode").isPositive();
    }
}
