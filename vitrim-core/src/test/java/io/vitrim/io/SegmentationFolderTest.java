package io.vitrim.io;

import io.vitrim.VitrimException;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.SegmentationConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.StateDict;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Dense;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A segmentation model written as a timm-style folder loads back as the same model. */
class SegmentationFolderTest {
    @TempDir
    Path tmp;

    static final ViTConfig CFG = new ViTConfig("vit_tiny_patch16_224", 24, 32, 8, 3, 32, 2, 2, 64, true, true, false,
            ViTConfig.Pool.TOKEN, false, 0, 1e-6f);

    @Test
    void roundTrip() throws Exception {
        int k = 3;
        StateDict sd = HashInit.stateDict(CFG, 7, 1.0);
        sd.put("decoder.head.weight", HashInit.uniform(7, "decoder.head.weight", k * 32, 0.3, 0), new int[] {k, 32});
        sd.put("decoder.head.bias", HashInit.uniform(7, "decoder.head.bias", k, 0.1, 0), new int[] {k});
        SegmentationConfig seg = new SegmentationConfig(k, 255, new int[][] {{128, 128, 128}, {128, 0, 0}, {0, 0, 192}});
        List<String> labels = List.of("sky", "building", "road");
        // a segmentation model resizes the whole image to its input (no crop)
        PreprocessConfig pre = new PreprocessConfig(24, 32, 1.0, PreprocessConfig.Interpolation.BILINEAR, PreprocessConfig.Resize.EXACT,
                PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD);
        ModelFolder.write(tmp, CFG, pre, labels, sd, Map.of(), ModelFolder.segmentationEntry(seg));
        float[] px = HashInit.pixels(CFG, 2, 3);
        try (VisionTransformer a = VisionTransformer.createSegmenter(CFG, pre, seg, labels, sd, 1, "memory");
             VisionTransformer b = ModelLoader.load(tmp, null, 1)) {
            assertThat(b.segmentation()).isNotNull();
            assertThat(b.segmentation().ignoreIndex()).isEqualTo(255);
            assertThat(b.segmentation().colors()[2]).containsExactly(0, 0, 192);
            assertThat(b.labels()).isEqualTo(labels);
            assertThat(b.segment(px, 2, b.reducer("tome:r=3"), Dense.Restore.OUTPUT).gridLogits())
                    .containsExactly(a.segment(px, 2, a.reducer("tome:r=3"), Dense.Restore.OUTPUT).gridLogits());
        }
        // trained at 24x32 (a 3x4 grid), segmenting at 40x24 (5x3): the position embedding is
        // resampled from the model's own non-square grid, as timm's resample_abs_pos_embed
        try (VisionTransformer other = ModelLoader.atImageSize(ModelLoader.read(tmp, null), 40, 24).build(1)) {
            float[] pos = sd.get("pos_embed").data();
            float[] want = io.vitrim.model.PosEmbed.resample(pos, 1, 3, 4, 5, 3, 32);
            assertThat(other.weights().get("pos_embed").value).containsExactly(want);
            assertThat(other.segment(HashInit.pixels(other.config(), 1, 4), 1, io.vitrim.reduce.TokenReducer.NONE, Dense.Restore.OUTPUT).gridW())
                    .isEqualTo(3);
        }
        // a config whose class count disagrees with the rest of it is refused, naming the file
        String cfg = Files.readString(tmp.resolve("config.json")).replace("\"num_classes\": 3", "\"num_classes\": 4");
        Files.writeString(tmp.resolve("config.json"), cfg);
        assertThatThrownBy(() -> ModelLoader.load(tmp, null, 1)).isInstanceOf(VitrimException.class).hasMessageContaining("config.json").hasMessageContaining("4 classes");
    }
}
