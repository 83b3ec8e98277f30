package io.vitrim.model;

import io.vitrim.VitrimException;
import io.vitrim.model.PreprocessConfig.Interpolation;
import io.vitrim.model.PreprocessConfig.Resize;
import io.vitrim.model.ViTConfig.Pool;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** The standard timm ViT/DeiT variants by name, with their default preprocessing. */
public final class Architectures {
    private Architectures() {}

    /** A named variant: model shape plus timm's default {@code pretrained_cfg}. */
    public record Arch(ViTConfig config, PreprocessConfig preprocess) {}

    private static final Map<String, Arch> REGISTRY = new LinkedHashMap<>();

    private static void vit(String name, int dim, int depth, int heads) {
        ViTConfig c = new ViTConfig(name, 224, 224, 16, 3, dim, depth, heads, 4 * dim, true, true, false,
                Pool.TOKEN, false, 1000, 1e-6f);
        // AugReg ViTs: "Inception" 0.5/0.5 normalisation, crop_pct 0.9 (algorithms.md §0.7)
        REGISTRY.put(name, new Arch(c, new PreprocessConfig(224, 224, 0.9, Interpolation.BICUBIC, Resize.SHORTER_SIDE,
                PreprocessConfig.INCEPTION_MEAN, PreprocessConfig.INCEPTION_STD)));
    }

    private static void deit(String name, int dim, int heads, boolean distilled) {
        ViTConfig c = new ViTConfig(name, 224, 224, 16, 3, dim, 12, heads, 4 * dim, true, true, distilled,
                Pool.TOKEN, false, 1000, 1e-6f);
        REGISTRY.put(name, new Arch(c, new PreprocessConfig(224, 224, 0.9, Interpolation.BICUBIC, Resize.SHORTER_SIDE,
                PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD)));
    }

    static {
        vit("vit_tiny_patch16_224", 192, 12, 3);
        vit("vit_small_patch16_224", 384, 12, 6);
        vit("vit_base_patch16_224", 768, 12, 12);
        vit("vit_large_patch16_224", 1024, 24, 16);
        deit("deit_tiny_patch16_224", 192, 3, false);
        deit("deit_small_patch16_224", 384, 6, false);
        deit("deit_base_patch16_224", 768, 12, false);
        deit("deit_tiny_distilled_patch16_224", 192, 3, true);
        deit("deit_small_distilled_patch16_224", 384, 6, true);
        deit("deit_base_distilled_patch16_224", 768, 12, true);
    }

    /** All registered names, in registry order. */
    public static Map<String, Arch> all() {
        return Collections.unmodifiableMap(REGISTRY);
    }

    /** The variant named {@code name} (a timm name; a {@code .tag} suffix such as {@code .augreg_in1k} is ignored). */
    public static Arch get(String name) {
        String base = name.contains(".") ? name.substring(0, name.indexOf('.')) : name;
        Arch a = REGISTRY.get(base);
        if (a == null) {
            throw VitrimException.of("--arch " + name, "unknown architecture; known: " + String.join(", ", REGISTRY.keySet()));
        }
        return a;
    }
}
