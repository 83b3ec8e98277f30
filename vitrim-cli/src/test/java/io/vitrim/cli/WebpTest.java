package io.vitrim.cli;

import io.vitrim.image.ImageDecoder;
import io.vitrim.image.RgbImage;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;

import static org.assertj.core.api.Assertions.assertThat;

/** The CLI ships an ImageIO WebP reader: a lossless WebP decodes to the pixels PIL reads. */
class WebpTest {
    static byte[] res(String name) throws IOException {
        try (InputStream in = WebpTest.class.getResourceAsStream("/" + name)) {
            return in.readAllBytes();
        }
    }

    @Test
    void losslessWebpMatchesPil() throws IOException {
        RgbImage webp = ImageDecoder.decode(res("chelsea_90x60_lossless.webp"), "webp");
        RgbImage png = ImageDecoder.decode(res("chelsea_90x60_expected.png"), "png");
        assertThat(webp.width()).isEqualTo(90);
        assertThat(webp.height()).isEqualTo(60);
        assertThat(webp.rgb()).containsExactly(png.rgb());
    }
}
