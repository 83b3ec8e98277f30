package io.vitrim.model;

import io.vitrim.config.PreprocessConfig;

import io.vitrim.config.ViTConfig;

import io.vitrim.VitrimException;
import io.vitrim.config.PreprocessConfig.Interpolation;
import io.vitrim.config.PreprocessConfig.Resize;
import io.vitrim.config.ViTConfig.Pool;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** The timm ViT/DeiT variants and the DINOv2, CLIP, SigLIP and EVA02 towers by name, with their default preprocessing. */
public final class Architectures {
    private Architectures() {}

    /** A named variant: model shape plus timm's default {@code pretrained_cfg}. */
    public record Arch(ViTConfig config, PreprocessConfig preprocess) {}

    private static final Map<String, Arch> REGISTRY = new LinkedHashMap<>();

    private static void vit(String name, int dim, int depth, int heads) {
        ViTConfig c = new ViTConfig(name, 224, 224, 16, 3, dim, depth, heads, 4 * dim, true, true, false,
                Pool.TOKEN, false, 1000, 1e-6f);
        // AugReg ViTs: "Inception" 0.5/0.5 normalisation, crop_pct 0.9 (docs/models.md, Preprocessing)
        REGISTRY.put(name, new Arch(c, new PreprocessConfig(224, 224, 0.9, Interpolation.BICUBIC, Resize.SHORTER_SIDE,
                PreprocessConfig.INCEPTION_MEAN, PreprocessConfig.INCEPTION_STD)));
    }

    private static void deit(String name, int dim, int heads, boolean distilled) {
        ViTConfig c = new ViTConfig(name, 224, 224, 16, 3, dim, 12, heads, 4 * dim, true, true, distilled,
                Pool.TOKEN, false, 1000, 1e-6f);
        REGISTRY.put(name, new Arch(c, new PreprocessConfig(224, 224, 0.9, Interpolation.BICUBIC, Resize.SHORTER_SIDE,
                PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD)));
    }

    /** timm's {@code mlp_ratio} of the DINOv2 giant: fc1's width over C (gate and value together). */
    public static final double SWIGLU_PACKED_RATIO = 2.66667 * 2;

    /**
     * DINOv2 (timm {@code vit_*_patch14_dinov2}, {@code *_reg4_dinov2}): LayerScale, 518 px, no head.
     * The giant's MLP is {@code SwiGLUPacked}: {@code mlp_ratio} 2.66667 · 2, so {@code mlp.fc1} has
     * {@code int(1536 · 5.33334)} = 8192 outputs (gate, value) and {@code mlp.fc2} 4096 inputs.
     */
    private static void dinov2(String size, int dim, int depth, int heads, boolean reg4) {
        String name = "vit_" + size + "_patch14_" + (reg4 ? "reg4_" : "") + "dinov2";
        boolean giant = size.equals("giant");
        int hidden = giant ? (int) (dim * SWIGLU_PACKED_RATIO) / 2 : 4 * dim;
        ViTConfig c = new ViTConfig(name, 518, 518, 14, 3, dim, depth, heads, hidden, true, true, false,
                Pool.TOKEN, false, 0, 1e-6f, reg4 ? 4 : 0, reg4, true, false, giant ? ViTConfig.Act.SWIGLU : ViTConfig.Act.GELU);
        REGISTRY.put(name, new Arch(c, new PreprocessConfig(518, 518, 1.0, Interpolation.BICUBIC, Resize.SHORTER_SIDE,
                PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD)));
    }

    /** CLIP image towers (timm {@code vit_*_clip_*}): norm_pre, LayerNorm eps 1e-5, the projection as head. */
    private static void clip(String name, int patch, int dim, int depth, int heads, int embed, boolean quickGelu) {
        ViTConfig c = new ViTConfig(name, 224, 224, patch, 3, dim, depth, heads, 4 * dim, true, true, false,
                Pool.TOKEN, false, embed, 1e-5f, 0, false, false, true, quickGelu ? ViTConfig.Act.QUICK_GELU : ViTConfig.Act.GELU);
        REGISTRY.put(name, new Arch(c, new PreprocessConfig(224, 224, 0.9, Interpolation.BICUBIC, Resize.SHORTER_SIDE,
                PreprocessConfig.CLIP_MEAN, PreprocessConfig.CLIP_STD)));
    }

    /** SigLIP image towers (timm {@code vit_*_siglip_*}): no class token, attention-pool (MAP) head, no head by default. */
    private static void siglip(String name, int patch, int img, int dim, int depth, int heads, int mlpHidden) {
        ViTConfig c = new ViTConfig(name, img, img, patch, 3, dim, depth, heads, mlpHidden, true, false, false,
                Pool.MAP, false, 0, 1e-6f);
        REGISTRY.put(name, new Arch(c, new PreprocessConfig(img, img, 0.9, Interpolation.BICUBIC, Resize.SHORTER_SIDE,
                PreprocessConfig.INCEPTION_MEAN, PreprocessConfig.INCEPTION_STD)));
    }

    /**
     * EVA02 (timm {@code eva02_*}, its {@code Eva} class): SwiGLU of width ⌊C·8/3⌋ (timm's
     * {@code int(dim * mlp_ratio)}), RoPE with {@code ref_feat_shape} 16×16, LayerNorm eps 1e-6,
     * OpenAI CLIP mean/std. The MIM-pretrained 224 px models have no head and average-pool with
     * {@code fc_norm}; the fine-tuned ones classify ImageNet-1k; the EVA-CLIP towers pool the
     * class token after {@code norm} and project with the head. Tiny and small use the fused
     * {@code qkv} and packed {@code fc1}; base and large separate projections and {@code mlp.norm}.
     */
    private static void eva02(String name, int patch, int img, int dim, int depth, int heads, boolean separate, int classes,
                              boolean clip, double crop, Resize resize) {
        int hidden = (int) (dim * evaMlpRatio(name));
        ViTConfig.Eva eva = new ViTConfig.Eva(!separate, separate, clip, true, 16, 16, 10000f, true, false);
        Pool pool = clip ? Pool.TOKEN : Pool.AVG;
        ViTConfig c = new ViTConfig(name, img, img, patch, 3, dim, depth, heads, hidden, true, true, false,
                pool, !clip, classes, 1e-6f, 0, false, false, false, ViTConfig.Act.GELU, eva);
        REGISTRY.put(name, new Arch(c, new PreprocessConfig(img, img, crop, Interpolation.BICUBIC, resize,
                PreprocessConfig.CLIP_MEAN, PreprocessConfig.CLIP_STD)));
    }

    /**
     * EVA02-E ({@code eva02_enormous_patch14_clip_224}, EVA-CLIP's 4.4 B-parameter tower): timm's
     * {@code EvaBlockPostNorm} ({@code x + norm1(attn(x))}, {@code x + norm2(mlp(x))}), the absolute
     * position embedding only (no RoPE), a GELU MLP of 15360, fused qkv with q/v biases; class
     * token after {@code norm}, projected to 1024 by the head.
     */
    private static void eva02Enormous() {
        String name = "eva02_enormous_patch14_clip_224";
        ViTConfig.Eva eva = new ViTConfig.Eva(true, false, false, false, 0, 0, 10000f, false, true);
        ViTConfig c = new ViTConfig(name, 224, 224, 14, 3, 1792, 64, 16, (int) (1792 * evaMlpRatio(name)), true, true, false,
                Pool.TOKEN, false, 1024, 1e-6f, 0, false, false, false, ViTConfig.Act.GELU, eva);
        REGISTRY.put(name, new Arch(c, new PreprocessConfig(224, 224, 0.9, Interpolation.BICUBIC, Resize.SHORTER_SIDE,
                PreprocessConfig.CLIP_MEAN, PreprocessConfig.CLIP_STD)));
    }

    /**
     * EVA01 (timm {@code eva_giant_patch14_*}, 1 B parameters): the pre-norm {@code EvaBlock} without
     * RoPE and with a GELU MLP of 6144, fused qkv with q/v biases. The 224/336 px models are CLIP
     * towers fine-tuned on ImageNet-1k (average pooling into {@code fc_norm}; 336 px squashed), the
     * 560 px one a MIM model fine-tuned on in22k → in1k (ImageNet mean/std), the CLIP tower pools
     * the class token after {@code norm} and projects to 1024.
     */
    private static void eva01(String name, int img, boolean clip, double crop, Resize resize, float[] mean, float[] std) {
        ViTConfig.Eva eva = new ViTConfig.Eva(true, false, false, false, 0, 0, 10000f, false, false);
        ViTConfig c = new ViTConfig(name, img, img, 14, 3, 1408, 40, 16, (int) (1408 * evaMlpRatio(name)), true, true, false,
                clip ? Pool.TOKEN : Pool.AVG, !clip, clip ? 1024 : 1000, 1e-6f, 0, false, false, false, ViTConfig.Act.GELU, eva);
        REGISTRY.put(name, new Arch(c, new PreprocessConfig(img, img, crop, Interpolation.BICUBIC, resize, mean, std)));
    }

    /** timm's {@code mlp_ratio} of an {@code Eva} name: 15360 / 1792 (EVA02-E), 6144 / 1408 (EVA01), else 4 · 2 / 3 (EVA02). */
    public static double evaMlpRatio(String name) {
        if (name.startsWith("eva02_enormous")) return 15360 / 1792.0;
        if (name.startsWith("eva_giant")) return 6144 / 1408.0;
        return 4 * 2 / 3.0;
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
        for (boolean reg4 : new boolean[] {false, true}) {
            dinov2("small", 384, 12, 6, reg4);
            dinov2("base", 768, 12, 12, reg4);
            dinov2("large", 1024, 24, 16, reg4);
            dinov2("giant", 1536, 40, 24, reg4);
        }
        for (int img : new int[] {224, 256, 384, 512}) siglip("vit_base_patch16_siglip_" + img, 16, img, 768, 12, 12, 3072);
        for (int img : new int[] {256, 384}) siglip("vit_large_patch16_siglip_" + img, 16, img, 1024, 24, 16, 4096);
        for (int img : new int[] {224, 384}) siglip("vit_so400m_patch14_siglip_" + img, 14, img, 1152, 27, 16, 4304);
        for (boolean q : new boolean[] {false, true}) {
            String act = q ? "_quickgelu" : "";
            clip("vit_base_patch32_clip" + act + "_224", 32, 768, 12, 12, 512, q);
            clip("vit_base_patch16_clip" + act + "_224", 16, 768, 12, 12, 512, q);
            clip("vit_large_patch14_clip" + act + "_224", 14, 1024, 24, 16, 768, q);
        }
        // EVA02, as timm's default pretrained tag of each name configures it
        eva02("eva02_tiny_patch14_224", 14, 224, 192, 12, 3, false, 0, false, 0.9, Resize.SHORTER_SIDE);
        eva02("eva02_small_patch14_224", 14, 224, 384, 12, 6, false, 0, false, 0.9, Resize.SHORTER_SIDE);
        eva02("eva02_base_patch14_224", 14, 224, 768, 12, 12, true, 0, false, 0.9, Resize.SHORTER_SIDE);
        eva02("eva02_large_patch14_224", 14, 224, 1024, 24, 16, true, 0, false, 0.9, Resize.SHORTER_SIDE);
        eva02("eva02_tiny_patch14_336", 14, 336, 192, 12, 3, false, 1000, false, 1.0, Resize.SHORTER_SIDE);
        eva02("eva02_small_patch14_336", 14, 336, 384, 12, 6, false, 1000, false, 1.0, Resize.SHORTER_SIDE);
        // the in22k → in1k fine-tunes are evaluated with crop_mode 'squash' (a stretch to the input size)
        eva02("eva02_base_patch14_448", 14, 448, 768, 12, 12, true, 1000, false, 1.0, Resize.EXACT);
        eva02("eva02_large_patch14_448", 14, 448, 1024, 24, 16, true, 1000, false, 1.0, Resize.EXACT);
        eva02("eva02_base_patch16_clip_224", 16, 224, 768, 12, 12, true, 512, true, 0.9, Resize.SHORTER_SIDE);
        eva02("eva02_large_patch14_clip_224", 14, 224, 1024, 24, 16, true, 768, true, 0.9, Resize.SHORTER_SIDE);
        eva02("eva02_large_patch14_clip_336", 14, 336, 1024, 24, 16, true, 768, true, 1.0, Resize.SHORTER_SIDE);
        eva02Enormous();
        eva01("eva_giant_patch14_224", 224, false, 0.9, Resize.SHORTER_SIDE, PreprocessConfig.CLIP_MEAN, PreprocessConfig.CLIP_STD);
        eva01("eva_giant_patch14_336", 336, false, 1.0, Resize.EXACT, PreprocessConfig.CLIP_MEAN, PreprocessConfig.CLIP_STD);
        eva01("eva_giant_patch14_560", 560, false, 1.0, Resize.EXACT, PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD);
        eva01("eva_giant_patch14_clip_224", 224, true, 0.9, Resize.SHORTER_SIDE, PreprocessConfig.CLIP_MEAN, PreprocessConfig.CLIP_STD);
    }

    /** All registered names, in registry order. */
    public static Map<String, Arch> all() {
        return Collections.unmodifiableMap(REGISTRY);
    }

    private static final java.util.regex.Pattern PATTERN =
            java.util.regex.Pattern.compile("(vit|deit)_(tiny|small|base|large|huge)(_distilled)?_patch(\\d+)_(\\d+)");

    /**
     * The variant named {@code name}: a registered timm name, or any name of the form
     * {@code (vit|deit)_(tiny|small|base|large|huge)[_distilled]_patchP_S} (e.g.
     * {@code vit_base_patch32_384}). A {@code .tag} suffix such as {@code .augreg_in1k} is ignored.
     */
    public static Arch get(String name) {
        String base = name.contains(".") ? name.substring(0, name.indexOf('.')) : name;
        Arch a = REGISTRY.get(base);
        if (a != null) return a;
        java.util.regex.Matcher m = PATTERN.matcher(base);
        // sizes of at most 4 digits: a longer number is not a ViT (and would overflow an int)
        if (m.matches() && !(m.group(1).equals("vit") && m.group(3) != null) && m.group(4).length() <= 4 && m.group(5).length() <= 4) {
            int[] dims = sizes(m.group(2));
            int patch = Integer.parseInt(m.group(4)), img = Integer.parseInt(m.group(5));
            boolean deitModel = m.group(1).equals("deit");
            if (patch > 0 && img > 0 && img % patch == 0) {
                ViTConfig c = new ViTConfig(base, img, img, patch, 3, dims[0], dims[1], dims[2], 4 * dims[0], true, true,
                        m.group(3) != null, Pool.TOKEN, false, 1000, 1e-6f);
                float[] mean = deitModel ? PreprocessConfig.IMAGENET_MEAN : PreprocessConfig.INCEPTION_MEAN;
                float[] std = deitModel ? PreprocessConfig.IMAGENET_STD : PreprocessConfig.INCEPTION_STD;
                double crop = img >= 384 ? 1.0 : 0.9;
                return new Arch(c, new PreprocessConfig(img, img, crop, Interpolation.BICUBIC, Resize.SHORTER_SIDE, mean, std));
            }
        }
        throw VitrimException.of("architecture " + name, "unknown; known: " + String.join(", ", REGISTRY.keySet())
                + " (and other (vit|deit)_SIZE_patchP_S names)");
    }

    /** {embed_dim, depth, heads} of the standard ViT sizes. */
    private static int[] sizes(String size) {
        switch (size) {
            case "tiny": return new int[] {192, 12, 3};
            case "small": return new int[] {384, 12, 6};
            case "base": return new int[] {768, 12, 12};
            case "large": return new int[] {1024, 24, 16};
            default: return new int[] {1280, 32, 16};
        }
    }
}
