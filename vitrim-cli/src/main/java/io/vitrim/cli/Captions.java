package io.vitrim.cli;

import io.vitrim.image.RgbImage;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.List;

/** Panels side by side, each with a one-line caption above it (figures for the docs). */
final class Captions {
    private Captions() {}

    /** {@code panels} left to right with {@code gap} white pixels between them, captions above. */
    static RgbImage strip(List<RgbImage> panels, List<String> captions, int gap) {
        if (panels.size() != captions.size()) throw new IllegalArgumentException(panels.size() + " panels, " + captions.size() + " captions");
        int h = 0, w = gap * (panels.size() - 1);
        for (RgbImage p : panels) {
            h = Math.max(h, p.height());
            w += p.width();
        }
        int size = Math.max(11, Math.min(18, panels.get(0).width() / 26)), band = size + size / 2 + 4;
        BufferedImage out = new BufferedImage(w, h + band, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, out.getWidth(), out.getHeight());
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, size));
            FontMetrics fm = g.getFontMetrics();
            g.setColor(Color.BLACK);
            int x = 0;
            for (int i = 0; i < panels.size(); i++) {
                RgbImage p = panels.get(i);
                byte[] rgb = p.rgb();
                for (int y = 0; y < p.height(); y++) {
                    for (int c = 0; c < p.width(); c++) {
                        int o = (y * p.width() + c) * 3;
                        out.setRGB(x + c, band + y, (rgb[o] & 0xff) << 16 | (rgb[o + 1] & 0xff) << 8 | rgb[o + 2] & 0xff);
                    }
                }
                String t = captions.get(i);
                while (t.length() > 1 && fm.stringWidth(t) > p.width() - 4) t = t.substring(0, t.length() - 2) + "…";
                g.drawString(t, x + 2, band - (band - fm.getAscent()) / 2 - 2);
                x += p.width() + gap;
            }
        } finally {
            g.dispose();
        }
        byte[] rgb = new byte[out.getWidth() * out.getHeight() * 3];
        for (int y = 0; y < out.getHeight(); y++) {
            for (int c = 0; c < out.getWidth(); c++) {
                int v = out.getRGB(c, y), o = (y * out.getWidth() + c) * 3;
                rgb[o] = (byte) (v >> 16);
                rgb[o + 1] = (byte) (v >> 8);
                rgb[o + 2] = (byte) v;
            }
        }
        return new RgbImage(out.getWidth(), out.getHeight(), rgb);
    }
}
