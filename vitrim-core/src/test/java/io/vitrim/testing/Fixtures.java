package io.vitrim.testing;

import io.vitrim.io.Json;
import io.vitrim.config.ViTConfig;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/** Reads the golden fixtures written by {@code scripts/python/make_fixtures.py} (and {@code sam_fixtures.py}: {@code train/sam_*}). */
public final class Fixtures {
    private Fixtures() {}

    /**
     * A labelled set of noise images: {@code root/<class>/<name>} for each class and
     * {@code i < perClass} ({@code nameFormat} formats i, e.g. {@code "%d.png"}), {@code size × size}
     * RGB PNGs whose pixels are drawn from one seeded stream, class by class, row by row.
     */
    public static java.nio.file.Path noiseClassFolders(java.nio.file.Path root, List<String> classes, int perClass, int size, long seed,
                                                       String nameFormat) throws IOException {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        for (String c : classes) {
            java.nio.file.Files.createDirectories(root.resolve(c));
            for (int i = 0; i < perClass; i++) {
                java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(size, size, java.awt.image.BufferedImage.TYPE_INT_RGB);
                for (int y = 0; y < size; y++) for (int x = 0; x < size; x++) img.setRGB(x, y, r.nextInt(1 << 24));
                javax.imageio.ImageIO.write(img, "png", root.resolve(c).resolve(String.format(nameFormat, i)).toFile());
            }
        }
        return root;
    }

    /** The file of a fixture resource ({@code name} under {@code /fixtures/}). */
    public static java.nio.file.Path path(String name) {
        try {
            return java.nio.file.Path.of(Fixtures.class.getResource("/fixtures/" + name).toURI());
        } catch (java.net.URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("no fixture " + name, e);
        }
    }

    public static Json.Obj load(String resource) {
        try (InputStream in = Fixtures.class.getResourceAsStream("/fixtures/" + resource)) {
            if (in == null) throw new IllegalStateException("missing fixture " + resource + " (run scripts/python/make_fixtures.py)");
            return new Json.Obj(Json.parseObject(new String(in.readAllBytes(), StandardCharsets.UTF_8)), resource);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The model config of a fixture ({@code vit_ref.Cfg.to_json}). */
    public static ViTConfig config(Json.Obj c) {
        List<Object> img = c.list("img_size");
        int h = ((Number) img.get(0)).intValue(), w = ((Number) img.get(1)).intValue();
        return new ViTConfig("fixture", h, w, c.intValue("patch_size", 0), 3, c.intValue("embed_dim", 0),
                c.intValue("depth", 0), c.intValue("num_heads", 0), c.intValue("mlp_hidden", 0),
                c.bool("qkv_bias", true), c.bool("class_token", true), c.bool("dist_token", false),
                ViTConfig.Pool.parse(c.str("global_pool", "token"), "fixture"), c.bool("fc_norm", false),
                c.intValue("num_classes", 0), (float) c.number("norm_eps", 1e-6)).validate("fixture");
    }

    public static float[] floats(List<Object> l) {
        float[] f = new float[l.size()];
        for (int i = 0; i < f.length; i++) f[i] = ((Number) l.get(i)).floatValue();
        return f;
    }

    public static int[] ints(List<Object> l) {
        int[] f = new int[l.size()];
        for (int i = 0; i < f.length; i++) f[i] = ((Number) l.get(i)).intValue();
        return f;
    }

    @SuppressWarnings("unchecked")
    /** The {@code cases} list of a fixture file; never empty (a test over no cases would pass vacuously). */
    public static List<Json.Obj> cases(String resource) {
        List<Json.Obj> out = new java.util.ArrayList<>();
        for (Object o : load(resource).list("cases")) out.add(obj(o, "case"));
        if (out.isEmpty()) throw new IllegalStateException("fixture " + resource + " has no cases (run scripts/python/make_fixtures.py)");
        return out;
    }

    /** max |a − b| / max |b| over a tensor (the golden tests' relative error); the lengths must agree. */
    public static double relErr(float[] a, float[] b) {
        if (a.length != b.length) throw new AssertionError("length " + a.length + ", expected " + b.length);
        double num = 0, den = 1e-12;
        for (int i = 0; i < a.length; i++) {
            num = Math.max(num, Math.abs(a[i] - b[i]));
            den = Math.max(den, Math.abs(b[i]));
        }
        return num / den;
    }

    public static Json.Obj obj(Object o, String where) {
        return new Json.Obj((Map<String, Object>) o, where);
    }

    /**
     * Adds the hash weights a fixture lists by name, shape and scale ({@code [{name, shape,
     * center, a}]}, e.g. Cropr's keys) to {@code sd}; returns it.
     */
    public static io.vitrim.model.StateDict withListedKeys(io.vitrim.model.StateDict sd, long seed, List<Object> keys) {
        for (Object o : keys) {
            Json.Obj k = obj(o, "keys");
            int[] shape = ints(k.list("shape"));
            int n = java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            sd.put(k.str("name", null), HashInit.uniform(seed, k.str("name", null), n, k.number("a", 0), k.number("center", 0)), shape);
        }
        return sd;
    }
}
