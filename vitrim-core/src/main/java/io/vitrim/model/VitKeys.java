package io.vitrim.model;

import io.vitrim.VitrimException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one place that knows timm's {@code VisionTransformer} key names and shapes
 * (algorithms.md §0.5), and checks a {@link StateDict} against them strictly.
 */
public final class VitKeys {
    private VitKeys() {}

    /** Every key the config needs, with its shape, in checkpoint order. */
    public static Map<String, int[]> expected(ViTConfig c) {
        int d = c.embedDim(), p = c.patchSize(), h = c.mlpHidden(), k = c.numClasses();
        Map<String, int[]> m = new LinkedHashMap<>();
        if (c.classToken()) m.put("cls_token", new int[] {1, 1, d});
        if (c.distToken()) m.put("dist_token", new int[] {1, 1, d});
        m.put("pos_embed", new int[] {1, c.numTokens(), d});
        m.put("patch_embed.proj.weight", new int[] {d, c.inChans(), p, p});
        m.put("patch_embed.proj.bias", new int[] {d});
        for (int i = 0; i < c.depth(); i++) {
            String b = "blocks." + i + ".";
            m.put(b + "norm1.weight", new int[] {d});
            m.put(b + "norm1.bias", new int[] {d});
            m.put(b + "attn.qkv.weight", new int[] {3 * d, d});
            if (c.qkvBias()) m.put(b + "attn.qkv.bias", new int[] {3 * d});
            m.put(b + "attn.proj.weight", new int[] {d, d});
            m.put(b + "attn.proj.bias", new int[] {d});
            m.put(b + "norm2.weight", new int[] {d});
            m.put(b + "norm2.bias", new int[] {d});
            m.put(b + "mlp.fc1.weight", new int[] {h, d});
            m.put(b + "mlp.fc1.bias", new int[] {h});
            m.put(b + "mlp.fc2.weight", new int[] {d, h});
            m.put(b + "mlp.fc2.bias", new int[] {d});
        }
        String norm = c.fcNorm() ? "fc_norm" : "norm";
        m.put(norm + ".weight", new int[] {d});
        m.put(norm + ".bias", new int[] {d});
        m.put("head.weight", new int[] {k, d});
        m.put("head.bias", new int[] {k});
        if (c.distToken()) {
            m.put("head_dist.weight", new int[] {k, d});
            m.put("head_dist.bias", new int[] {k});
        }
        return m;
    }

    /**
     * Fails with one message listing missing keys, unexpected keys and wrong shapes (a few of
     * each, with counts). Token and position embeddings may
     * omit their leading 1-dimensions ({@code [C]} for {@code [1,1,C]}).
     */
    public static void check(ViTConfig c, StateDict sd, Object where) {
        Map<String, int[]> want = expected(c);
        List<String> missing = new ArrayList<>(), wrong = new ArrayList<>(), unexpected = new ArrayList<>();
        for (Map.Entry<String, int[]> e : want.entrySet()) {
            StateDict.Tensor t = sd.get(e.getKey());
            if (t == null) missing.add(e.getKey());
            else if (!sameShape(e.getKey(), t.shape(), e.getValue())) {
                wrong.add(e.getKey() + " " + Arrays.toString(t.shape()) + " (expected " + Arrays.toString(e.getValue()) + ")");
            }
        }
        for (String k : sd.tensors().keySet()) if (!want.containsKey(k)) unexpected.add(k);
        if (missing.isEmpty() && wrong.isEmpty() && unexpected.isEmpty()) return;
        StringBuilder b = new StringBuilder("checkpoint does not match " + c.architecture() + " (embed " + c.embedDim()
                + ", depth " + c.depth() + ", heads " + c.numHeads() + ", " + c.numClasses() + " classes)");
        section(b, "wrong shape", wrong);
        section(b, "missing", missing);
        section(b, "unexpected", unexpected);
        throw VitrimException.of(where, b.toString());
    }

    private static void section(StringBuilder b, String what, List<String> items) {
        if (items.isEmpty()) return;
        b.append("; ").append(items.size()).append(' ').append(what).append(": ");
        int show = Math.min(items.size(), 6);
        b.append(String.join(", ", items.subList(0, show)));
        if (items.size() > show) b.append(", ...");
    }

    private static boolean sameShape(String key, int[] a, int[] b) {
        if (Arrays.equals(a, b)) return true;
        boolean token = key.equals("cls_token") || key.equals("dist_token") || key.equals("pos_embed");
        return token && Arrays.equals(squeeze(a), squeeze(b));
    }

    private static int[] squeeze(int[] s) {
        return Arrays.stream(s).filter(x -> x != 1).toArray();
    }
}
