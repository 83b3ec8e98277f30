package io.vitrim.image;

import io.vitrim.VitrimException;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.util.Iterator;

/**
 * Decodes JPEG and PNG (and any format an installed ImageIO plugin reads, e.g. WebP) into 8-bit
 * RGB the way PIL's {@code Image.open(f).convert("RGB")} does: raw decoded samples, no colour
 * management, alpha dropped (not composited), grey replicated, palettes looked up; 16-bit RGB
 * keeps the high byte and 16-bit grey is clipped at 255, as PIL does. EXIF orientation is not
 * applied (neither timm nor torchvision apply it).
 */
public final class ImageDecoder {
    private ImageDecoder() {}

    /** Default largest accepted image, in pixels (guards memory against decompression bombs). */
    public static final long MAX_PIXELS = 178_956_970L; // PIL's default MAX_IMAGE_PIXELS × 2

    /** The pixel budget: {@code -Dvitrim.maxPixels=N} raises or lowers {@link #MAX_PIXELS}. */
    public static long maxPixels() {
        return Long.getLong("vitrim.maxPixels", MAX_PIXELS);
    }

    /**
     * Reads past the end a decoder may make before the image counts as truncated: some readers
     * treat end-of-file as zero bits and go on, one exception per byte, through whatever size
     * the header claims.
     */
    static final int MAX_READS_PAST_END = 4096;

    /** Thrown through a reader's own EOF handling (it catches IOExceptions, not this). */
    static final class Truncated extends RuntimeException {
        Truncated() {
            super("the data ends before the image does", null, false, false);
        }
    }

    /** The bytes as an ImageIO stream that gives up after {@link #MAX_READS_PAST_END} reads past the end. */
    static final class Bytes extends javax.imageio.stream.ImageInputStreamImpl {
        private final byte[] b;
        private int pastEnd;

        Bytes(byte[] b) {
            this.b = b;
        }

        private int end() {
            if (++pastEnd > MAX_READS_PAST_END) throw new Truncated();
            return -1;
        }

        @Override
        public int read() {
            bitOffset = 0;
            if (streamPos >= b.length) return end();
            return b[(int) streamPos++] & 0xff;
        }

        @Override
        public int read(byte[] dst, int off, int len) {
            bitOffset = 0;
            if (len == 0) return 0;
            if (streamPos >= b.length) return end();
            int n = (int) Math.min(len, b.length - streamPos);
            System.arraycopy(b, (int) streamPos, dst, off, n);
            streamPos += n;
            return n;
        }

        @Override
        public long length() {
            return b.length;
        }
    }

    static {
        ImageIO.setUseCache(false);
    }

    /** Decodes {@code bytes}; {@code name} is used in error messages. */
    public static RgbImage decode(byte[] bytes, String name) {
        BufferedImage img = read(bytes, name);
        try {
            return toRgb(img, name);
        } catch (RuntimeException e) {
            if (e instanceof VitrimException) throw e;
            throw VitrimException.of(name, "cannot convert the decoded image to RGB: " + String.valueOf(e).replace('\n', ' '));
        }
    }

    /**
     * Decodes a label map: a single-channel image (8-bit grey, or palette indices) whose sample
     * at each pixel is a class id, as segmentation data sets store them (CamVid's
     * {@code labels/*.png}). Values are kept raw — never converted through a colour model.
     */
    public static LabelMap decodeLabels(byte[] bytes, String name) {
        BufferedImage img = read(bytes, name);
        Raster ras = img.getRaster();
        if (ras.getNumBands() != 1) {
            throw VitrimException.of(name, "a label map must have one channel of class ids (grey or palette), this one has " + ras.getNumBands());
        }
        if (ras.getSampleModel().getSampleSize(0) > 8) {
            throw VitrimException.of(name, "a label map must have 8-bit class ids, this one has " + ras.getSampleModel().getSampleSize(0) + "-bit samples");
        }
        int w = img.getWidth(), h = img.getHeight();
        byte[] out = new byte[w * h];
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            ras.getSamples(0, y, w, 1, 0, row);
            for (int x = 0; x < w; x++) out[y * w + x] = (byte) row[x];
        }
        return new LabelMap(w, h, out);
    }

    /** Class ids per pixel, row-major, 0–255 (read with {@code & 0xFF}). */
    public record LabelMap(int width, int height, byte[] labels) {
        public int get(int x, int y) {
            return labels[y * width + x] & 0xFF;
        }
    }

    /** Any decodable image, after the pixel budget is checked from its header. */
    private static BufferedImage read(byte[] bytes, String name) {
        BufferedImage img;
        try (ImageInputStream in = new Bytes(bytes)) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw VitrimException.of(name, "not an image (or a format no installed reader understands)");
            ImageReader r = readers.next();
            try {
                r.setInput(in, true, true);
                long w = r.getWidth(0), h = r.getHeight(0);
                if (w <= 0 || h <= 0) throw VitrimException.of(name, "image has no pixels");
                long max = maxPixels();
                if (w * h > max) {
                    throw VitrimException.of(name, "image is " + w + "x" + h + ", larger than the budget of " + max
                            + " pixels (raise it with -Dvitrim.maxPixels=N)");
                }
                img = r.read(0);
            } finally {
                r.dispose();
            }
        } catch (VitrimException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            throw VitrimException.of(name, "cannot decode image: " + msg.replace('\n', ' '));
        }
        if (img == null) throw VitrimException.of(name, "cannot decode image");
        return img;
    }

    /** PIL {@code convert("RGB")} semantics on the raw raster. */
    static RgbImage toRgb(BufferedImage img, String name) {
        int w = img.getWidth(), h = img.getHeight();
        byte[] out = new byte[w * h * 3];
        Raster ras = img.getRaster();
        ColorModel cm = img.getColorModel();
        int bands = ras.getNumBands();
        int bits = cm.getComponentSize(0);
        int[] row = new int[w * bands];
        if (cm instanceof IndexColorModel) {
            IndexColorModel icm = (IndexColorModel) cm;
            for (int y = 0; y < h; y++) {
                ras.getPixels(0, y, w, 1, row);
                for (int x = 0; x < w; x++) {
                    int idx = row[x * bands];
                    int o = (y * w + x) * 3;
                    out[o] = (byte) icm.getRed(idx);
                    out[o + 1] = (byte) icm.getGreen(idx);
                    out[o + 2] = (byte) icm.getBlue(idx);
                }
            }
            return new RgbImage(w, h, out);
        }
        int colorBands = cm.getNumColorComponents();
        if (colorBands != 1 && colorBands != 3) {
            throw VitrimException.of(name, "unsupported colour model with " + colorBands + " components (e.g. CMYK); convert to RGB first");
        }
        for (int y = 0; y < h; y++) {
            ras.getPixels(0, y, w, 1, row);
            for (int x = 0; x < w; x++) {
                int o = (y * w + x) * 3;
                if (colorBands == 1) {
                    int v = eight(row[x * bands], bits, true);
                    out[o] = out[o + 1] = out[o + 2] = (byte) v;
                } else {
                    for (int c = 0; c < 3; c++) out[o + c] = (byte) eight(row[x * bands + c], bits, false);
                }
            }
        }
        return new RgbImage(w, h, out);
    }

    private static int eight(int v, int bits, boolean grey) {
        if (bits == 8) return v;
        if (bits == 16) return grey ? Math.min(v, 255) : v >>> 8;
        if (bits < 8) return v * 255 / ((1 << bits) - 1);
        return v >>> (bits - 8);
    }
}
