package io.vitrim.train;

import java.util.SplittableRandom;

/**
 * RandAugment (Cubuk et al., 2020) as torchvision's {@code RandAugment(num_ops, magnitude,
 * num_magnitude_bins=31)} applies it to a PIL image: per image, {@code ops} operations drawn
 * uniformly from the 14 below, each at the fixed magnitude bin (signed ones negated with
 * probability ½). Every operation follows Pillow's definition on 8-bit RGB (geometric ones:
 * nearest neighbour at pixel centres, fill 0), so a CIFAR pipeline written with torchvision
 * sees the same images. Images are {@code [H, W, 3]} bytes, changed in place.
 */
public final class RandAugment {
    public static final int BINS = 31;

    enum Op { IDENTITY, SHEAR_X, SHEAR_Y, TRANSLATE_X, TRANSLATE_Y, ROTATE, BRIGHTNESS, COLOR, CONTRAST, SHARPNESS,
        POSTERIZE, SOLARIZE, AUTO_CONTRAST, EQUALIZE }

    private static final Op[] OPS = Op.values();

    private RandAugment() {}

    /** Applies {@code ops} random operations at magnitude bin {@code m} to {@code img [h, w, 3]}. */
    static void apply(byte[] img, int h, int w, int ops, int m, SplittableRandom rnd, byte[] tmp) {
        for (int k = 0; k < ops; k++) {
            Op op = OPS[rnd.nextInt(OPS.length)];
            double mag = magnitude(op, m, h, w);
            if (signed(op) && rnd.nextBoolean()) mag = -mag;
            apply(op, mag, img, h, w, tmp);
        }
    }

    /** The value of bin {@code m} (of {@link #BINS}) of torchvision's augmentation space. */
    static double magnitude(Op op, int m, int h, int w) {
        double f = m / (double) (BINS - 1);
        return switch (op) {
            case SHEAR_X, SHEAR_Y -> 0.3 * f;
            case TRANSLATE_X -> 150.0 / 331.0 * w * f;
            case TRANSLATE_Y -> 150.0 / 331.0 * h * f;
            case ROTATE -> 30.0 * f;
            case BRIGHTNESS, COLOR, CONTRAST, SHARPNESS -> 0.9 * f;
            case POSTERIZE -> 8 - Math.round(m / ((BINS - 1) / 4.0)); // torch.round: half to even; m/7.5 never ties
            case SOLARIZE -> 255.0 * (1 - f);
            default -> 0;
        };
    }

    static boolean signed(Op op) {
        return switch (op) {
            case SHEAR_X, SHEAR_Y, TRANSLATE_X, TRANSLATE_Y, ROTATE, BRIGHTNESS, COLOR, CONTRAST, SHARPNESS -> true;
            default -> false;
        };
    }

    static void apply(Op op, double mag, byte[] img, int h, int w, byte[] tmp) {
        switch (op) {
            case IDENTITY -> { }
            // torchvision: shear angle atan(mag) about the corner (0, 0); translation truncated to whole pixels
            case SHEAR_X -> affine(img, h, w, inverse(0, 0, 0, 0, 0, Math.toDegrees(Math.atan(mag)), 0), tmp);
            case SHEAR_Y -> affine(img, h, w, inverse(0, 0, 0, 0, 0, 0, Math.toDegrees(Math.atan(mag))), tmp);
            case TRANSLATE_X -> affine(img, h, w, inverse(w * 0.5, h * 0.5, 0, (int) mag, 0, 0, 0), tmp);
            case TRANSLATE_Y -> affine(img, h, w, inverse(w * 0.5, h * 0.5, 0, 0, (int) mag, 0, 0), tmp);
            case ROTATE -> affine(img, h, w, rotation(mag, w * 0.5, h * 0.5), tmp);
            case BRIGHTNESS -> blend(img, null, 0, 1 + mag);
            case COLOR -> {
                for (int p = 0; p < h * w; p++) {
                    int l = luma(img, p * 3);
                    for (int c = 0; c < 3; c++) tmp[p * 3 + c] = (byte) l;
                }
                blend(img, tmp, 0, 1 + mag);
            }
            case CONTRAST -> {
                long sum = 0;
                for (int p = 0; p < h * w; p++) sum += luma(img, p * 3);
                // ImageEnhance.Contrast: the mean of the L image, rounded
                blend(img, null, (int) (sum / (double) (h * w) + 0.5), 1 + mag);
            }
            case SHARPNESS -> {
                smooth(img, h, w, tmp);
                blend(img, tmp, 0, 1 + mag);
            }
            case POSTERIZE -> {
                int mask = ~((1 << (8 - (int) mag)) - 1) & 0xff;
                for (int i = 0; i < h * w * 3; i++) img[i] = (byte) (img[i] & mask);
            }
            case SOLARIZE -> {
                for (int i = 0; i < h * w * 3; i++) {
                    int v = img[i] & 0xff;
                    if (v >= mag) img[i] = (byte) (255 - v);
                }
            }
            case AUTO_CONTRAST -> autoContrast(img, h * w);
            case EQUALIZE -> equalize(img, h * w);
        }
    }

    /** Pillow's L conversion: (R·299 + G·587 + B·114) / 1000, rounded (its fixed-point form). */
    static int luma(byte[] img, int o) {
        return ((img[o] & 0xff) * 19595 + (img[o + 1] & 0xff) * 38470 + (img[o + 2] & 0xff) * 7471 + 0x8000) >> 16;
    }

    /**
     * Pillow's {@code Image.blend(degenerate, img, factor)}: {@code d + factor·(img − d)}, clipped
     * and truncated to 8 bits; {@code degenerate} null means the constant {@code solid}.
     */
    private static void blend(byte[] img, byte[] degenerate, int solid, double factor) {
        float a = (float) factor;
        for (int i = 0; i < img.length; i++) {
            int d = degenerate == null ? solid : degenerate[i] & 0xff;
            float v = d + a * ((img[i] & 0xff) - d);
            img[i] = (byte) (v <= 0 ? 0 : v >= 255 ? 255 : (int) v);
        }
    }

    /** Pillow's SMOOTH filter (3×3, centre 5, others 1, /13, rounded); the border rows and columns stay. */
    private static void smooth(byte[] img, int h, int w, byte[] out) {
        System.arraycopy(img, 0, out, 0, h * w * 3);
        for (int y = 1; y < h - 1; y++) {
            for (int x = 1; x < w - 1; x++) {
                for (int c = 0; c < 3; c++) {
                    int s = 0;
                    for (int dy = -1; dy <= 1; dy++) {
                        for (int dx = -1; dx <= 1; dx++) s += img[((y + dy) * w + x + dx) * 3 + c] & 0xff;
                    }
                    s += 4 * (img[(y * w + x) * 3 + c] & 0xff);
                    int v = (int) Math.floor(s / 13.0 + 0.5);
                    out[(y * w + x) * 3 + c] = (byte) Math.min(255, v);
                }
            }
        }
    }

    /** ImageOps.autocontrast (cutoff 0): each channel stretched from [lo, hi] to [0, 255]. */
    private static void autoContrast(byte[] img, int n) {
        for (int c = 0; c < 3; c++) {
            int lo = 255, hi = 0;
            for (int p = 0; p < n; p++) {
                int v = img[p * 3 + c] & 0xff;
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
            if (hi <= lo) continue;
            double scale = 255.0 / (hi - lo), offset = -lo * scale;
            for (int p = 0; p < n; p++) {
                int v = (int) ((img[p * 3 + c] & 0xff) * scale + offset);
                img[p * 3 + c] = (byte) Math.max(0, Math.min(255, v));
            }
        }
    }

    /** ImageOps.equalize: per channel, the histogram's cumulative look-up table. */
    private static void equalize(byte[] img, int n) {
        int[] lut = new int[256];
        for (int c = 0; c < 3; c++) {
            int[] hist = new int[256];
            for (int p = 0; p < n; p++) hist[img[p * 3 + c] & 0xff]++;
            int last = 0, nonzero = 0;
            for (int i = 0; i < 256; i++) if (hist[i] > 0) { last = hist[i]; nonzero++; }
            if (nonzero <= 1) continue;
            int step = (n - last) / 255;
            if (step == 0) continue;
            int acc = step / 2;
            for (int i = 0; i < 256; i++) {
                lut[i] = Math.min(255, acc / step);
                acc += hist[i];
            }
            for (int p = 0; p < n; p++) img[p * 3 + c] = (byte) lut[img[p * 3 + c] & 0xff];
        }
    }

    /**
     * torchvision's {@code _get_inverse_affine_matrix}: output pixel coordinates → input ones,
     * for a rotation (degrees), translation and shear (degrees) about {@code (cx, cy)}.
     */
    static double[] inverse(double cx, double cy, double angle, double tx, double ty, double shearX, double shearY) {
        double rot = Math.toRadians(angle), sx = Math.toRadians(shearX), sy = Math.toRadians(shearY);
        double a = Math.cos(rot - sy) / Math.cos(sy);
        double b = -Math.cos(rot - sy) * Math.tan(sx) / Math.cos(sy) - Math.sin(rot);
        double c = Math.sin(rot - sy) / Math.cos(sy);
        double d = -Math.sin(rot - sy) * Math.tan(sx) / Math.cos(sy) + Math.cos(rot);
        double[] m = {d, -b, 0, -c, a, 0};
        m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
        m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
        m[2] += cx;
        m[5] += cy;
        return m;
    }

    /** Pillow's {@code Image.rotate(angle)} (counter-clockwise, about the centre) as an inverse map. */
    static double[] rotation(double angle, double cx, double cy) {
        double r = -Math.toRadians(angle % 360.0);
        double cos = round15(Math.cos(r)), sin = round15(Math.sin(r));
        double[] m = {cos, sin, 0, -sin, cos, 0};
        m[2] = m[0] * -cx + m[1] * -cy + cx;
        m[5] = m[3] * -cx + m[4] * -cy + cy;
        return m;
    }

    private static double round15(double v) {
        return Math.round(v * 1e15) / 1e15;
    }

    /** Pillow's AFFINE transform, nearest: output pixel centre (x+½, y+½) → input pixel ⌊m·p⌋, outside → 0. */
    private static void affine(byte[] img, int h, int w, double[] m, byte[] out) {
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double xi = m[0] * (x + 0.5) + m[1] * (y + 0.5) + m[2];
                double yi = m[3] * (x + 0.5) + m[4] * (y + 0.5) + m[5];
                int o = (y * w + x) * 3;
                if (xi < 0 || yi < 0 || xi >= w || yi >= h) {
                    out[o] = out[o + 1] = out[o + 2] = 0;
                } else {
                    int s = ((int) yi * w + (int) xi) * 3;
                    out[o] = img[s];
                    out[o + 1] = img[s + 1];
                    out[o + 2] = img[s + 2];
                }
            }
        }
        System.arraycopy(out, 0, img, 0, h * w * 3);
    }
}
