package io.vitrim.cli;

import io.vitrim.model.Macs;
import io.vitrim.config.ViTConfig;
import io.vitrim.reduce.Trace;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** Per-block token counts, MACs and reducer decisions, averaged over every image seen. */
final class Explain {
    private final ViTConfig config;
    private final double[] attn, mlp;
    private final Map<Integer, Map<String, Integer>> decisions = new TreeMap<>();
    private double macs;
    private int images;

    Explain(ViTConfig config) {
        this.config = config;
        this.attn = new double[config.depth()];
        this.mlp = new double[config.depth()];
    }

    void add(Trace t) {
        for (int b = 0; b < t.batch(); b++) {
            for (int k = 0; k < config.depth(); k++) {
                attn[k] += t.attnTokens(b, k);
                mlp[k] += t.mlpTokens(b, k);
                String d = t.decision(b, k);
                if (d != null) decisions.computeIfAbsent(k, x -> new LinkedHashMap<>()).merge(d, 1, Integer::sum);
            }
            macs += Macs.of(config, t, b);
            images++;
        }
    }

    void print(PrintWriter out) {
        if (images == 0) return;
        out.printf(Locale.ROOT, "%nper block, mean over %d image%s:%n", images, images == 1 ? "" : "s");
        out.printf(Locale.ROOT, "%5s %12s %10s %8s  %s%n", "block", "attn tokens", "mlp tokens", "GMACs", "decisions");
        for (int k = 0; k < config.depth(); k++) {
            double a = attn[k] / images, m = mlp[k] / images;
            StringBuilder d = new StringBuilder();
            Map<String, Integer> dk = decisions.get(k);
            if (dk != null) dk.forEach((name, n) -> d.append(d.length() > 0 ? ", " : "").append(n).append(' ').append(name));
            out.printf(Locale.ROOT, "%5d %12.1f %10.1f %8.3f  %s%n", k, a, m, Macs.block(config, a, m) / 1e9, d);
        }
        double dense = Macs.dense(config);
        out.printf(Locale.ROOT, "total %.3f GMACs per image (dense %.3f, ratio %.2fx)%n", macs / images / 1e9, dense / 1e9, dense / (macs / images));
    }
}
