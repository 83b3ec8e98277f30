package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.Architectures;
import io.vitrim.model.RandomInit;
import io.vitrim.model.VisionTransformer;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** How a command gets its model: a checkpoint, or an architecture with seeded random weights. */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, paramLabel = "DIR|FILE",
            description = "Model folder (timm or Hugging Face layout) or .safetensors file (needs --arch). Default: the embedded models/cifar10-vit9-c2 (segment: models/camvid-vit9), unless --arch is given.")
    Path model;

    @Option(names = "--arch", paramLabel = "NAME",
            description = "timm architecture, e.g. deit_small_patch16_224. Alone: seeded random weights.")
    String arch;

    @Option(names = "--img-size", paramLabel = "N",
            description = "Run at this (square) input size instead of the model's; the position embedding is resampled as timm does (e.g. a DINOv2 made at 518 run at 224).")
    Integer imgSize;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0",
            description = "Seed of the random weights used with --arch alone (default: ${DEFAULT-VALUE}).")
    long seed;

    /** The classifier shipped in the repository's {@code models/}: the default of every command but segment. */
    static final String EMBEDDED = "cifar10-vit9-c2";
    /** The segmentation model shipped in {@code models/}: segment's default. */
    static final String EMBEDDED_SEGMENTATION = "camvid-vit9";

    /** {@code models/NAME} of the repository the launcher runs from, if present. */
    private static Path shipped(String name) {
        String home = System.getProperty("vitrim.home");
        Path p = Path.of(home == null ? "." : home, "models", name);
        return java.nio.file.Files.isDirectory(p) ? p : null;
    }

    /**
     * What was loaded, for headers and reports: a path relative to the working directory when the
     * model lies inside it (reports committed to a repository name no machine's folders), else
     * the folder or file name.
     */
    String describe() {
        return describeModel() + (imgSize == null ? "" : " at " + imgSize + " px");
    }

    private String describeModel() {
        if (model != null) {
            Path abs = model.toAbsolutePath().normalize(), cwd = Path.of("").toAbsolutePath();
            if (abs.startsWith(cwd) && !abs.equals(cwd)) return cwd.relativize(abs).toString();
            if (!model.isAbsolute() && !model.normalize().startsWith("..")) return model.normalize().toString();
            return abs.getFileName() == null ? abs.toString() : abs.getFileName().toString();
        }
        if (arch == null) return "models/" + EMBEDDED + " (embedded)";
        return arch + " (random weights, seed " + seed + ")";
    }

    /**
     * A content hash of the loaded checkpoint (its config and weights files), so caches of
     * measured results notice a retrained model at the same path; the seed for random weights.
     */
    String fingerprint() {
        return modelFingerprint() + (imgSize == null ? "" : "@" + imgSize);
    }

    private String modelFingerprint() {
        if (model == null) return arch + "/seed" + seed;
        return fingerprintOf(model);
    }

    /** A content hash of a model folder's config.json and safetensors files (or of one file). */
    static String fingerprintOf(Path model) {
        try {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            java.util.List<Path> files = new java.util.ArrayList<>();
            if (java.nio.file.Files.isDirectory(model)) {
                try (var list = java.nio.file.Files.list(model)) {
                    list.filter(f -> f.getFileName().toString().endsWith(".safetensors") || f.getFileName().toString().equals("config.json"))
                            .sorted().forEach(files::add);
                }
            } else {
                files.add(model);
            }
            byte[] buf = new byte[1 << 16];
            for (Path f : files) {
                md.update(f.getFileName().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                try (var in = java.nio.file.Files.newInputStream(f)) {
                    for (int k; (k = in.read(buf)) > 0; ) md.update(buf, 0, k);
                }
            }
            return java.util.HexFormat.of().formatHex(md.digest(), 0, 8);
        } catch (java.io.IOException | java.security.NoSuchAlgorithmException e) {
            throw VitrimException.of(model, "cannot read (" + e.getMessage() + ")");
        }
    }

    /** Loads --model, or --arch with random weights; with neither, the embedded model. */
    VisionTransformer load(int threads) {
        return load(threads, EMBEDDED);
    }

    /** As {@link #load(int)}, with the shipped {@code models/<embedded>} as the default model. */
    VisionTransformer load(int threads, String embedded) {
        if (model == null && arch == null) model = shipped(embedded);
        if (imgSize != null && (imgSize < 1 || imgSize > io.vitrim.config.ViTConfig.MAX_IMAGE)) {
            throw new VitrimException("--img-size " + imgSize + ": must be between 1 and " + io.vitrim.config.ViTConfig.MAX_IMAGE);
        }
        if (model != null) {
            ModelLoader.Checkpoint ck = ModelLoader.read(model, arch);
            if (imgSize != null) ck = ModelLoader.atImageSize(ck, imgSize, imgSize);
            return ck.build(threads);
        }
        if (arch == null) throw new VitrimException("no model: pass --model DIR|FILE (the embedded models/" + embedded + " is missing), or --arch NAME for random weights");
        Architectures.Arch spec = Architectures.get(arch);
        io.vitrim.config.ViTConfig c = spec.config();
        io.vitrim.config.PreprocessConfig pre = spec.preprocess();
        if (imgSize != null) {
            c = c.withImageSize(imgSize, imgSize).validate("--img-size " + imgSize);
            pre = pre.withInputSize(imgSize, imgSize);
        }
        return VisionTransformer.create(c, pre, null, RandomInit.create(c, seed), threads, arch);
    }

    /** A classifier or a segmentation model (not a headless encoder). */
    VisionTransformer loadTask(int threads) {
        VisionTransformer m = load(threads);
        if (m.segmentation() == null && m.config().numClasses() == 0) {
            m.close();
            throw new VitrimException(describe() + ": the model has no classifier head (num_classes 0, a feature encoder such as DINOv2); "
                    + "use vitrim embed");
        }
        return m;
    }

    /** As {@link #load(int)}, for commands that classify: a segmentation model or one without a head is refused. */
    VisionTransformer loadClassifier(int threads) {
        VisionTransformer m = load(threads);
        if (m.segmentation() != null) {
            m.close();
            throw new VitrimException(describe() + ": a segmentation model (per-pixel classes); use vitrim segment, or vitrim eval on a segmentation set");
        }
        if (m.config().numClasses() == 0) {
            m.close();
            throw new VitrimException(describe() + ": the model has no classifier head (num_classes 0, a feature encoder such as DINOv2); "
                    + "use vitrim embed");
        }
        return m;
    }
}
