package io.vitrim.cli;

import io.vitrim.image.RgbImage;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/** Panels side by side, each with a caption above it (figures for the docs). */
final class Captions {
    private Captions() {}

    /**
     * {@code panels} left to right with {@code gap} white pixels between them, captions above; a
     * caption wider than its panel wraps at its double spaces (its fields), and a field still too
     * wide is cut with an ellipsis.
     */
    static RgbImage strip(List<RgbImage> panels, List<String> captions, int gap) {
        if (panels.size() != captions.size()) throw new IllegalArgumentException(panels.size() + " panels, " + captions.size() + " captions");
        int h = 0, w = gap * (panels.size() - 1);
        for (RgbImage p : panels) {
            h = Math.max(h, p.height());
            w += p.width();
        }
        int size = Math.max(11, Math.min(18, panels.get(0).width() / 26)), line = size + size / 3 + 2;
        BufferedImage probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Font font = new Font(Font.SANS_SERIF, Font.PLAIN, size);
        List<List<String>> lines = new ArrayList<>();
        Graphics2D pg = probe.createGraphics();
        try {
            FontMetrics fm = pg.getFontMetrics(font);
            for (int i = 0; i < panels.size(); i++) lines.add(wrap(captions.get(i), fm, panels.get(i).width() - 4));
        } finally {
            pg.dispose();
        }
        int rows = 1;
        for (List<String> l : lines) rows = Math.max(rows, l.size());
        int band = rows * line + 6;
        BufferedImage out = new BufferedImage(w, h + band, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, out.getWidth(), out.getHeight());
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setFont(font);
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
                List<String> l = lines.get(i);
                for (int k = 0; k < l.size(); k++) g.drawString(l.get(k), x + 2, 3 + k * line + fm.getAscent());
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

    /** {@code caption}'s fields (separated by two spaces) packed greedily into lines of at most {@code width} pixels. */
    static List<String> wrap(String caption, FontMetrics fm, int width) {
        List<String> out = new ArrayList<>();
        String cur = "";
        for (String f : caption.split(" {2,}")) {
            String joined = cur.isEmpty() ? f : cur + "  " + f;
            if (cur.isEmpty() || fm.stringWidth(joined) <= width) {
                cur = joined;
            } else {
                out.add(cut(cur, fm, width));
                cur = f;
            }
        }
        out.add(cut(cur, fm, width));
        return out;
    }

    private static String cut(String t, FontMetrics fm, int width) {
        while (t.length() > 1 && fm.stringWidth(t) > width) t = t.substring(0, t.length() - 2) + "…";
        return t;
    }
}
