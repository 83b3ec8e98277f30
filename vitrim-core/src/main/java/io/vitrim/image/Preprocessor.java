package io.vitrim.image;

import io.vitrim.config.PreprocessConfig;

/**
 * timm's eval transform (torchvision): resize the shorter side to {@code floor(size / crop_pct)}
 * with Pillow's filter (or stretch to the scaled size for non-square inputs and Hugging Face
 * processors), centre crop with torchvision's rounding, {@code ToTensor}, {@code Normalize}.
 */
public final class Preprocessor {
    private final PreprocessConfig cfg;

    public Preprocessor(PreprocessConfig cfg) {
        this.cfg = cfg;
    }

    public PreprocessConfig config() {
        return cfg;
    }

    /** The resized and centre-cropped 8-bit image (before normalisation). */
    public RgbImage resizeAndCrop(RgbImage img) {
        int th = cfg.inputHeight(), tw = cfg.inputWidth();
        PilResize.Filter f = cfg.interpolation() == PreprocessConfig.Interpolation.BILINEAR ? PilResize.Filter.BILINEAR : PilResize.Filter.BICUBIC;
        int w = img.width(), h = img.height();
        int nw, nh;
        if (cfg.resize() == PreprocessConfig.Resize.SHORTER_SIDE && th == tw) {
            int s = (int) Math.floor(th / cfg.cropPct());
            if (w <= h) {
                nw = s;
                nh = (int) ((double) s * h / w);
            } else {
                nh = s;
                nw = (int) ((double) s * w / h);
            }
        } else {
            nh = (int) Math.floor(th / cfg.cropPct());
            nw = (int) Math.floor(tw / cfg.cropPct());
        }
        RgbImage r = (nw == w && nh == h) ? img : PilResize.resize(img, nw, nh, f);
        return centerCrop(r, tw, th);
    }

    /** torchvision {@code center_crop}: zero padding if smaller, offsets {@code round((dim − crop)/2)} (half to even). */
    static RgbImage centerCrop(RgbImage img, int cw, int ch) {
        int w = img.width(), h = img.height();
        if (w == cw && h == ch) return img;
        if (cw > w || ch > h) {
            int padL = cw > w ? (cw - w) / 2 : 0, padT = ch > h ? (ch - h) / 2 : 0;
            int padR = cw > w ? (cw - w + 1) / 2 : 0, padB = ch > h ? (ch - h + 1) / 2 : 0;
            int pw = w + padL + padR, ph = h + padT + padB;
            byte[] p = new byte[pw * ph * 3];
            for (int y = 0; y < h; y++) System.arraycopy(img.rgb(), y * w * 3, p, ((y + padT) * pw + padL) * 3, w * 3);
            img = new RgbImage(pw, ph, p);
            w = pw;
            h = ph;
            if (w == cw && h == ch) return img;
        }
        int top = (int) Math.rint((h - ch) / 2.0), left = (int) Math.rint((w - cw) / 2.0);
        byte[] out = new byte[cw * ch * 3];
        for (int y = 0; y < ch; y++) System.arraycopy(img.rgb(), ((y + top) * w + left) * 3, out, y * cw * 3, cw * 3);
        return new RgbImage(cw, ch, out);
    }

    /** Normalised {@code [3, H, W]} floats written at {@code dst[off..]}. */
    public void toTensor(RgbImage img, float[] dst, int off) {
        RgbImage r = resizeAndCrop(img);
        int hw = r.width() * r.height();
        float[] mean = cfg.mean(), std = cfg.std();
        byte[] px = r.rgb();
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < hw; i++) {
                float v = (px[i * 3 + c] & 0xff) / 255f;
                dst[off + c * hw + i] = (v - mean[c]) / std[c];
            }
        }
    }

    public float[] toTensor(RgbImage img) {
        float[] out = new float[3 * cfg.inputHeight() * cfg.inputWidth()];
        toTensor(img, out, 0);
        return out;
    }
}
