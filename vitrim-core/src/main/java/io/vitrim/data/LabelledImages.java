package io.vitrim.data;

import io.vitrim.VitrimException;
import io.vitrim.image.ImageDecoder;
import io.vitrim.image.Preprocessor;
import io.vitrim.image.RgbImage;
import io.vitrim.config.PreprocessConfig;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * A labelled image set in the ImageFolder layout ({@code <class>/<file>}), read from a zip
 * (entries read at random, no unpacking) or a folder. Classes are the sorted folder names.
 * Images are decoded once and kept in memory as 8-bit RGB at the model's input size (resized
 * and centre-cropped as {@link Preprocessor} does; CIFAR's 32×32 stays untouched).
 */
public final class LabelledImages {
    private final List<String> classes;
    private final int height, width;
    private final byte[] pixels; // [N, H, W, 3]
    private final int[] labels;
    private final Path source;

    private LabelledImages(Path source, List<String> classes, int height, int width, byte[] pixels, int[] labels) {
        this.source = source;
        this.classes = classes;
        this.height = height;
        this.width = width;
        this.pixels = pixels;
        this.labels = labels;
    }

    public List<String> classes() {
        return classes;
    }

    public int size() {
        return labels.length;
    }

    public int height() {
        return height;
    }

    public int width() {
        return width;
    }

    public int label(int i) {
        return labels[i];
    }

    public Path source() {
        return source;
    }

    /** The image's bytes [H, W, 3] start at {@code i·H·W·3} of this array. */
    public byte[] pixels() {
        return pixels;
    }

    private record Item(String name, int label) {}

    /**
     * Loads and decodes every image. {@code limit} > 0 takes an evenly spread subset of that many
     * (every k-th item in sorted order, so all classes stay represented).
     */
    public static LabelledImages load(Path path, PreprocessConfig pre, int threads, int limit, IntConsumer progress) {
        if (!Files.exists(path)) throw VitrimException.of(path, "no such file or folder");
        boolean zip = !Files.isDirectory(path);
        List<Item> items = new ArrayList<>();
        TreeSet<String> classNames = new TreeSet<>();
        List<String[]> raw = new ArrayList<>();
        try (ZipFile zf = zip ? open(path) : null) {
            if (zip) {
                Enumeration<? extends ZipEntry> en = zf.entries();
                while (en.hasMoreElements()) {
                    ZipEntry e = en.nextElement();
                    if (e.isDirectory()) continue;
                    String[] parts = e.getName().split("/");
                    if (parts.length < 2 || !isImage(parts[parts.length - 1])) continue;
                    raw.add(new String[] {parts[parts.length - 2], e.getName()});
                }
            } else {
                try (Stream<Path> s = Files.walk(path)) {
                    for (Path f : (Iterable<Path>) s.filter(Files::isRegularFile)::iterator) {
                        if (!isImage(f.getFileName().toString()) || f.getParent().equals(path)) continue;
                        raw.add(new String[] {f.getParent().getFileName().toString(), path.relativize(f).toString()});
                    }
                }
            }
            for (String[] r : raw) classNames.add(r[0]);
            if (raw.isEmpty()) throw VitrimException.of(path, "no labelled images found (expected <class>/<image> entries)");
            List<String> classes = new ArrayList<>(classNames);
            raw.sort((a, b) -> a[1].compareTo(b[1]));
            for (String[] r : raw) items.add(new Item(r[1], classes.indexOf(r[0])));
            if (limit > 0 && limit < items.size()) {
                List<Item> sub = new ArrayList<>();
                for (int i = 0; i < limit; i++) sub.add(items.get((int) ((long) i * items.size() / limit)));
                items = sub;
            }
            int h = pre.inputHeight(), w = pre.inputWidth(), per = h * w * 3;
            long need = (long) items.size() * per, budget = Math.min(Integer.MAX_VALUE - 8, Runtime.getRuntime().maxMemory() / 2);
            if (need > budget) {
                throw VitrimException.of(path, items.size() + " images of " + w + "x" + h + " need " + need / (1 << 20)
                        + " MiB in memory, more than " + budget / (1 << 20) + " MiB (half the heap, at most 2 GiB); use --limit or a larger -Xmx");
            }
            byte[] px = new byte[(int) need];
            int[] labels = new int[items.size()];
            Preprocessor p = new Preprocessor(pre);
            ExecutorService ex = Executors.newFixedThreadPool(Math.max(1, threads), r -> {
                Thread t = new Thread(r, "vitrim-load");
                t.setDaemon(true);
                return t;
            });
            AtomicInteger done = new AtomicInteger();
            try {
                List<Future<?>> fs = new ArrayList<>();
                int chunk = 256;
                final List<Item> all = items;
                for (int s = 0; s < all.size(); s += chunk) {
                    int s0 = s, s1 = Math.min(all.size(), s + chunk);
                    fs.add(ex.submit(() -> {
                        for (int i = s0; i < s1; i++) {
                            Item it = all.get(i);
                            byte[] bytes = zip ? readEntry(zf, path, it.name) : readFile(path.resolve(it.name));
                            RgbImage img = p.resizeAndCrop(ImageDecoder.decode(bytes, path + "!" + it.name));
                            System.arraycopy(img.rgb(), 0, px, i * per, per);
                            labels[i] = it.label;
                        }
                        if (progress != null) progress.accept(done.addAndGet(s1 - s0));
                        return null;
                    }));
                }
                for (Future<?> f : fs) {
                    try {
                        f.get();
                    } catch (java.util.concurrent.ExecutionException e) {
                        if (e.getCause() instanceof RuntimeException) throw (RuntimeException) e.getCause();
                        if (e.getCause() instanceof OutOfMemoryError) {
                            throw VitrimException.of(path, "out of memory while decoding (a huge image?); use a larger -Xmx");
                        }
                        throw new IllegalStateException(e.getCause());
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            } finally {
                ex.shutdownNow();
            }
            return new LabelledImages(path, classes, h, w, px, labels);
        } catch (IOException e) {
            throw VitrimException.of(path, "cannot read: " + e.getMessage());
        }
    }

    private static ZipFile open(Path p) {
        try {
            return new ZipFile(p.toFile());
        } catch (IOException e) {
            throw VitrimException.of(p, "not a readable zip (" + e.getMessage() + ")");
        }
    }

    private static byte[] readEntry(ZipFile zf, Path zip, String name) {
        ZipEntry entry = zf.getEntry(name);
        try (InputStream in = zf.getInputStream(entry)) {
            return BoundedRead.read(in, entry.getSize(), zip + "!" + name);
        } catch (IOException e) {
            throw VitrimException.of(zip + "!" + name, "cannot read: " + e.getMessage());
        }
    }

    private static byte[] readFile(Path f) {
        return BoundedRead.read(f);
    }

    static boolean isImage(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".png") || n.endsWith(".webp") || n.endsWith(".bmp");
    }

    /** Writes image i normalised into {@code dst[off..]} as {@code [3, H, W]}. */
    public void toTensor(int i, float[] mean, float[] std, float[] dst, int off) {
        int hw = height * width, base = i * hw * 3;
        for (int c = 0; c < 3; c++) {
            for (int q = 0; q < hw; q++) {
                float v = (pixels[base + q * 3 + c] & 0xff) / 255f;
                dst[off + c * hw + q] = (v - mean[c]) / std[c];
            }
        }
    }

    /**
     * Splits off {@code n} images as a validation set (a seeded shuffle; its first {@code n} are
     * held out, both parts keep their sorted order): returns {rest, held out}.
     */
    public LabelledImages[] holdout(int n, long seed) {
        if (n <= 0 || n >= size()) throw VitrimException.of(source, "cannot hold out " + n + " of " + size() + " images");
        int[] p = new int[size()];
        for (int i = 0; i < p.length; i++) p[i] = i;
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed ^ 0x4F1DL);
        for (int i = p.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        int[] held = java.util.Arrays.copyOf(p, n), rest = java.util.Arrays.copyOfRange(p, n, p.length);
        java.util.Arrays.sort(held);
        java.util.Arrays.sort(rest);
        return new LabelledImages[] {subset(rest), subset(held)};
    }

    private LabelledImages subset(int[] idx) {
        int per = height * width * 3;
        byte[] px = new byte[idx.length * per];
        int[] lab = new int[idx.length];
        for (int k = 0; k < idx.length; k++) {
            System.arraycopy(pixels, idx[k] * per, px, k * per, per);
            lab[k] = labels[idx[k]];
        }
        return new LabelledImages(source, classes, height, width, px, lab);
    }
}
