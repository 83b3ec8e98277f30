package io.vitrim.image;

/**
 * Pillow's {@code Image.resize} for 8-bit RGB with the BICUBIC (Keys, a = −0.5) and BILINEAR
 * filters, reproducing its arithmetic: filter support widened by the downscale factor
 * (antialiasing), coefficients normalised in double then rounded to 22-bit fixed point, a
 * horizontal pass rounded to 8 bits, then a vertical pass. Matches Pillow bit for bit.
 */
public final class PilResize {
    private PilResize() {}

    private static final int PRECISION_BITS = 32 - 8 - 2;

    public enum Filter {
        BICUBIC(2.0), BILINEAR(1.0);
        final double support;

        Filter(double support) {
            this.support = support;
        }

        double apply(double x) {
            if (x < 0) x = -x;
            if (this == BILINEAR) return x < 1.0 ? 1.0 - x : 0.0;
            final double a = -0.5;
            if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
            if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
            return 0.0;
        }
    }

    public static RgbImage resize(RgbImage in, int outW, int outH, Filter f) {
        if (outW <= 0 || outH <= 0) throw new IllegalArgumentException("bad size " + outW + "x" + outH);
        RgbImage cur = in;
        if (outW != in.width()) cur = horizontal(cur, outW, f);
        if (outH != in.height()) cur = vertical(cur, outH, f);
        return cur == in ? new RgbImage(in.width(), in.height(), in.rgb().clone()) : cur;
    }

    /** Per output index: {xmin, xmax(count)} and fixed-point coefficients [outSize·ksize]. */
    private record Coeffs(int ksize, int[] bounds, int[] kk) {}

    private static Coeffs coeffs(int inSize, int outSize, Filter f) {
        double scale = (double) inSize / outSize;
        double filterscale = Math.max(scale, 1.0);
        double support = f.support * filterscale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] bounds = new int[outSize * 2];
        int[] kk = new int[outSize * ksize];
        double[] k = new double[ksize];
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale;
            double ww = 0.0;
            double ss = 1.0 / filterscale;
            int xmin = (int) (center - support + 0.5);
            if (xmin < 0) xmin = 0;
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            for (int x = 0; x < xmax; x++) {
                double w = f.apply((x + xmin - center + 0.5) * ss);
                k[x] = w;
                ww += w;
            }
            for (int x = 0; x < xmax; x++) if (ww != 0.0) k[x] /= ww;
            for (int x = 0; x < ksize; x++) {
                double v = x < xmax ? k[x] : 0.0;
                kk[xx * ksize + x] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS)) : (int) (0.5 + v * (1 << PRECISION_BITS));
            }
            bounds[xx * 2] = xmin;
            bounds[xx * 2 + 1] = xmax;
        }
        return new Coeffs(ksize, bounds, kk);
    }

    private static int clip8(int in) {
        if (in >= (1 << PRECISION_BITS << 8)) return 255;
        if (in <= 0) return 0;
        return in >> PRECISION_BITS;
    }

    private static RgbImage horizontal(RgbImage in, int outW, Filter f) {
        Coeffs c = coeffs(in.width(), outW, f);
        int h = in.height(), inW = in.width();
        byte[] src = in.rgb(), dst = new byte[outW * h * 3];
        for (int y = 0; y < h; y++) {
            int rowIn = y * inW * 3, rowOut = y * outW * 3;
            for (int xx = 0; xx < outW; xx++) {
                int xmin = c.bounds[xx * 2], xmax = c.bounds[xx * 2 + 1], ko = xx * c.ksize;
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < xmax; x++) {
                    int k = c.kk[ko + x];
                    int p = rowIn + (x + xmin) * 3;
                    s0 += (src[p] & 0xff) * k;
                    s1 += (src[p + 1] & 0xff) * k;
                    s2 += (src[p + 2] & 0xff) * k;
                }
                int o = rowOut + xx * 3;
                dst[o] = (byte) clip8(s0);
                dst[o + 1] = (byte) clip8(s1);
                dst[o + 2] = (byte) clip8(s2);
            }
        }
        return new RgbImage(outW, h, dst);
    }

    private static RgbImage vertical(RgbImage in, int outH, Filter f) {
        Coeffs c = coeffs(in.height(), outH, f);
        int w = in.width();
        byte[] src = in.rgb(), dst = new byte[w * outH * 3];
        for (int yy = 0; yy < outH; yy++) {
            int ymin = c.bounds[yy * 2], ymax = c.bounds[yy * 2 + 1], ko = yy * c.ksize;
            for (int xx = 0; xx < w; xx++) {
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int y = 0; y < ymax; y++) {
                    int k = c.kk[ko + y];
                    int p = ((y + ymin) * w + xx) * 3;
                    s0 += (src[p] & 0xff) * k;
                    s1 += (src[p + 1] & 0xff) * k;
                    s2 += (src[p + 2] & 0xff) * k;
                }
                int o = (yy * w + xx) * 3;
                dst[o] = (byte) clip8(s0);
                dst[o + 1] = (byte) clip8(s1);
                dst[o + 2] = (byte) clip8(s2);
            }
        }
        return new RgbImage(w, outH, dst);
    }
}
