package io.vitrim.measure;

import io.vitrim.config.ViTConfig;
import io.vitrim.reduce.Methods;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The speed/accuracy trade-off: default knob grids per method (ordered from mild to strong
 * reduction), the Pareto front, and the best point under a speed-up budget.
 */
public final class Pareto {
    private Pareto() {}

    /** One measured configuration. */
    public record Point(String method, String spec, int order, double top1, double top5, double gmacs, double macRatio,
                        double imagesPerSecond, double speedup) {}

    /**
     * A sensible grid for {@code method} on {@code c}, as spec strings, mildest first. Scaled from
     * the papers' DeiT-S settings to the model's depth and token count: ToMe-like r up to
     * ⌈(N−1)/L⌉·1.25; PPT at blocks L/4, L/2, 3L/4 with r up to 95 % of what all its layers can prune and its threshold scaled by
     * (196 / patches)² (the normalised-importance variance shrinks with the token count);
     * LGTM with ⌈L/6⌉ dense blocks and the switch at 7/12 of the depth; LTMP with hand-set
     * thresholds (merge 0.95 … 0.8, then pruning below 0.5 or 0.8 × the uniform attention 1/N).
     */
    public static List<String> defaultGrid(String method, ViTConfig c) {
        int n = c.numTokens(), depth = c.depth(), patches = c.numPatches();
        int rMax = Math.max(1, (n - c.numPrefix() + depth - 1) / depth);
        Set<Integer> rs = new LinkedHashSet<>();
        for (double f : new double[] {0.25, 0.5, 0.75, 1.0, 1.25}) rs.add(Math.max(1, (int) Math.round(f * rMax)));
        List<String> out = new ArrayList<>();
        switch (method) {
            case "none":
                out.add("none");
                break;
            case "cropr":
                // a trained method: its points come from fine-tuned folders (pareto --point cropr@DIR)
                break;
            case "tome":
                for (int r : rs) out.add("tome:r=" + r);
                out.add("tome:r=" + Math.max(1, rMax / 2) + ",schedule=decreasing");
                out.add("tome:r=" + rMax + ",schedule=decreasing");
                break;
            case "random":
                for (int r : rs) out.add("random:r=" + r);
                break;
            case "topk":
                if (!c.classToken()) break;
                for (int r : rs) out.add("topk:r=" + r);
                break;
            case "ppt": {
                if (!c.classToken()) break;
                int a = Math.max(0, Math.round(depth / 4f)), b = Math.max(a + 1, Math.round(depth / 2f)), d = Math.max(b + 1, Math.round(3 * depth / 4f));
                boolean three = d < depth;
                String layers = a + "/" + Math.min(b, depth - 1) + (three ? "/" + d : "");
                double theta = 7e-5 * Math.pow(196.0 / patches, 2);
                // r up to what every PP layer can take even if all of them prune: (patches − 1) / layers
                int prMax = Math.max(1, (patches - 1) / (three ? 3 : 2));
                Set<Integer> pr = new LinkedHashSet<>();
                for (double f : new double[] {0.25, 0.5, 0.75, 0.95}) pr.add(Math.max(1, (int) Math.round(f * prMax)));
                for (int r : pr) out.add(String.format(Locale.ROOT, "ppt:r=%d,layers=%s,threshold=%.3g", r, layers, theta));
                break;
            }
            case "lgtm": {
                int dense = Math.max(1, (int) Math.ceil(depth / 6.0));
                int sw = Math.max(dense, Math.round(depth * 7f / 12f));
                boolean fits = c.gridH() % 2 == 0 && c.gridW() % 2 == 0;
                for (int r : rs) {
                    out.add(fits ? "lgtm:r=" + r + ",dense=" + dense + ",switch=" + sw : "lgtm:r=" + r + ",dense=" + dense + ",switch=" + dense);
                }
                break;
            }
            case "ltmp": {
                // hand-set thresholds (training-free): merging by similarity, then mild pruning by
                // attention received relative to the uniform 1/N; learned thresholds replace these
                for (double m : new double[] {0.95, 0.9, 0.85, 0.8}) out.add(String.format(Locale.ROOT, "ltmp:merge=%.2f,prune=off", m));
                for (double f : new double[] {0.5, 0.8}) out.add(String.format(Locale.ROOT, "ltmp:merge=0.90,prune=%.3g", f / n));
                break;
            }
            default:
                // a method added to the registry later: try its knob r
                for (int r : rs) out.add(method + ":r=" + r);
        }
        // keep only specs the model accepts
        List<String> valid = new ArrayList<>();
        for (String s : out) {
            try {
                Methods.parse(s, c);
                valid.add(s);
            } catch (RuntimeException e) {
                // not applicable to this model
            }
        }
        return valid;
    }

    /** Points not dominated by another with speed-up ≥ and top-1 ≥ (one of them strictly). */
    public static boolean[] front(List<Point> pts) {
        boolean[] f = new boolean[pts.size()];
        for (int i = 0; i < pts.size(); i++) {
            Point p = pts.get(i);
            boolean dominated = false;
            for (Point q : pts) {
                if (q != p && q.speedup() >= p.speedup() && q.top1() >= p.top1() && (q.speedup() > p.speedup() || q.top1() > p.top1())) {
                    dominated = true;
                    break;
                }
            }
            f[i] = !dominated;
        }
        return f;
    }

    /** The most accurate point whose measured speed-up is at least {@code budget}, or null. */
    public static Point bestAtLeast(List<Point> pts, double budget) {
        Point best = null;
        for (Point p : pts) {
            if (p.speedup() >= budget && (best == null || p.top1() > best.top1() || (p.top1() == best.top1() && p.speedup() > best.speedup()))) best = p;
        }
        return best;
    }
}
