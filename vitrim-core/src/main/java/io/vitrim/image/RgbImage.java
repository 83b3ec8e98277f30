package io.vitrim.image;

/** An 8-bit RGB image, interleaved row-major: pixel (x, y) channel c at {@code (y·width + x)·3 + c}. */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("empty image " + width + "x" + height);
        if (rgb.length != width * height * 3) throw new IllegalArgumentException("pixel buffer does not match " + width + "x" + height);
    }

    /** Channel value 0..255. */
    public int get(int x, int y, int c) {
        return rgb[(y * width + x) * 3 + c] & 0xff;
    }
}
