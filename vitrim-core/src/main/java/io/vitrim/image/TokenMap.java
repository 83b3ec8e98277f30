package io.vitrim.image;

/**
 * Draws which patches ended up in which token, as in the ToMe paper: every group of patches that
 * became one token is filled with the group's mean colour and outlined; pruned patches are
 * greyed out. Pure function of the (preprocessed) image and a source map.
 */
public final class TokenMap {
    private TokenMap() {}

    /** Colour of group outlines. */
    public static final int OUTLINE = 0x202020;

    /**
     * @param img     the model-size image (what the patch grid covers)
     * @param patch   patch size in pixels
     * @param prefix  prefix tokens (class, distillation) in front of the patches
     * @param source  original token → final token (−1: pruned), length prefix + patches
     * @param scale   integer upscaling of the output (≥ 1) so small inputs stay visible
     */
    public static RgbImage render(RgbImage img, int patch, int prefix, int[] source, int scale) {
        int w = img.width(), h = img.height(), gw = w / patch, gh = h / patch;
        if (source.length != prefix + gw * gh) throw new IllegalArgumentException("source map does not match the patch grid");
        int tokens = 0;
        for (int q = prefix; q < source.length; q++) tokens = Math.max(tokens, source[q] + 1);
        long[][] sum = new long[tokens][3];
        long[] count = new long[tokens];
        for (int y = 0; y < gh * patch; y++) {
            for (int x = 0; x < gw * patch; x++) {
                int t = source[prefix + (y / patch) * gw + x / patch];
                if (t < 0) continue;
                for (int c = 0; c < 3; c++) sum[t][c] += img.get(x, y, c);
                count[t]++;
            }
        }
        int ow = w * scale, oh = h * scale;
        byte[] out = new byte[ow * oh * 3];
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                int x = ox / scale, y = oy / scale;
                int o = (oy * ow + ox) * 3;
                if (x >= gw * patch || y >= gh * patch) {
                    for (int c = 0; c < 3; c++) out[o + c] = (byte) img.get(x, y, c);
                    continue;
                }
                int px = x / patch, py = y / patch;
                int t = source[prefix + py * gw + px];
                int rgb;
                if (t < 0) {
                    // pruned: the patch itself, washed out to light grey
                    int lum = (299 * img.get(x, y, 0) + 587 * img.get(x, y, 1) + 114 * img.get(x, y, 2)) / 1000;
                    int g = 170 + lum / 4;
                    rgb = (g << 16) | (g << 8) | g;
                } else {
                    rgb = 0;
                    for (int c = 0; c < 3; c++) rgb = (rgb << 8) | (int) ((sum[t][c] + count[t] / 2) / count[t]);
                }
                if (border(source, prefix, gw, gh, px, py, x % patch, y % patch, patch, ox % scale, oy % scale, scale)) rgb = OUTLINE;
                out[o] = (byte) (rgb >> 16);
                out[o + 1] = (byte) (rgb >> 8);
                out[o + 2] = (byte) rgb;
            }
        }
        return new RgbImage(ow, oh, out);
    }

    /** True on the last output pixel row/column of a patch whose neighbour belongs to another token. */
    private static boolean border(int[] src, int prefix, int gw, int gh, int px, int py, int ix, int iy, int patch,
                                  int sx, int sy, int scale) {
        int t = src[prefix + py * gw + px];
        boolean right = ix == patch - 1 && sx == scale - 1 && px + 1 < gw && src[prefix + py * gw + px + 1] != t;
        boolean left = ix == 0 && sx == 0 && px > 0 && src[prefix + py * gw + px - 1] != t;
        boolean down = iy == patch - 1 && sy == scale - 1 && py + 1 < gh && src[prefix + (py + 1) * gw + px] != t;
        boolean up = iy == 0 && sy == 0 && py > 0 && src[prefix + (py - 1) * gw + px] != t;
        return right || left || down || up;
    }

    /** Panels side by side with a white gap. */
    public static RgbImage strip(java.util.List<RgbImage> panels, int gap) {
        int w = -gap, h = 0;
        for (RgbImage p : panels) {
            w += p.width() + gap;
            h = Math.max(h, p.height());
        }
        byte[] out = new byte[w * h * 3];
        java.util.Arrays.fill(out, (byte) 255);
        int x0 = 0;
        for (RgbImage p : panels) {
            for (int y = 0; y < p.height(); y++) System.arraycopy(p.rgb(), y * p.width() * 3, out, (y * w + x0) * 3, p.width() * 3);
            x0 += p.width() + gap;
        }
        return new RgbImage(w, h, out);
    }

    /** PNG bytes of an image. */
    public static byte[] png(RgbImage img) {
        java.awt.image.BufferedImage b = new java.awt.image.BufferedImage(img.width(), img.height(), java.awt.image.BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < img.height(); y++) {
            for (int x = 0; x < img.width(); x++) b.setRGB(x, y, (img.get(x, y, 0) << 16) | (img.get(x, y, 1) << 8) | img.get(x, y, 2));
        }
        return encodePng(b);
    }

    /** PNG bytes of an 8-bit single-channel image ({@code w × h} values, e.g. class ids: the labels' format). */
    public static byte[] greyPng(byte[] v, int w, int h) {
        java.awt.image.BufferedImage b = new java.awt.image.BufferedImage(w, h, java.awt.image.BufferedImage.TYPE_BYTE_GRAY);
        b.getRaster().setDataElements(0, 0, w, h, v);
        return encodePng(b);
    }

    private static byte[] encodePng(java.awt.image.BufferedImage b) {
        java.io.ByteArrayOutputStream bo = new java.io.ByteArrayOutputStream();
        try {
            javax.imageio.ImageIO.write(b, "png", bo);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return bo.toByteArray();
    }
}
