package io.vitrim.image;

import io.vitrim.io.Json;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.testing.Fixtures;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Java decoding + resize + centre crop vs PIL/torchvision on real photos (CC0, see
 * fixtures/images/src/LICENSE.txt) of several sizes and modes (JPEG colour and grey, PNG RGB,
 * RGBA, palette; downscaling and upscaling): at most 2/255 apart before normalisation.
 */
class PreprocessParityTest {

    static byte[] resource(String path) throws IOException {
        try (InputStream in = PreprocessParityTest.class.getResourceAsStream("/fixtures/images/" + path)) {
            assertThat(in).as(path).isNotNull();
            return in.readAllBytes();
        }
    }

    @TestFactory
    List<DynamicTest> matchesTorchvision() {
        Json.Obj index = Fixtures.load("images/index.json");
        List<DynamicTest> tests = new ArrayList<>();
        for (Object o : index.list("cases")) {
            Json.Obj c = Fixtures.obj(o, "case");
            String photo = c.str("photo", null), cfgName = c.str("config", null);
            tests.add(DynamicTest.dynamicTest(photo + " " + cfgName, () -> {
                int[] crop = Fixtures.ints(c.list("crop"));
                PreprocessConfig.Interpolation ip = PreprocessConfig.Interpolation.parse(c.str("interpolation", null));
                PreprocessConfig pc;
                if (c.get("resize") instanceof Number) {
                    int s = c.intValue("resize", 0);
                    pc = new PreprocessConfig(crop[0], crop[1], crop[0] / (s + 0.5), ip, PreprocessConfig.Resize.SHORTER_SIDE,
                            PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD);
                } else {
                    pc = new PreprocessConfig(crop[0], crop[1], 1.0, ip, PreprocessConfig.Resize.EXACT,
                            PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD);
                }
                RgbImage got = new Preprocessor(pc).resizeAndCrop(ImageDecoder.decode(resource("src/" + photo), photo));
                RgbImage want = ImageDecoder.decode(resource("expected/" + c.str("expected", null)), "expected");
                assertThat(got.width()).isEqualTo(want.width());
                assertThat(got.height()).isEqualTo(want.height());
                int maxDiff = 0, over1 = 0;
                for (int i = 0; i < got.rgb().length; i++) {
                    int d = Math.abs((got.rgb()[i] & 0xff) - (want.rgb()[i] & 0xff));
                    maxDiff = Math.max(maxDiff, d);
                    if (d > 1) over1++;
                }
                assertThat(maxDiff).as("%s %s: max |Δ| (of 255), %d values differ by more than 1", photo, cfgName, over1)
                        .isLessThanOrEqualTo(2);
            }));
        }
        return tests;
    }
}
