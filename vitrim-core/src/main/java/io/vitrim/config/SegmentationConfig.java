package io.vitrim.config;

import io.vitrim.VitrimException;

import java.util.List;

/**
 * A segmentation model's task: {@code numClasses} classes predicted per pixel, label value
 * {@code ignoreIndex} (e.g. CamVid's 11 = void) ignored by the loss and by mIoU, and a display
 * colour per class. Stored in {@code config.json} under {@code "segmentation"}.
 *
 * @param colors {@code [numClasses][3]} RGB, 0–255
 */
public record SegmentationConfig(int numClasses, int ignoreIndex, int[][] colors) {
    public static final int MAX_CLASSES = 4096;

    public SegmentationConfig {
        if (numClasses < 1 || numClasses > MAX_CLASSES) throw new VitrimException("segmentation: num_classes " + numClasses + " is not in 1.." + MAX_CLASSES);
        if (colors == null) colors = defaultColors(numClasses);
        if (colors.length != numClasses) throw new VitrimException("segmentation: " + colors.length + " colours for " + numClasses + " classes");
        for (int[] c : colors) {
            if (c.length != 3) throw new VitrimException("segmentation: a colour needs 3 values (R, G, B)");
            for (int v : c) if (v < 0 || v > 255) throw new VitrimException("segmentation: colour value " + v + " is not in 0..255");
        }
    }

    /** Distinct colours for classes without their own (a golden-angle walk around the hue circle). */
    public static int[][] defaultColors(int n) {
        int[][] c = new int[n][];
        for (int i = 0; i < n; i++) {
            java.awt.Color col = java.awt.Color.getHSBColor((float) ((i * 0.618033988749895) % 1.0), 0.65f, 0.95f);
            c[i] = new int[] {col.getRed(), col.getGreen(), col.getBlue()};
        }
        return c;
    }

    /** The decoder's checkpoint keys with their shapes (Segmenter's linear decoder). */
    public java.util.Map<String, int[]> decoderKeys(int embedDim) {
        java.util.Map<String, int[]> m = new java.util.LinkedHashMap<>();
        m.put("decoder.head.weight", new int[] {numClasses, embedDim});
        m.put("decoder.head.bias", new int[] {numClasses});
        return m;
    }

    public List<int[]> colorList() {
        return List.of(colors);
    }
}
