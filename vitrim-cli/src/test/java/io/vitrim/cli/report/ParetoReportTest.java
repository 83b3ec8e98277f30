package io.vitrim.cli.report;

import io.vitrim.measure.Pareto;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

class ParetoReportTest {
    static Pareto.Point pt(String method, String spec) {
        return new Pareto.Point(method, spec, 0, 0.8, 0.98, 0.1, 2, 100, 2);
    }

    @Test
    void variantsOfOneMethodArePlottedAsSeparateLines() {
        Map<String, String> expected = new TreeMap<>(Map.ofEntries(
                Map.entry("tome:r=8", "tome"),
                Map.entry("tome:r=8,schedule=decreasing", "tome, decreasing r"),
                Map.entry("ltmp:merge=0.90,prune=off", "ltmp, merging only"),
                Map.entry("ltmp:merge=0.90,prune=0.00769", "ltmp, merging + pruning"),
                Map.entry("ltmp:file=docs/results/ltmp/target-0.50.safetensors", "ltmp, learned"),
                Map.entry("ltmp@/runs/ltmp-0.5", "ltmp, learned @ ltmp-0.5"),
                Map.entry("cropr@/nonexistent/cropr-3", "cropr"),
                Map.entry("cropr:scorer=random@/nonexistent/cropr-3", "cropr, random scorer"),
                Map.entry("none @ /nonexistent/dense-ft", "none @ dense-ft"),
                Map.entry("ltmp:merge=off,prune=0.01", "ltmp, pruning only"),
                Map.entry("none", "none")));
        for (Map.Entry<String, String> e : expected.entrySet()) {
            String method = e.getKey().split("[:@]")[0].trim();
            assertThat(ParetoReport.series(pt(method, e.getKey()))).as(e.getKey()).isEqualTo(e.getValue());
        }
    }

    @Test
    void croprModelsFineTunedWithLastLayerFusionGetTheirOwnLine(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path llf = java.nio.file.Files.createDirectories(dir.resolve("a")), plain = java.nio.file.Files.createDirectories(dir.resolve("b"));
        java.nio.file.Files.writeString(llf.resolve("config.json"), "{\"cropr_cfg\": {\"use_cropr\": true, \"pruning_rate\": 4, \"llf\": true}}");
        java.nio.file.Files.writeString(plain.resolve("config.json"), "{\"cropr_cfg\": {\"use_cropr\": true, \"pruning_rate\": 4, \"llf\": false}}");
        assertThat(ParetoReport.series(pt("cropr", "cropr@" + llf))).isEqualTo("cropr, last-layer fusion");
        assertThat(ParetoReport.series(pt("cropr", "cropr:scorer=random@" + llf))).isEqualTo("cropr, last-layer fusion, random scorer");
        assertThat(ParetoReport.series(pt("cropr", "cropr:llf=0@" + llf))).isEqualTo("cropr");
        assertThat(ParetoReport.series(pt("cropr", "cropr@" + plain))).isEqualTo("cropr");
        assertThat(ParetoReport.series(pt("cropr", "cropr:llf=1@" + plain))).isEqualTo("cropr, last-layer fusion");
        assertThat(ParetoReport.series(pt("cropr", "cropr@" + dir.resolve("missing")))).isEqualTo("cropr");
    }

    @Test
    void noTwoOfSixteenSeriesShareColourAndMarker() {
        var seen = new java.util.HashSet<String>();
        List<Charts.Line> lines = new java.util.ArrayList<>();
        for (int i = 0; i < 16; i++) lines.add(Charts.Line.of("s" + i, new double[] {1, 2}, new double[] {i, i + 1}));
        var chart = Charts.chart("t", "x", "y", lines);
        for (var s : chart.getSeriesMap().values()) {
            assertThat(seen.add(s.getLineColor() + "/" + s.getMarker().getClass().getSimpleName())).as(s.getName()).isTrue();
        }
        assertThat(seen).hasSize(16);
    }
}
