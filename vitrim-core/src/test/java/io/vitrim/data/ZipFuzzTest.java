package io.vitrim.data;

import io.vitrim.VitrimException;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.testing.Mutator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Labelled-image zips mutated 10,000 times (bit flips, cuts, splices, byte runs, extreme values
 * in the local and central headers' sizes, name lengths and offsets): each loads or fails with
 * vitrim's one-line error. Plus the cases fuzzing rarely hits: an entry that inflates past the
 * byte budget, duplicate names, nested folders. {@code -Dvitrim.fuzz.n=N} runs more.
 */
class ZipFuzzTest {
    static final PreprocessConfig PRE = new PreprocessConfig(16, 16, 1.0, PreprocessConfig.Interpolation.BICUBIC,
            PreprocessConfig.Resize.SHORTER_SIDE, new float[] {0.5f, 0.5f, 0.5f}, new float[] {0.25f, 0.25f, 0.25f});

    @TempDir
    Path tmp;

    static byte[] png(int seed) throws IOException {
        BufferedImage img = new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB);
        SplittableRandom r = new SplittableRandom(seed);
        for (int y = 0; y < 16; y++) for (int x = 0; x < 16; x++) img.setRGB(x, y, r.nextInt(1 << 24));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }

    static byte[] zip(String[] names, byte[][] data, int method) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bytes)) {
            z.setMethod(method);
            for (int i = 0; i < names.length; i++) {
                ZipEntry e = new ZipEntry(names[i]);
                if (method == ZipEntry.STORED) {
                    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
                    crc.update(data[i]);
                    e.setSize(data[i].length);
                    e.setCrc(crc.getValue());
                }
                z.putNextEntry(e);
                z.write(data[i]);
                z.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    static List<Integer> find(byte[] b, int signature) {
        List<Integer> at = new ArrayList<>();
        for (int i = 0; i + 4 <= b.length; i++) {
            int v = (b[i] & 0xff) | (b[i + 1] & 0xff) << 8 | (b[i + 2] & 0xff) << 16 | (b[i + 3] & 0xff) << 24;
            if (v == signature) at.add(i);
        }
        return at;
    }

    @Test
    void mutatedZipsLoadOrFailWithOneLine() throws IOException {
        String[] names = {"cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png", "emu/x/0.png"};
        byte[][] data = new byte[names.length][];
        for (int i = 0; i < names.length; i++) data[i] = png(i);
        for (int method : new int[] {ZipEntry.DEFLATED, ZipEntry.STORED}) {
            byte[] seed = zip(names, data, method);
            Path f = tmp.resolve("fuzz.zip");
            Files.write(f, seed);
            assertThat(LabelledImages.load(f, PRE, 1, 0, null).size()).isEqualTo(5);
            List<Integer> cen = find(seed, 0x02014b50), loc = find(seed, 0x04034b50);
            int n = Integer.getInteger("vitrim.fuzz.n", 10_000) / 2;
            List<String> failures = new ArrayList<>();
            int[] loaded = {0};
            assertTimeoutPreemptively(Mutator.budget(n), () -> {
                SplittableRandom r = new SplittableRandom(method);
                for (int i = 0; i < n && failures.size() < 5; i++) {
                    byte[] b = Mutator.mutate(seed, r);
                    if (i % 3 == 0 && b.length == seed.length) {
                        // header fields: sizes, name length, offsets (central) or sizes (local)
                        if (r.nextBoolean()) {
                            int[] off = {20, 24, 28, 30, 42};
                            Mutator.field(b, cen.get(r.nextInt(cen.size())) + off[r.nextInt(off.length)], r.nextLong(1L << 32), 4, false);
                        } else {
                            int[] off = {18, 22, 26};
                            Mutator.field(b, loc.get(r.nextInt(loc.size())) + off[r.nextInt(off.length)], r.nextLong(1L << 32), 4, false);
                        }
                    }
                    Files.write(f, b);
                    try {
                        LabelledImages d = LabelledImages.load(f, PRE, 2, 0, null);
                        assertThat(d.pixels().length).isEqualTo(d.size() * 16 * 16 * 3);
                        loaded[0]++;
                    } catch (VitrimException e) {
                        if (e.getMessage() == null || e.getMessage().contains("\n") || !e.getMessage().startsWith(f.toString())) {
                            failures.add("not one line naming the zip: " + e.getMessage());
                        }
                    } catch (RuntimeException | Error e) {
                        failures.add("mutation " + i + ": " + e);
                    }
                }
            });
            assertThat(failures).as("zip mutations that escaped as other exceptions").isEmpty();
            assertThat(loaded[0]).as("some mutations still load").isPositive();
            System.err.printf("ZipFuzzTest: %d mutations (method %d), %d loaded, the rest one-line errors%n", n, method, loaded[0]);
        }
    }

    @Test
    void anEntryThatInflatesPastTheBudgetIsRefused() throws IOException {
        byte[] big = new byte[3 << 20]; // zeros: 3 MiB that deflate to a few KiB
        Path f = tmp.resolve("bomb.zip");
        Files.write(f, zip(new String[] {"a/0.png", "a/1.png"}, new byte[][] {png(1), big}, ZipEntry.DEFLATED));
        String old = System.setProperty("vitrim.maxEntryBytes", String.valueOf(1 << 20));
        try {
            assertThatThrownBy(() -> LabelledImages.load(f, PRE, 1, 0, null)).isInstanceOf(VitrimException.class)
                    .hasMessageContaining("a/1.png").hasMessageContaining("1048576").hasMessageContaining("-Dvitrim.maxEntryBytes");
        } finally {
            if (old == null) System.clearProperty("vitrim.maxEntryBytes");
            else System.setProperty("vitrim.maxEntryBytes", old);
        }
    }

    @Test
    void duplicateNamesAndNestedFolders() throws IOException {
        // two entries written as cat/0.png and cat/9.png, then the second renamed in both headers
        byte[] b = zip(new String[] {"cat/0.png", "cat/9.png", "dog/a/b/0.png"}, new byte[][] {png(1), png(2), png(3)}, ZipEntry.DEFLATED);
        byte[] from = "cat/9.png".getBytes(StandardCharsets.UTF_8), to = "cat/0.png".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i + from.length <= b.length; i++) {
            if (java.util.Arrays.equals(b, i, i + from.length, from, 0, from.length)) System.arraycopy(to, 0, b, i, to.length);
        }
        Path f = tmp.resolve("dup.zip");
        Files.write(f, b);
        try {
            LabelledImages d = LabelledImages.load(f, PRE, 1, 0, null);
            // if the zip reader accepts it, the duplicate is one image among the rest; nested folders name their last folder
            assertThat(d.classes()).containsExactly("b", "cat");
        } catch (VitrimException e) {
            assertThat(e.getMessage()).startsWith(f.toString()).doesNotContain("\n");
        }
    }
}
