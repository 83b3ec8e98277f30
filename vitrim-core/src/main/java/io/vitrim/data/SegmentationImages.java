package io.vitrim.data;

import io.vitrim.VitrimException;
import io.vitrim.image.ImageDecoder;
import io.vitrim.image.RgbImage;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * A segmentation set: {@code images/<id>.<jpg|png|…>} with {@code labels/<id>.png} (one class id
 * per pixel), in a zip or a folder — CamVid's layout. Every image must have its label map of the
 * same size and every label value must be a class or the ignore value; anything else is a
 * one-line error naming the file. Decoded once, in id order.
 */
public final class SegmentationImages {
    /** One example: its id, the photo and its labels. */
    public record Example(String id, RgbImage image, ImageDecoder.LabelMap labels) {}

    private static final java.util.Set<String> IMAGE_EXTENSIONS = java.util.Set.of("jpg", "jpeg", "png", "webp", "bmp");

    private final Path source;
    private final List<Example> examples;

    private SegmentationImages(Path source, List<Example> examples) {
        this.source = source;
        this.examples = examples;
    }

    public Path source() {
        return source;
    }

    public int size() {
        return examples.size();
    }

    public Example get(int i) {
        return examples.get(i);
    }

    public List<Example> examples() {
        return examples;
    }

    /**
     * @param classes     label values {@code 0..classes-1} are classes
     * @param ignoreIndex the one other value allowed (e.g. CamVid's 11 = void), or −1 for none
     * @param limit       read only the first {@code limit} ids (0 = all)
     */
    public static SegmentationImages load(Path path, int classes, int ignoreIndex, int limit) {
        if (!Files.exists(path)) throw VitrimException.of(path, "no such file or folder");
        Map<String, String> images = new TreeMap<>(), labels = new TreeMap<>();
        List<Example> out = new ArrayList<>();
        if (Files.isDirectory(path)) {
            try (Stream<Path> s = Files.walk(path)) {
                for (Path f : s.filter(Files::isRegularFile).toList()) sort(path.relativize(f).toString().replace('\\', '/'), images, labels);
            } catch (IOException | java.io.UncheckedIOException e) {
                throw VitrimException.of(path, "cannot list folder: " + e.getMessage());
            }
            for (String id : pair(path, images, labels, limit)) {
                out.add(example(id, BoundedRead.read(path.resolve(images.get(id))), path + "/" + images.get(id),
                        BoundedRead.read(path.resolve(labels.get(id))), path + "/" + labels.get(id), classes, ignoreIndex));
            }
        } else {
            try (ZipFile zf = new ZipFile(path.toFile())) {
                Enumeration<? extends ZipEntry> en = zf.entries();
                while (en.hasMoreElements()) {
                    ZipEntry e = en.nextElement();
                    if (!e.isDirectory()) sort(e.getName(), images, labels);
                }
                for (String id : pair(path, images, labels, limit)) {
                    String im = images.get(id), lb = labels.get(id);
                    out.add(example(id, entry(zf, im, path), path + "!" + im, entry(zf, lb, path), path + "!" + lb, classes, ignoreIndex));
                }
            } catch (IOException e) {
                throw VitrimException.of(path, "not a readable zip: " + e.getMessage());
            }
        }
        return new SegmentationImages(path, List.copyOf(out));
    }

    private static void sort(String name, Map<String, String> images, Map<String, String> labels) {
        int slash = name.lastIndexOf('/'), dot = name.lastIndexOf('.');
        if (dot <= slash + 1) return;
        String dir = slash < 0 ? "" : name.substring(0, slash), base = name.substring(slash + 1, dot);
        String ext = name.substring(dot + 1).toLowerCase(Locale.ROOT);
        String parent = dir.substring(dir.lastIndexOf('/') + 1);
        if (parent.equals("images") && IMAGE_EXTENSIONS.contains(ext)) {
            if (images.put(base, name) != null) throw new VitrimException(name + ": a second image with id " + base);
        } else if (parent.equals("labels") && ext.equals("png")) {
            if (labels.put(base, name) != null) throw new VitrimException(name + ": a second label map with id " + base);
        }
    }

    private static List<String> pair(Path path, Map<String, String> images, Map<String, String> labels, int limit) {
        if (images.isEmpty()) throw VitrimException.of(path, "no images/<id>.jpg|png found (a segmentation set holds images/ and labels/)");
        for (String id : images.keySet()) if (!labels.containsKey(id)) throw VitrimException.of(path, images.get(id) + " has no labels/" + id + ".png");
        for (String id : labels.keySet()) if (!images.containsKey(id)) throw VitrimException.of(path, labels.get(id) + " has no image images/" + id + ".*");
        List<String> ids = new ArrayList<>(images.keySet());
        return limit > 0 && limit < ids.size() ? ids.subList(0, limit) : ids;
    }

    private static byte[] entry(ZipFile zf, String name, Path zip) throws IOException {
        ZipEntry e = zf.getEntry(name);
        try (InputStream in = zf.getInputStream(e)) {
            return BoundedRead.read(in, e.getSize(), zip + "!" + name);
        }
    }

    private static Example example(String id, byte[] img, String imgName, byte[] lab, String labName, int classes, int ignoreIndex) {
        RgbImage image = ImageDecoder.decode(img, imgName);
        ImageDecoder.LabelMap labels = ImageDecoder.decodeLabels(lab, labName);
        if (labels.width() != image.width() || labels.height() != image.height()) {
            throw VitrimException.of(labName, "label map is " + labels.width() + "x" + labels.height() + ", its image " + image.width() + "x" + image.height());
        }
        byte[] v = labels.labels();
        for (int i = 0; i < v.length; i++) {
            int c = v[i] & 0xFF;
            if (c >= classes && c != ignoreIndex) {
                throw VitrimException.of(labName, "label value " + c + " at pixel (" + (i % labels.width()) + ", " + (i / labels.width()) + ") is not a class (0-"
                        + (classes - 1) + (ignoreIndex >= 0 ? ") nor the ignore value " + ignoreIndex : ")"));
            }
        }
        return new Example(id, image, labels);
    }
}
