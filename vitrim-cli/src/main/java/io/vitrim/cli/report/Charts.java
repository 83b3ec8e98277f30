package io.vitrim.cli.report;

import io.vitrim.io.AtomicFiles;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.Color;
import java.awt.Font;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Line charts written as PNG and SVG with XChart, each file atomically. */
public final class Charts {
    private Charts() {}

    /** One line: name, x and y values; {@code dashed} for reference lines, {@code pointsOnly} for scatter. */
    public record Line(String name, double[] x, double[] y, boolean dashed, boolean pointsOnly) {
        public static Line of(String name, double[] x, double[] y) {
            return new Line(name, x, y, false, false);
        }
    }

    /**
     * Okabe–Ito colours (distinguishable with the common colour-vision deficiencies; the light
     * yellow left out, it vanishes on white), each series also with its own marker so lines stay
     * apart in grey print.
     */
    static final Color[] PALETTE = {new Color(0x0072B2), new Color(0xD55E00), new Color(0x009E73), new Color(0xCC79A7),
        new Color(0xE69F00), new Color(0x56B4E9), Color.BLACK, new Color(0x999999)};
    static final org.knowm.xchart.style.markers.Marker[] MARKERS = {SeriesMarkers.CIRCLE, SeriesMarkers.SQUARE,
        SeriesMarkers.DIAMOND, SeriesMarkers.TRIANGLE_UP, SeriesMarkers.TRIANGLE_DOWN, SeriesMarkers.CROSS, SeriesMarkers.PLUS,
        SeriesMarkers.OVAL};

    public static XYChart chart(String title, String xTitle, String yTitle, List<Line> lines) {
        XYChart c = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        var s = c.getStyler();
        s.setChartBackgroundColor(Color.WHITE);
        s.setLegendPosition(Styler.LegendPosition.OutsideE); // inside, it can hide the strongest points
        s.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        s.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        c.getStyler().setMarkerSize(7);
        int k = 0;
        for (Line l : lines) {
            if (l.x().length == 0) continue;
            XYSeries series = c.addSeries(l.name(), l.x(), l.y());
            Color col = l.dashed() ? Color.GRAY : PALETTE[k % PALETTE.length];
            series.setLineColor(col);
            series.setMarkerColor(col);
            if (!l.dashed()) {
                // past the palette's length the marker shifts by one, so no two series share both
                series.setMarker(MARKERS[(k + k / PALETTE.length) % MARKERS.length]);
                series.setLineWidth(2f);
                k++;
            }
            if (l.pointsOnly()) {
                series.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
            } else if (l.dashed()) {
                series.setMarker(SeriesMarkers.NONE);
                series.setLineStyle(new java.awt.BasicStroke(1.5f, java.awt.BasicStroke.CAP_BUTT, java.awt.BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
            }
        }
        return c;
    }

    /** Writes {@code base.png} and {@code base.svg}. */
    public static void write(XYChart c, Path base) throws IOException {
        Path dir = base.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        BitmapEncoder.saveBitmap(c, png, BitmapEncoder.BitmapFormat.PNG);
        AtomicFiles.write(Path.of(base + ".png"), png.toByteArray());
        ByteArrayOutputStream svg = new ByteArrayOutputStream();
        VectorGraphicsEncoder.saveVectorGraphic(c, svg, VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
        AtomicFiles.write(Path.of(base + ".svg"), svg.toByteArray());
    }
}
