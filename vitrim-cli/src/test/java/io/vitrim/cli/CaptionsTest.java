package io.vitrim.cli;

import io.vitrim.image.RgbImage;
import org.junit.jupiter.api.Test;

import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class CaptionsTest {
    private static FontMetrics metrics() {
        Graphics2D g = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB).createGraphics();
        try {
            return g.getFontMetrics(new Font(Font.SANS_SERIF, Font.PLAIN, 18));
        } finally {
            g.dispose();
        }
    }

    @Test
    void aShortCaptionIsOneLine() {
        assertThat(Captions.wrap("none  MAC ratio 1.00", metrics(), 400)).containsExactly("none  MAC ratio 1.00");
    }

    @Test
    void aLongCaptionWrapsAtItsFieldsAndEveryLineFits() {
        FontMetrics fm = metrics();
        String c = "tome:r=54,schedule=decreasing  MAC ratio 2.05  acc 80.8%  mIoU 44.1%";
        List<String> lines = Captions.wrap(c, fm, 300);
        assertThat(lines).hasSizeGreaterThan(1);
        for (String l : lines) assertThat(fm.stringWidth(l)).isLessThanOrEqualTo(300);
        assertThat(String.join("  ", lines)).isEqualTo(c);    // nothing lost while it fits field by field
    }

    @Test
    void aFieldWiderThanThePanelIsCut() {
        List<String> lines = Captions.wrap("ltmp:merge=0.97,prune=off,file=a/very/long/path/to/thresholds.safetensors", metrics(), 120);
        assertThat(lines).hasSize(1);
        assertThat(lines.get(0)).endsWith("…");
    }

    @Test
    void theBandGrowsWithTheLongestCaption() {
        RgbImage panel = new RgbImage(300, 20, new byte[300 * 20 * 3]);
        int one = Captions.strip(List.of(panel, panel), List.of("photo", "none"), 4).height();
        int two = Captions.strip(List.of(panel, panel), List.of("photo", "tome:r=54,schedule=decreasing  MAC ratio 2.05  acc 80.8%  mIoU 44.1%"), 4).height();
        assertThat(two).isGreaterThan(one);
    }
}
