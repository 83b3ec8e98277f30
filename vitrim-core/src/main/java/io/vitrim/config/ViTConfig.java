package io.vitrim.config;

import io.vitrim.VitrimException;

/**
 * The shape of a timm {@code VisionTransformer} (docs/design.md §2, docs/models.md).
 *
 * @param architecture timm name it was derived from (e.g. {@code deit_small_patch16_224})
 * @param imgHeight    input height in pixels
 * @param imgWidth     input width in pixels
 * @param patchSize    patch side P (conv kernel = stride)
 * @param inChans      input channels (3)
 * @param embedDim     C
 * @param depth        number of blocks L
 * @param numHeads     H (C must divide by H)
 * @param mlpHidden    MLP hidden width (4C for ViT/DeiT)
 * @param qkvBias      whether {@code attn.qkv} has a bias
 * @param classToken   prepend a class token
 * @param distToken    prepend a distillation token after the class token (DeiT distilled)
 * @param globalPool   {@code token} (class token) or {@code avg} (mean of patch tokens)
 * @param fcNorm       LayerNorm after pooling ({@code fc_norm}); then {@code norm} is absent
 * @param numClasses   classifier (or CLIP projection) outputs; 0 = no head, the model outputs its pooled features
 * @param normEps      LayerNorm epsilon (1e-6 timm, 1e-5 CLIP, 1e-12 Hugging Face ViT)
 * @param regTokens    register tokens after the class token ({@code reg_token}, DINOv2 "reg4")
 * @param noEmbedClass the position embedding covers the patches only; prefix tokens get none
 * @param layerScale   per-channel scales on both residual branches ({@code ls1.gamma}, {@code ls2.gamma})
 * @param preNorm      a LayerNorm ({@code norm_pre}) after the embedding, and a patch
 *                     convolution without bias (CLIP)
 * @param act          the MLP's activation; {@link Act#SWIGLU} makes it timm's {@code SwiGLUPacked}
 *                     (DINOv2 giant), and then {@code mlpHidden} is the gated width (the input of
 *                     {@code mlp.fc2}; {@code mlp.fc1} has twice as many outputs)
 * @param eva          timm's {@code Eva} block (EVA02: RoPE, SwiGLU, sub-LNs, post-norm), or null for the
 *                     ViT block; with SwiGLU {@code mlpHidden} is again the gated width
 */
public record ViTConfig(
        String architecture,
        int imgHeight, int imgWidth, int patchSize, int inChans,
        int embedDim, int depth, int numHeads, int mlpHidden,
        boolean qkvBias, boolean classToken, boolean distToken,
        Pool globalPool, boolean fcNorm, int numClasses, float normEps,
        int regTokens, boolean noEmbedClass, boolean layerScale, boolean preNorm, Act act, Eva eva) {

    /** A ViT block (no EVA details). */
    public ViTConfig(String architecture, int imgHeight, int imgWidth, int patchSize, int inChans,
                     int embedDim, int depth, int numHeads, int mlpHidden,
                     boolean qkvBias, boolean classToken, boolean distToken,
                     Pool globalPool, boolean fcNorm, int numClasses, float normEps,
                     int regTokens, boolean noEmbedClass, boolean layerScale, boolean preNorm, Act act) {
        this(architecture, imgHeight, imgWidth, patchSize, inChans, embedDim, depth, numHeads, mlpHidden, qkvBias,
                classToken, distToken, globalPool, fcNorm, numClasses, normEps, regTokens, noEmbedClass, layerScale, preNorm, act, null);
    }

    /**
     * timm's {@code Eva} block as EVA02 configures it (timm {@code models/eva.py}): the SwiGLU MLP
     * ({@code act(fc1_g) ⊙ fc1_x}, SiLU), rotary position embedding on q and k of the patch
     * tokens ({@code RotaryEmbeddingCat}: interleaved pairs, half the pairs rotated by the row
     * coordinate, half by the column), no k bias. EVA02-E (EVA-CLIP's enormous tower) leaves out
     * RoPE and SwiGLU and moves the norms after the branches ({@code EvaBlockPostNorm}).
     *
     * @param qkvFused       {@code attn.qkv.weight} + {@code attn.q_bias}/{@code attn.v_bias}, else
     *                       {@code attn.q_proj}/{@code k_proj}/{@code v_proj}
     * @param scaleMlp       a LayerNorm over the SwiGLU width before {@code fc2} ({@code mlp.norm};
     *                       then {@code fc1_g}/{@code fc1_x} are separate, else one packed {@code mlp.fc1})
     * @param scaleAttnInner a LayerNorm over the attention output before {@code proj} ({@code attn.norm}; EVA-CLIP)
     * @param rope           rotary position embedding ({@code use_rot_pos_emb})
     * @param ropeRefH       {@code ref_feat_shape} (with {@code ropeRefW}): RoPE coordinates are {@code i / gridH · refH}
     *                       (EVA's rule for other grids), 0 = none (coordinates are the indices)
     * @param ropeTemperature the frequency base (10000)
     * @param swiglu         the MLP is SwiGLU ({@code swiglu_mlp}), else timm's {@code Mlp} with GELU
     * @param postNorm       {@code x + norm1(attn(x))}, {@code x + norm2(mlp(x))} ({@code use_post_norm})
     *                       instead of {@code x + attn(norm1(x))}, {@code x + mlp(norm2(x))}
     */
    public record Eva(boolean qkvFused, boolean scaleMlp, boolean scaleAttnInner, boolean rope,
                      int ropeRefH, int ropeRefW, float ropeTemperature, boolean swiglu, boolean postNorm) {}

    /** A plain ViT/DeiT: no registers, position embedding over every token, GELU. */
    public ViTConfig(String architecture, int imgHeight, int imgWidth, int patchSize, int inChans,
                     int embedDim, int depth, int numHeads, int mlpHidden,
                     boolean qkvBias, boolean classToken, boolean distToken,
                     Pool globalPool, boolean fcNorm, int numClasses, float normEps) {
        this(architecture, imgHeight, imgWidth, patchSize, inChans, embedDim, depth, numHeads, mlpHidden, qkvBias,
                classToken, distToken, globalPool, fcNorm, numClasses, normEps, 0, false, false, false, Act.GELU);
    }

    /**
     * The MLP activation: exact (erf) GELU, CLIP's {@code x·σ(1.702·x)}, or timm's
     * {@code SwiGLUPacked} ({@code mlp_layer}; DINOv2 giant): {@code [g; v] = fc1(x)},
     * {@code fc2(SiLU(g) ⊙ v)}.
     */
    public enum Act {
        GELU("gelu"), QUICK_GELU("quick_gelu"), SWIGLU("swiglu_packed");

        private final String timmName;

        Act(String timmName) {
            this.timmName = timmName;
        }

        public String timmName() {
            return timmName;
        }

        /** An {@code act_layer} value (SwiGLU is an {@code mlp_layer}, not one of these). */
        public static Act parse(String s, Object where) {
            for (Act a : values()) if (a != SWIGLU && a.timmName.equals(s)) return a;
            throw VitrimException.of(where, "act_layer \"" + s + "\" is not supported (gelu, quick_gelu)");
        }
    }

    /**
     * How the final tokens become one feature vector: the class token, the mean of the patch
     * tokens, or SigLIP's attention pool ({@code map}: a learned query attending to the patch tokens).
     */
    public enum Pool {
        TOKEN, AVG, MAP;

        public static Pool parse(String s, Object where) {
            switch (s) {
                case "token": return TOKEN;
                case "avg": return AVG;
                case "map": return MAP;
                default: throw VitrimException.of(where, "global_pool \"" + s + "\" is not supported (token, avg, map)");
            }
        }

        public String timmName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Checks internal consistency; {@code where} names the source in the message. */
    public ViTConfig validate(Object where) {
        if (patchSize <= 0 || imgHeight <= 0 || imgWidth <= 0) throw VitrimException.of(where, "image and patch sizes must be positive");
        // as timm: the patch convolution ignores the rows and columns past the last whole patch
        if (imgHeight < patchSize || imgWidth < patchSize) {
            throw VitrimException.of(where, "image size " + imgHeight + "x" + imgWidth + " is smaller than one patch of " + patchSize);
        }
        if (embedDim <= 0 || depth <= 0 || numHeads <= 0 || mlpHidden <= 0) throw VitrimException.of(where, "embed_dim, depth, num_heads and mlp width must be positive");
        if (embedDim % numHeads != 0) throw VitrimException.of(where, "embed_dim " + embedDim + " is not divisible by num_heads " + numHeads);
        if (inChans != 3) throw VitrimException.of(where, "only 3 input channels are supported, got " + inChans);
        if (distToken && !classToken) throw VitrimException.of(where, "a distillation token needs a class token");
        if (globalPool == Pool.TOKEN && !classToken) throw VitrimException.of(where, "global_pool=token needs a class token");
        if (globalPool == Pool.MAP && fcNorm) throw VitrimException.of(where, "global_pool=map has no fc_norm (the final norm comes before the pool)");
        if (globalPool == Pool.MAP && distToken) throw VitrimException.of(where, "global_pool=map with a distillation token is not supported");
        // timm's attention pool keeps a plain MLP of int(C * mlp_ratio) with GELU; no tower pairs it with SwiGLU
        if (globalPool == Pool.MAP && act == Act.SWIGLU) throw VitrimException.of(where, "global_pool=map with a SwiGLU MLP is not supported");
        if (globalPool == Pool.MAP && numPatches() < 1) throw VitrimException.of(where, "global_pool=map needs patch tokens");
        if (numClasses < 0) throw VitrimException.of(where, "num_classes must be 0 (no head: features) or positive, got " + numClasses);
        if (regTokens < 0) throw VitrimException.of(where, "reg_tokens must not be negative, got " + regTokens);
        if (regTokens > 0 && distToken) throw VitrimException.of(where, "register tokens with a distillation token are not supported");
        if (act == null) throw VitrimException.of(where, "no activation");
        if (gated() && mlpHidden * 2L > 8L * MAX_WIDTH) throw VitrimException.of(where, "mlp width " + 2L * mlpHidden + " is past vitrim's limit");
        if (eva != null) {
            // what timm's Eva does and vitrim's ViT options do not combine with
            if (distToken || regTokens > 0 || noEmbedClass || layerScale || preNorm || act != Act.GELU) {
                throw VitrimException.of(where, "an EVA model has no distillation or register tokens, no_embed_class, LayerScale, norm_pre or QuickGELU here");
            }
            if (globalPool == Pool.MAP) throw VitrimException.of(where, "global_pool=map on an EVA model is not supported (avg, token)");
            if (eva.scaleMlp() && !eva.swiglu()) throw VitrimException.of(where, "scale_mlp without swiglu_mlp (a norm inside a GELU MLP) is not supported");
            if (eva.rope() && headDim() % 4 != 0) {
                throw VitrimException.of(where, "rotary position embedding needs a head width divisible by 4, got " + headDim());
            }
            if (eva.ropeRefH() < 0 || eva.ropeRefW() < 0 || (eva.ropeRefH() == 0) != (eva.ropeRefW() == 0)) {
                throw VitrimException.of(where, "ref_feat_shape must be two positive sizes, got " + eva.ropeRefH() + "x" + eva.ropeRefW());
            }
            if (!(eva.ropeTemperature() > 0) || Float.isInfinite(eva.ropeTemperature())) {
                throw VitrimException.of(where, "rope_temperature must be positive, got " + eva.ropeTemperature());
            }
            limit(where, "ref_feat_shape", Math.max(eva.ropeRefH(), eva.ropeRefW()), MAX_IMAGE);
        }
        limit(where, "reg_tokens", regTokens, 1024);
        if ((long) gridH() * gridW() + numPrefix() > 1 << 16) throw VitrimException.of(where, "too many tokens: " + numTokens());
        // sizes no real ViT comes near: refused before anything is sized from them
        limit(where, "depth", depth, MAX_DEPTH);
        limit(where, "embed_dim", embedDim, MAX_WIDTH);
        limit(where, "mlp width", mlpHidden, 8L * MAX_WIDTH);
        limit(where, "num_classes", numClasses, MAX_CLASSES);
        limit(where, "image size", Math.max(imgHeight, imgWidth), MAX_IMAGE);
        return this;
    }

    /** Limits of {@link #validate}: far above ViT-22B (48 blocks, width 6144) and ImageNet-22k. */
    public static final int MAX_DEPTH = 1024, MAX_WIDTH = 16384, MAX_CLASSES = 1 << 20, MAX_IMAGE = 8192;

    private static void limit(Object where, String what, long v, long max) {
        if (v > max) throw VitrimException.of(where, what + " " + v + " is past vitrim's limit of " + max + " (not a model it can run)");
    }

    public int gridH() {
        return imgHeight / patchSize;
    }

    public int gridW() {
        return imgWidth / patchSize;
    }

    public int numPatches() {
        return gridH() * gridW();
    }

    /** Class, register and distillation tokens in front of the patches. */
    public int numPrefix() {
        return (classToken ? 1 : 0) + regTokens + (distToken ? 1 : 0);
    }

    /** Rows of {@code pos_embed}: the patches, plus the prefix tokens unless {@link #noEmbedClass}. */
    public int posEmbedTokens() {
        return numPatches() + (noEmbedClass ? 0 : numPrefix());
    }

    /** Width of the model's output: the classes, or the features when there is no head. */
    public int numOutputs() {
        return numClasses > 0 ? numClasses : embedDim;
    }

    public int numTokens() {
        return numPatches() + numPrefix();
    }

    public int headDim() {
        return embedDim / numHeads;
    }

    public ViTConfig withImageSize(int h, int w) {
        return new ViTConfig(architecture, h, w, patchSize, inChans, embedDim, depth, numHeads, mlpHidden,
                qkvBias, classToken, distToken, globalPool, fcNorm, numClasses, normEps,
                regTokens, noEmbedClass, layerScale, preNorm, act, eva);
    }

    public ViTConfig withNumClasses(int n) {
        return new ViTConfig(architecture, imgHeight, imgWidth, patchSize, inChans, embedDim, depth, numHeads, mlpHidden,
                qkvBias, classToken, distToken, globalPool, fcNorm, n, normEps, regTokens, noEmbedClass, layerScale, preNorm, act, eva);
    }

    /** This shape with the encoder details (registers, position embedding, LayerScale, norm_pre, activation). */
    public ViTConfig withEncoder(int regTokens, boolean noEmbedClass, boolean layerScale, boolean preNorm, Act act) {
        return new ViTConfig(architecture, imgHeight, imgWidth, patchSize, inChans, embedDim, depth, numHeads, mlpHidden,
                qkvBias, classToken, distToken, globalPool, fcNorm, numClasses, normEps, regTokens, noEmbedClass, layerScale, preNorm, act, eva);
    }

    /** Whether this is a plain ViT/DeiT (none of the encoder details, not an EVA block). */
    public boolean plain() {
        return regTokens == 0 && !noEmbedClass && !layerScale && !preNorm && act == Act.GELU && eva == null;
    }

    /** Whether the MLP is SwiGLU (EVA02's, or DINOv2 giant's {@code SwiGLUPacked}). */
    public boolean gated() {
        return eva != null ? eva.swiglu() : act == Act.SWIGLU;
    }

    /** Output width of the MLP's first layer: twice the hidden width for SwiGLU (gate and value), else the hidden width. */
    public int fc1Width() {
        return gated() ? 2 * mlpHidden : mlpHidden;
    }

    /** Parameter count of the model this config describes. */
    public long parameterCount() {
        long c = embedDim, h = mlpHidden;
        long p = c * inChans * patchSize * patchSize + (preNorm ? 0 : c); // patch embed
        p += (long) posEmbedTokens() * c + (long) numPrefix() * c; // pos_embed, cls/reg/dist
        if (preNorm) p += 2 * c;
        long block = 2 * c /*norm1*/ + 3 * c * c + (qkvBias ? 3 * c : 0) + c * c + c /*proj*/
                + 2 * c /*norm2*/ + c * h + h + h * c + c + (layerScale ? 2 * c : 0);
        if (gated()) block += c * h + h; // SwiGLU's second fc1 half
        if (eva != null) {
            // no k bias; the sub-LNs
            block += (qkvBias ? -c : 0) + (eva.scaleMlp() ? 2 * h : 0) + (eva.scaleAttnInner() ? 2 * c : 0);
        }
        p += block * depth;
        p += 2 * c; // norm or fc_norm
        if (globalPool == Pool.MAP) p += c + (c * c + c) + (2 * c * c + 2 * c) + (c * c + c) + 2 * c + (c * h + h + h * c + c); // attn_pool
        p += (c * numClasses + numClasses) * (distToken ? 2 : 1);
        return p;
    }
}
