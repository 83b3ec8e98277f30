package io.vitrim.config;

import java.util.Arrays;

/**
 * How an image becomes the model's input tensor — timm's {@code pretrained_cfg} (or a Hugging
 * Face {@code preprocessor_config.json}).
 *
 * @param inputHeight   model input height
 * @param inputWidth    model input width
 * @param cropPct       timm eval crop fraction: resize to {@code floor(size / crop_pct)}, then centre crop
 * @param interpolation resampling filter
 * @param resize        {@link Resize#SHORTER_SIDE} (timm / torchvision {@code Resize(int)}) or
 *                      {@link Resize#EXACT} (stretch to the scaled size, as Hugging Face processors)
 * @param mean          per-channel mean (RGB) in [0, 1] units
 * @param std           per-channel standard deviation (RGB)
 */
public record PreprocessConfig(int inputHeight, int inputWidth, double cropPct, Interpolation interpolation,
                               Resize resize, float[] mean, float[] std) {

    public enum Interpolation {
        BICUBIC, BILINEAR;

        public static Interpolation parse(String s) {
            switch (s.toLowerCase(java.util.Locale.ROOT)) {
                case "bicubic": return BICUBIC;
                case "bilinear": return BILINEAR;
                default: return null;
            }
        }
    }

    public enum Resize { SHORTER_SIDE, EXACT }

    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};
    public static final float[] INCEPTION_MEAN = {0.5f, 0.5f, 0.5f};
    public static final float[] INCEPTION_STD = {0.5f, 0.5f, 0.5f};
    /** OpenAI CLIP's normalisation (timm's OPENAI_CLIP_MEAN / _STD). */
    public static final float[] CLIP_MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    public static final float[] CLIP_STD = {0.26862954f, 0.26130258f, 0.27577711f};

    public PreprocessConfig withInputSize(int h, int w) {
        return new PreprocessConfig(h, w, cropPct, interpolation, resize, mean, std);
    }

    @Override
    public String toString() {
        return "input " + inputHeight + "x" + inputWidth + ", crop_pct " + cropPct + ", " + interpolation.name().toLowerCase(java.util.Locale.ROOT)
                + ", mean " + Arrays.toString(mean) + ", std " + Arrays.toString(std);
    }
}
