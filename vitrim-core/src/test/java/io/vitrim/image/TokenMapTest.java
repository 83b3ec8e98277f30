package io.vitrim.image;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Rendering of known merge groups: mean colours, outlines, greyed pruned patches. */
class TokenMapTest {
    static int rgb(RgbImage img, int x, int y) {
        return (img.get(x, y, 0) << 16) | (img.get(x, y, 1) << 8) | img.get(x, y, 2);
    }

    @Test
    void groupsAreFilledWithTheirMeanColourOutlinedAndPrunedPatchesGreyed() {
        // a 2x2 grid of 4-pixel patches, each a solid colour
        int[][] colours = {{200, 0, 0}, {0, 0, 100}, {0, 240, 0}, {90, 90, 90}};
        byte[] px = new byte[8 * 8 * 3];
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                int[] c = colours[(y / 4) * 2 + x / 4];
                for (int k = 0; k < 3; k++) px[(y * 8 + x) * 3 + k] = (byte) c[k];
            }
        }
        RgbImage img = new RgbImage(8, 8, px);
        // class token + patches: patches 0 and 1 merged into token 1, patch 2 alone as token 2, patch 3 pruned
        int[] source = {0, 1, 1, 2, -1};
        RgbImage out = TokenMap.render(img, 4, 1, source, 3);
        assertThat(out.width()).isEqualTo(24);
        assertThat(rgb(out, 4, 4)).as("patch 0 interior: mean of red and blue").isEqualTo((100 << 16) | 50);
        assertThat(rgb(out, 16, 4)).as("patch 1 interior: same group colour").isEqualTo((100 << 16) | 50);
        assertThat(rgb(out, 4, 16)).as("patch 2 alone keeps its colour").isEqualTo(240 << 8);
        int grey = rgb(out, 16, 16);
        assertThat(grey >> 16).isEqualTo((grey >> 8) & 0xff).isEqualTo(grey & 0xff).isGreaterThanOrEqualTo(170);
        // outline between patch 0 and patch 2 (different tokens), none between patches 0 and 1 (same token)
        assertThat(rgb(out, 4, 11)).isEqualTo(TokenMap.OUTLINE);
        assertThat(rgb(out, 11, 4)).isEqualTo((100 << 16) | 50);
        RgbImage s = TokenMap.strip(List.of(img, out), 5);
        assertThat(s.width()).isEqualTo(8 + 5 + 24);
        assertThat(s.height()).isEqualTo(24);
    }
}
