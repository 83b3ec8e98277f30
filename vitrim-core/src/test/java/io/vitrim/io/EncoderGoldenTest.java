package io.vitrim.io;

import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URISyntaxException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * DINOv2, CLIP and SigLIP towers as timm itself builds them ({@code make_fixtures.py encoders}): model
 * folders loaded like a user's, outputs (features, or the CLIP projection) at the native input
 * size and at another one, where the position embedding is resampled as timm's checkpoint
 * filter does.
 */
class EncoderGoldenTest {

    static Path folder(String name) {
        try {
            return Path.of(EncoderGoldenTest.class.getResource("/fixtures/encoders/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"dinov2", "dinov2_reg4", "clip_quickgelu", "clip", "siglip", "siglip_head"})
    void outputsMatchTimm(String name) {
        check(name);
    }

    /** transformers' own save_pretrained folders: pooler output (DINOv2) or image_embeds (CLIP with projection). */
    @ParameterizedTest
    @ValueSource(strings = {"hf_dinov2", "hf_dinov2_reg", "hf_clip"})
    void huggingFaceFoldersMatchTransformers(String name) {
        check(name);
    }

    private static void check(String name) {
        Json.Obj f = Fixtures.load("encoders/" + name + "/expected.json");
        ModelLoader.Checkpoint ck = ModelLoader.read(folder(name), null);
        for (String at : new String[] {"native", "other"}) {
            Json.Obj e = f.obj(at);
            if (e == null) continue;
            int size = e.intValue("size", 0);
            ModelLoader.Checkpoint c = ModelLoader.atImageSize(ck, size, size);
            if (at.equals("native") && f.obj("other") != null) {
                // there and back: a second resampling starts from the stored embedding, not the first result
                int o = f.obj("other").intValue("size", 0);
                c = ModelLoader.atImageSize(ModelLoader.atImageSize(ck, o, o), size, size);
            }
            ViTConfig cfg = c.config();
            int batch = f.intValue("batch", 0);
            float[] px = HashInit.pixels(cfg, batch, f.integer("pixel_seed", 0));
            float[] expected = Fixtures.floats(e.list("output"));
            double scale = e.number("scale", 1);
            for (int threads : new int[] {1, 2}) {
                try (VisionTransformer m = c.build(threads)) {
                    float[] got = m.forward(px, batch, TokenReducer.NONE, false).logits();
                    assertThat(got).hasSameSizeAs(expected);
                    double maxErr = 0;
                    for (int i = 0; i < got.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - expected[i]));
                    assertThat(maxErr / scale).as("%s at %d px, %d threads: max |Δ| %.3g (scale %.3g)", name, size, threads, maxErr, scale)
                            .isLessThan(1e-4);
                }
            }
        }
    }
}
