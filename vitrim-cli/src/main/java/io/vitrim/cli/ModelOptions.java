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
            description = "Model folder (timm or Hugging Face layout) or .safetensors file (needs --arch). Default: the embedded models/cifar10-vit.")
    Path model;

    @Option(names = "--arch", paramLabel = "NAME",
            description = "timm architecture, e.g. deit_small_patch16_224. Alone: seeded random weights.")
    String arch;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0",
            description = "Seed of the random weights used with --arch alone (default: ${DEFAULT-VALUE}).")
    long seed;

    /** The model folder shipped in the repository ({@code models/cifar10-vit}), if present. */
    static Path embedded() {
        String home = System.getProperty("vitrim.home");
        Path p = Path.of(home == null ? "." : home, "models", "cifar10-vit");
        return java.nio.file.Files.isDirectory(p) ? p : null;
    }

    /** What was loaded, for headers. */
    String describe() {
        if (model != null) return model.toString();
        return arch + " (random weights, seed " + seed + ")";
    }

    /**
     * Loads --model, or --arch with random weights; with neither, {@code defaultArch} if given,
     * else the embedded model.
     */
    VisionTransformer load(int threads, String defaultArch) {
        if (model == null && arch == null && defaultArch == null) model = embedded();
        if (model != null) return ModelLoader.load(model, arch, threads);
        String a = arch != null ? arch : defaultArch;
        if (a == null) throw new VitrimException("no model: pass --model DIR|FILE (the embedded models/cifar10-vit is missing), or --arch NAME for random weights");
        arch = a;
        Architectures.Arch spec = Architectures.get(a);
        return VisionTransformer.create(spec.config(), spec.preprocess(), null, RandomInit.create(spec.config(), seed), threads, a);
    }
}
