package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.io.Json;
import io.vitrim.io.SafeTensors;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Zero-shot labels from text embeddings the user made with the tower's text encoder (vitrim has
 * none): each image gets the labels whose embeddings are closest by cosine similarity.
 */
final class ZeroShot {
    final List<String> labels;
    final float[] unit; // [K, D], each row of unit length
    final int dim;

    private ZeroShot(List<String> labels, float[] unit, int dim) {
        this.labels = labels;
        this.unit = unit;
        this.dim = dim;
    }

    static ZeroShot read(Path file, int dim) {
        try (SafeTensors st = SafeTensors.open(file)) {
            SafeTensors.Entry e = st.entry("embeddings");
            if (e == null) throw VitrimException.of(file, "no tensor named embeddings (found: " + String.join(", ", st.entries().keySet()) + ")");
            long[] s = e.shape();
            if (s.length != 2 || s[0] < 1 || s[1] != dim) {
                throw VitrimException.of(file, "embeddings has shape " + e.shapeString() + ", the model's embeddings need [K, " + dim + "]");
            }
            String raw = st.metadata().get("labels");
            if (raw == null) throw VitrimException.of(file, "no 'labels' in the metadata (a JSON list of " + s[0] + " names)");
            Object parsed;
            try {
                parsed = Json.parse(raw);
            } catch (Json.ParseException ex) {
                throw VitrimException.of(file, "metadata 'labels' is not JSON: " + ex.getMessage());
            }
            if (!(parsed instanceof List<?> l) || l.size() != s[0]) {
                throw VitrimException.of(file, "metadata 'labels' must be a JSON list of " + s[0] + " names");
            }
            List<String> names = new ArrayList<>();
            for (Object o : l) names.add(String.valueOf(o));
            float[] v = st.floats("embeddings");
            for (int k = 0; k < s[0]; k++) {
                double n = 0;
                for (int j = 0; j < dim; j++) n += (double) v[k * dim + j] * v[k * dim + j];
                if (!(n > 0) || !Double.isFinite(n)) throw VitrimException.of(file, "embedding " + k + " (" + names.get(k) + ") is zero or not finite");
                float inv = (float) (1 / Math.sqrt(n));
                for (int j = 0; j < dim; j++) v[k * dim + j] *= inv;
            }
            return new ZeroShot(names, v, dim);
        }
    }

    /** Cosine similarity of image embedding {@code e[off..off+dim)} with every label. */
    double[] scores(float[] e, int off) {
        double n = 0;
        for (int j = 0; j < dim; j++) n += (double) e[off + j] * e[off + j];
        double inv = n > 0 ? 1 / Math.sqrt(n) : 0;
        double[] out = new double[labels.size()];
        for (int k = 0; k < out.length; k++) {
            double d = 0;
            for (int j = 0; j < dim; j++) d += (double) unit[k * dim + j] * e[off + j];
            out[k] = d * inv;
        }
        return out;
    }

    void print(PrintWriter o, String name, float[] e, int off, int topk, boolean json) {
        double[] sc = scores(e, off);
        Integer[] idx = new Integer[sc.length];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        java.util.Arrays.sort(idx, (a, b) -> Double.compare(sc[b], sc[a]));
        int k = Math.min(topk, idx.length);
        if (json) {
            List<Object> top = new ArrayList<>();
            for (int i = 0; i < k; i++) {
                Map<String, Object> t = new LinkedHashMap<>();
                t.put("index", idx[i]);
                t.put("label", labels.get(idx[i]));
                t.put("cosine", sc[idx[i]]);
                top.add(t);
            }
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("input", name);
            r.put("top", top);
            o.println(Json.write(r));
        } else {
            StringBuilder b = new StringBuilder(name).append(": ");
            for (int i = 0; i < k; i++) {
                if (i > 0) b.append(" | ");
                b.append(labels.get(idx[i])).append(String.format(Locale.ROOT, " %.3f", sc[idx[i]]));
            }
            o.println(b);
        }
    }
}
