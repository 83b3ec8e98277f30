package io.vitrim.cli.report;

import io.vitrim.io.AtomicFiles;
import io.vitrim.io.Json;
import io.vitrim.io.ModelLoader;
import io.vitrim.measure.Pareto;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** results.csv, results.json, the two trade-off plots (PNG + SVG) and a self-contained report.html. */
public final class ParetoReport {
    private ParetoReport() {}

    public static final double[] BUDGETS = {1.5, 2.0, 3.0};

    /**
     * What a point's two accuracy figures are: column keys and labels — a classifier's top-1 and
     * top-5, or a segmentation model's mIoU and pixel accuracy.
     */
    public record Metric(String key, String label, String key2, String label2) {
        public static final Metric CLASSIFICATION = new Metric("top1", "top-1", "top5", "top-5");
        public static final Metric SEGMENTATION = new Metric("miou", "mIoU", "pixel_acc", "pixel acc");
    }

    public static void write(Path dir, List<Pareto.Point> pts, Map<String, Object> meta) throws IOException {
        write(dir, pts, meta, Metric.CLASSIFICATION);
    }

    public static void write(Path dir, List<Pareto.Point> pts, Map<String, Object> meta, Metric metric) throws IOException {
        boolean[] front = Pareto.front(pts);
        // CSV
        StringBuilder csv = new StringBuilder("method,spec," + metric.key() + "," + metric.key2() + ",gmacs,mac_ratio,images_per_s,speedup,pareto\n");
        List<Object> rows = new ArrayList<>();
        for (int i = 0; i < pts.size(); i++) {
            Pareto.Point p = pts.get(i);
            csv.append(String.format(Locale.ROOT, "%s,\"%s\",%.6f,%.6f,%.6f,%.4f,%.3f,%.4f,%s%n", p.method(), p.spec(), p.top1(), p.top5(),
                    p.gmacs(), p.macRatio(), p.imagesPerSecond(), p.speedup(), front[i]));
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("method", p.method());
            r.put("spec", p.spec());
            r.put(metric.key(), p.top1());
            r.put(metric.key2(), p.top5());
            r.put("gmacs", p.gmacs());
            r.put("mac_ratio", p.macRatio());
            r.put("images_per_s", p.imagesPerSecond());
            r.put("speedup", p.speedup());
            r.put("pareto", front[i]);
            rows.add(r);
        }
        Map<String, Object> budgets = new LinkedHashMap<>();
        for (double b : BUDGETS) {
            Pareto.Point p = Pareto.bestAtLeast(pts, b);
            budgets.put(String.format(Locale.ROOT, "%.1fx", b), p == null ? null : p.spec());
        }
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("metadata", meta);
        json.put("points", rows);
        json.put("best_at_speedup", budgets);
        // plots
        Map<String, List<Pareto.Point>> byMethod = new LinkedHashMap<>(), bySeries = new LinkedHashMap<>();
        for (Pareto.Point p : pts) {
            byMethod.computeIfAbsent(p.method(), k -> new ArrayList<>()).add(p);
            bySeries.computeIfAbsent(series(p), k -> new ArrayList<>()).add(p);
        }
        List<Charts.Line> speed = new ArrayList<>(), macs = new ArrayList<>();
        for (Map.Entry<String, List<Pareto.Point>> e : bySeries.entrySet()) {
            List<Pareto.Point> l = new ArrayList<>(e.getValue());
            l.sort((a, b) -> Double.compare(a.speedup(), b.speedup()));
            speed.add(Charts.Line.of(e.getKey(), l.stream().mapToDouble(Pareto.Point::speedup).toArray(), l.stream().mapToDouble(p -> 100 * p.top1()).toArray()));
            l.sort((a, b) -> Double.compare(b.gmacs(), a.gmacs()));
            macs.add(Charts.Line.of(e.getKey(), l.stream().mapToDouble(Pareto.Point::gmacs).toArray(), l.stream().mapToDouble(p -> 100 * p.top1()).toArray()));
        }
        List<Pareto.Point> fr = new ArrayList<>();
        for (int i = 0; i < pts.size(); i++) if (front[i]) fr.add(pts.get(i));
        fr.sort((a, b) -> Double.compare(a.speedup(), b.speedup()));
        speed.add(new Charts.Line("Pareto front", fr.stream().mapToDouble(Pareto.Point::speedup).toArray(),
                fr.stream().mapToDouble(p -> 100 * p.top1()).toArray(), true, false));
        Charts.write(Charts.chart("Accuracy vs measured speed-up", "speed-up over none (same process)", metric.label() + " (%)", speed), dir.resolve("accuracy_vs_speedup"));
        Charts.write(Charts.chart("Accuracy vs compute", "GMACs per image", metric.label() + " (%)", macs), dir.resolve("accuracy_vs_gmacs"));
        AtomicFiles.writeString(dir.resolve("results.csv"), csv.toString());
        AtomicFiles.writeString(dir.resolve("results.json"), Json.writePretty(json));
        AtomicFiles.writeString(dir.resolve("report.html"), html(dir, pts, front, byMethod, budgets, meta, metric));
    }

    /**
     * The plotted line a point belongs to: its method, split where one method's points are not one
     * curve — learned LTMP thresholds, merging only, merging and pruning; a random scorer beside
     * the learned one; ToMe's decreasing schedule; a point on other weights ({@code spec@folder}) —
     * so that no line zig-zags between variants. The tables stay grouped by method.
     */
    static String series(Pareto.Point p) {
        String spec = p.spec(), m = p.method();
        int at = spec.lastIndexOf('@'); // as --point parses SPEC@DIR
        String opts = at < 0 ? spec : spec.substring(0, at).trim();
        String folderName = at < 0 ? null : spec.substring(at + 1).trim();
        StringBuilder name = new StringBuilder(m);
        if (m.equals("ltmp")) {
            // thresholds from a file or the checkpoint (no merge= given) are learned ones
            boolean learned = opts.contains("file=") || !opts.contains("merge=");
            name.append(learned ? ", learned" : opts.contains("prune=off") ? ", merging only"
                    : opts.contains("merge=off") ? ", pruning only" : ", merging + pruning");
        }
        if (m.equals("cropr") && (opts.contains("llf=1") || !opts.contains("llf=0") && at >= 0 && trainedWithLlf(folderName))) {
            name.append(", last-layer fusion");
        }
        if (opts.contains("scorer=random")) name.append(", random scorer");
        if (opts.contains("schedule=decreasing")) name.append(", decreasing r");
        if (at >= 0 && !m.equals("cropr")) { // a Cropr point always names its fine-tuned folder
            Path folder = Path.of(folderName).getFileName();
            name.append(" @ ").append(folder == null ? folderName : folder.toString());
        }
        return name.toString();
    }

    /** Whether the Cropr model folder was fine-tuned with last-layer fusion, as loading it would say (false when unreadable). */
    private static boolean trainedWithLlf(String folder) {
        if (!Files.isRegularFile(Path.of(folder, "config.json"))) return false;
        try {
            return ModelLoader.methodDefaults(Path.of(folder)).getOrDefault("cropr", "").contains("llf=1");
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static String esc(Object o) {
        return String.valueOf(o).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    private static String svg(Path f) throws IOException {
        String s = Files.readString(f, StandardCharsets.UTF_8);
        int i = s.indexOf("<svg");
        return i >= 0 ? s.substring(i) : s;
    }

    private static String html(Path dir, List<Pareto.Point> pts, boolean[] front, Map<String, List<Pareto.Point>> byMethod,
                               Map<String, Object> budgets, Map<String, Object> meta, Metric metric) throws IOException {
        StringBuilder h = new StringBuilder();
        h.append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>vitrim: speed vs accuracy</title><style>")
                .append("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}")
                .append("td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}")
                .append("tr.front{background:#eef7ee}svg{max-width:100%;height:auto}code{background:#f4f4f4}</style></head><body>")
                .append("<h1>Token reduction: speed vs accuracy</h1>");
        h.append("<table>");
        for (Map.Entry<String, Object> e : meta.entrySet()) h.append("<tr><th>").append(esc(e.getKey())).append("</th><td>").append(esc(e.getValue())).append("</td></tr>");
        h.append("</table>");
        h.append("<h2>Best point per speed-up budget</h2><table><tr><th>budget</th><th>spec</th><th>" + metric.label() + "</th><th>speed-up</th><th>GMACs</th></tr>");
        for (double b : BUDGETS) {
            Pareto.Point p = Pareto.bestAtLeast(pts, b);
            h.append(String.format(Locale.ROOT, "<tr><td>&ge; %.1f&times;</td>", b));
            if (p == null) h.append("<td colspan=4>no measured point reaches this speed-up</td></tr>");
            else h.append(String.format(Locale.ROOT, "<td><code>%s</code></td><td>%.2f%%</td><td>%.2f&times;</td><td>%.3f</td></tr>", esc(p.spec()), 100 * p.top1(), p.speedup(), p.gmacs()));
        }
        h.append("</table>");
        h.append("<h2>Plots</h2>").append(svg(dir.resolve("accuracy_vs_speedup.svg"))).append(svg(dir.resolve("accuracy_vs_gmacs.svg")));
        h.append("<h2>Points per method</h2><p>Speed-up: median forward time of <code>none</code> over that of the point, measured ")
                .append("in alternating rounds in the same process, on a batch of the evaluated images; MAC ratio: analytic, from the token counts each block saw. ")
                .append("Highlighted rows are on the Pareto front (no other point is both faster and more accurate).</p>");
        for (Map.Entry<String, List<Pareto.Point>> e : byMethod.entrySet()) {
            h.append("<h3>").append(esc(e.getKey())).append("</h3><table><tr><th>spec</th><th>" + metric.label() + "</th><th>" + metric.label2() + "</th><th>GMACs</th>")
                    .append("<th>MAC ratio</th><th>img/s</th><th>speed-up</th></tr>");
            for (Pareto.Point p : e.getValue()) {
                boolean f = front[pts.indexOf(p)];
                h.append(String.format(Locale.ROOT, "<tr%s><td><code>%s</code></td><td>%.2f%%</td><td>%.2f%%</td><td>%.4f</td><td>%.2f&times;</td><td>%.1f</td><td>%.2f&times;</td></tr>",
                        f ? " class=front" : "", esc(p.spec()), 100 * p.top1(), 100 * p.top5(), p.gmacs(), p.macRatio(), p.imagesPerSecond(), p.speedup()));
            }
            h.append("</table>");
        }
        h.append("<p>Files: <code>results.csv</code>, <code>results.json</code>, <code>accuracy_vs_speedup.{png,svg}</code>, ")
                .append("<code>accuracy_vs_gmacs.{png,svg}</code>. Notes: <code>lgtm</code> (DFE + local-global merging) has no public ")
                .append("reference code and follows vitrim's documented interpretation; PPT's threshold is scaled from its DeiT-S default by ")
                .append("(196 / patches)&sup2;.</p></body></html>\n");
        return h.toString();
    }
}
