package io.vitrim.train;

import io.vitrim.data.SegmentationImages;
import io.vitrim.image.ImageDecoder;
import io.vitrim.image.PilResize;
import io.vitrim.image.RgbImage;

import java.util.SplittableRandom;

/**
 * Segmentation training samples at the model's input size {@code H × W}: random scale, random
 * crop and horizontal flip applied alike to the photo and its labels (mmseg's
 * {@code RandomResize(ratio_range)} + {@code RandomCrop} + {@code RandomFlip}, with the scale
 * relative to the input size). Each photo is resized once, with Pillow's antialiased filter, to
 * {@code H × W} and to {@code 2H × 2W} (labels by nearest neighbour); a sample is then drawn from
 * the level that needs at most a 2× bilinear downscale, so scaling costs one pass over the
 * output and never aliases badly. Where a crop reaches past a scaled-down image the pixels are
 * the mean (0 after normalisation) and the labels the ignore value. The randomness of a sample
 * comes from (seed, epoch, index) only.
 */
public final class SegmentationBatches {
    private final int h, w, ignore, size;
    private final byte[][] rgb1, rgb2, lab1, lab2;

    /** Prepares {@code data} for an {@code h × w} model input. */
    public SegmentationBatches(SegmentationImages data, int h, int w, int ignore, PilResize.Filter filter) {
        this.h = h;
        this.w = w;
        this.ignore = ignore;
        this.size = data.size();
        rgb1 = new byte[size][];
        rgb2 = new byte[size][];
        lab1 = new byte[size][];
        lab2 = new byte[size][];
        java.util.stream.IntStream.range(0, size).parallel().forEach(i -> {
            SegmentationImages.Example e = data.get(i);
            rgb1[i] = PilResize.resize(e.image(), w, h, filter).rgb();
            rgb2[i] = PilResize.resize(e.image(), 2 * w, 2 * h, filter).rgb();
            lab1[i] = nearest(e.labels(), w, h);
            lab2[i] = nearest(e.labels(), 2 * w, 2 * h);
        });
    }

    public int size() {
        return size;
    }

    /** Labels resized by nearest neighbour (PyTorch's {@code mode="nearest"}: source index ⌊i·in/out⌋). */
    static byte[] nearest(ImageDecoder.LabelMap m, int ow, int oh) {
        byte[] out = new byte[ow * oh];
        for (int y = 0; y < oh; y++) {
            int sy = (int) Math.min(m.height() - 1, (long) y * m.height() / oh);
            for (int x = 0; x < ow; x++) {
                int sx = (int) Math.min(m.width() - 1, (long) x * m.width() / ow);
                out[y * ow + x] = m.labels()[sy * m.width() + sx];
            }
        }
        return out;
    }

    /**
     * Writes sample {@code i} — normalised pixels {@code [3, H, W]} at {@code px[pxOff..]} and labels
     * {@code [H, W]} at {@code labels[labOff..]}.
     *
     * @param minScale smallest scale (relative to the input size), e.g. 0.5
     * @param maxScale largest, e.g. 2.0; both 1 and no flip: the resized photo itself
     */
    public void sample(int i, long seed, int epoch, double minScale, double maxScale, boolean flip, float[] mean, float[] std,
                       float[] px, int pxOff, byte[] labels, int labOff) {
        SplittableRandom rnd = new SplittableRandom(Augment.mix(Augment.mix(seed ^ 0x5E6L, epoch + 1), i));
        double s = minScale + rnd.nextDouble() * (maxScale - minScale);
        int sh = Math.max(1, (int) Math.round(s * h)), sw = Math.max(1, (int) Math.round(s * w));
        int oy = sh > h ? rnd.nextInt(sh - h + 1) : -((h - sh) / 2), ox = sw > w ? rnd.nextInt(sw - w + 1) : -((w - sw) / 2);
        boolean mirror = flip && rnd.nextBoolean();
        boolean two = sh > h || sw > w; // upscaled: sample the 2× level (≤ 2× downscale from it)
        byte[] rgb = two ? rgb2[i] : rgb1[i], lab = two ? lab2[i] : lab1[i];
        int lh = two ? 2 * h : h, lw = two ? 2 * w : w, hw = h * w;
        double fy = (double) lh / sh, fx = (double) lw / sw;
        for (int y = 0; y < h; y++) {
            int ty = y + oy; // row in the scaled image
            for (int x = 0; x < w; x++) {
                int tx = (mirror ? w - 1 - x : x) + ox, o = y * w + x;
                if (ty < 0 || ty >= sh || tx < 0 || tx >= sw) {
                    for (int c = 0; c < 3; c++) px[pxOff + c * hw + o] = 0f;
                    labels[labOff + o] = (byte) ignore;
                    continue;
                }
                // bilinear, align_corners=False, from the level image
                double syf = Math.max((ty + 0.5) * fy - 0.5, 0), sxf = Math.max((tx + 0.5) * fx - 0.5, 0);
                int y0 = Math.min((int) syf, lh - 1), x0 = Math.min((int) sxf, lw - 1);
                int y1 = Math.min(y0 + 1, lh - 1), x1 = Math.min(x0 + 1, lw - 1);
                double ay = syf - y0, ax = sxf - x0;
                for (int c = 0; c < 3; c++) {
                    double v = (1 - ay) * ((1 - ax) * (rgb[(y0 * lw + x0) * 3 + c] & 0xff) + ax * (rgb[(y0 * lw + x1) * 3 + c] & 0xff))
                            + ay * ((1 - ax) * (rgb[(y1 * lw + x0) * 3 + c] & 0xff) + ax * (rgb[(y1 * lw + x1) * 3 + c] & 0xff));
                    px[pxOff + c * hw + o] = (float) ((v / 255.0 - mean[c]) / std[c]);
                }
                int ly = (int) Math.min(lh - 1, (long) Math.floor(ty * fy)), lx = (int) Math.min(lw - 1, (long) Math.floor(tx * fx));
                labels[labOff + o] = lab[ly * lw + lx];
            }
        }
    }

    /** The photo at the input size without augmentation (for checks). */
    RgbImage resized(int i) {
        return new RgbImage(w, h, rgb1[i]);
    }
}
