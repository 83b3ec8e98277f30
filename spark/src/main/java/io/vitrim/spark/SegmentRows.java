package io.vitrim.spark;

import io.vitrim.config.SegmentationConfig;
import io.vitrim.image.RgbImage;
import io.vitrim.image.TokenMap;
import io.vitrim.model.Macs;
import io.vitrim.model.VisionTransformer;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A segmented image's row: class shares and mask PNGs as {@code vitrim segment} makes them. */
final class SegmentRows {
    private SegmentRows() {}

    /** Image {@code i} of {@code s}, a photo of {@code w × h} pixels. */
    static ImageResult row(String path, VisionTransformer m, VisionTransformer.Segmentation s, int i, int w, int h, boolean ids) {
        SegmentationConfig task = m.segmentation();
        int[][] colors = task.colors();
        int[] mask = s.mask(i, h, w);
        long[] count = new long[task.numClasses()];
        byte[] rgb = new byte[w * h * 3], id = ids ? new byte[w * h] : null;
        for (int p = 0; p < w * h; p++) {
            int k = mask[p];
            count[k]++;
            if (id != null) id[p] = (byte) k;
            rgb[p * 3] = (byte) colors[k][0];
            rgb[p * 3 + 1] = (byte) colors[k][1];
            rgb[p * 3 + 2] = (byte) colors[k][2];
        }
        List<String> names = m.labels();
        Map<String, Double> shares = new LinkedHashMap<>();
        for (int k = 0; k < count.length; k++) {
            if (count[k] > 0) shares.put(names != null ? names.get(k) : String.valueOf(k), (double) count[k] / ((double) w * h));
        }
        return new ImageResult(path, null, null, null, shares, TokenMap.png(new RgbImage(w, h, rgb)),
                id == null ? null : TokenMap.greyPng(id, w, h), s.trace().tokensEnteringBlocks(i), Macs.of(m.config(), s.trace(), i) / 1e9, null);
    }
}
