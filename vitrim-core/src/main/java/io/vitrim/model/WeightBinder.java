package io.vitrim.model;

import io.vitrim.config.ViTConfig;
import io.vitrim.VitrimException;
import io.vitrim.reduce.Method;
import io.vitrim.reduce.Methods;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one place where checkpoint keys are bound, in three namespaces:
 * <ul>
 *   <li>the ViT's own — timm's names and shapes ({@code patch_embed.*}, {@code blocks.{i}.*},
 *       {@code norm.*} / {@code fc_norm.*}, {@code head.*}, {@code head_dist.*}; docs/models.md);</li>
 *   <li>a token-reduction method's ({@link Method#weights}, e.g. LTMP's
 *       {@code blocks.{i}.merge_masker.threshold}, Cropr's {@code cropr.{k}.*}) — optional, and
 *       keys a method marks training-only are accepted and listed but unused at inference;</li>
 *   <li>a task head's (a segmentation decoder), declared by the task.</li>
 * </ul>
 * Strict: a missing ViT key, a wrong shape or a key no namespace knows is an error that lists
 * them. A checkpoint that carries a method's weights therefore loads for every spec.
 */
public final class WeightBinder {
    private WeightBinder() {}

    /** The bound weights: every tensor as a {@link Param}, by namespace, in checkpoint order. */
    public record Weights(Map<String, Param> vit, Map<String, Param> method, Map<String, Param> task, List<String> trainingOnly) {
        /** The ViT parameter {@code name} (never null: binding checked it). */
        public Param get(String name) {
            Param p = vit.get(name);
            if (p == null) throw new IllegalStateException("no weight " + name);
            return p;
        }

        /** The method weights as plain tensors, for {@link io.vitrim.reduce.Methods#parse}. */
        public Map<String, float[]> methodValues() {
            Map<String, float[]> m = new LinkedHashMap<>();
            for (Param p : method.values()) m.put(p.name, p.value);
            return m;
        }

        /** All parameters (ViT, method, task) in checkpoint order. */
        public List<Param> all() {
            List<Param> l = new ArrayList<>(vit.values());
            l.addAll(method.values());
            l.addAll(task.values());
            return l;
        }
    }

    /**
     * Checks {@code sd} strictly and binds it (the tensors are shared, not copied).
     *
     * @param taskKeys a task head's keys with their shapes (empty for classification)
     */
    public static Weights bind(ViTConfig c, StateDict sd, Map<String, int[]> taskKeys, Object where) {
        check(c, sd, taskKeys, where);
        Map<String, Param> vit = new LinkedHashMap<>(), method = new LinkedHashMap<>(), task = new LinkedHashMap<>();
        Map<String, Method.WeightKey> methodKeys = methodKeys(c);
        List<String> trainingOnly = new ArrayList<>();
        Map<String, int[]> own = vitKeys(c);
        for (String k : own.keySet()) {
            StateDict.Tensor t = sd.get(k);
            vit.put(k, new Param(k, own.get(k), t.data()));
        }
        for (Map.Entry<String, StateDict.Tensor> e : sd.tensors().entrySet()) {
            String k = e.getKey();
            if (own.containsKey(k)) continue;
            Method.WeightKey mk = methodKeys.get(k);
            if (mk != null) {
                method.put(k, new Param(k, e.getValue().shape(), e.getValue().data()));
                if (mk.trainingOnly()) trainingOnly.add(k);
            } else {
                task.put(k, new Param(k, taskKeys.get(k), e.getValue().data()));
            }
        }
        return new Weights(vit, method, task, trainingOnly);
    }

    /** Every method key of every registered method for this model, by name. */
    static Map<String, Method.WeightKey> methodKeys(ViTConfig c) {
        Map<String, Method.WeightKey> m = new LinkedHashMap<>();
        for (Method method : Methods.methods().values()) for (Method.WeightKey k : method.weights(c)) m.put(k.name(), k);
        return m;
    }

    /** Every key of the ViT's own namespace, with its shape, in checkpoint order. */
    public static Map<String, int[]> vitKeys(ViTConfig c) {
        int d = c.embedDim(), p = c.patchSize(), h = c.mlpHidden(), k = c.numClasses();
        Map<String, int[]> m = new LinkedHashMap<>();
        if (c.classToken()) m.put("cls_token", new int[] {1, 1, d});
        if (c.regTokens() > 0) m.put("reg_token", new int[] {1, c.regTokens(), d});
        if (c.distToken()) m.put("dist_token", new int[] {1, 1, d});
        m.put("pos_embed", new int[] {1, c.posEmbedTokens(), d});
        m.put("patch_embed.proj.weight", new int[] {d, c.inChans(), p, p});
        if (!c.preNorm()) m.put("patch_embed.proj.bias", new int[] {d}); // CLIP's patch conv has none
        if (c.preNorm()) {
            m.put("norm_pre.weight", new int[] {d});
            m.put("norm_pre.bias", new int[] {d});
        }
        for (int i = 0; i < c.depth(); i++) {
            String b = "blocks." + i + ".";
            if (c.eva() != null) {
                evaBlockKeys(c, b, m);
                continue;
            }
            m.put(b + "norm1.weight", new int[] {d});
            m.put(b + "norm1.bias", new int[] {d});
            m.put(b + "attn.qkv.weight", new int[] {3 * d, d});
            if (c.qkvBias()) m.put(b + "attn.qkv.bias", new int[] {3 * d});
            m.put(b + "attn.proj.weight", new int[] {d, d});
            m.put(b + "attn.proj.bias", new int[] {d});
            if (c.layerScale()) m.put(b + "ls1.gamma", new int[] {d});
            m.put(b + "norm2.weight", new int[] {d});
            m.put(b + "norm2.bias", new int[] {d});
            m.put(b + "mlp.fc1.weight", new int[] {c.fc1Width(), d});
            m.put(b + "mlp.fc1.bias", new int[] {c.fc1Width()});
            m.put(b + "mlp.fc2.weight", new int[] {d, h});
            m.put(b + "mlp.fc2.bias", new int[] {d});
            if (c.layerScale()) m.put(b + "ls2.gamma", new int[] {d});
        }
        String norm = c.fcNorm() ? "fc_norm" : "norm";
        m.put(norm + ".weight", new int[] {d});
        m.put(norm + ".bias", new int[] {d});
        if (c.globalPool() == ViTConfig.Pool.MAP) {
            // timm's AttentionPoolLatent (SigLIP's MAP head): one latent query, its own MLP of the blocks' width
            m.put("attn_pool.latent", new int[] {1, 1, d});
            m.put("attn_pool.q.weight", new int[] {d, d});
            m.put("attn_pool.q.bias", new int[] {d});
            m.put("attn_pool.kv.weight", new int[] {2 * d, d});
            m.put("attn_pool.kv.bias", new int[] {2 * d});
            m.put("attn_pool.proj.weight", new int[] {d, d});
            m.put("attn_pool.proj.bias", new int[] {d});
            m.put("attn_pool.norm.weight", new int[] {d});
            m.put("attn_pool.norm.bias", new int[] {d});
            m.put("attn_pool.mlp.fc1.weight", new int[] {h, d});
            m.put("attn_pool.mlp.fc1.bias", new int[] {h});
            m.put("attn_pool.mlp.fc2.weight", new int[] {d, h});
            m.put("attn_pool.mlp.fc2.bias", new int[] {d});
        }
        if (k > 0) {
            m.put("head.weight", new int[] {k, d});
            m.put("head.bias", new int[] {k});
        }
        if (c.distToken()) {
            m.put("head_dist.weight", new int[] {k, d});
            m.put("head_dist.bias", new int[] {k});
        }
        return m;
    }

    /**
     * One {@code EvaBlock}'s keys in timm's order: no k bias (a fused {@code qkv} carries
     * {@code q_bias}/{@code v_bias}, separate projections a {@code k_proj} without bias), the
     * sub-LNs {@code attn.norm} and {@code mlp.norm} when configured, and SwiGLU's first layer as
     * one packed {@code mlp.fc1} ([gate; value]) or, with {@code mlp.norm}, as {@code fc1_g} + {@code fc1_x}
     * (a GELU MLP's plain {@code mlp.fc1}); post-norm blocks list each norm after its branch.
     */
    private static void evaBlockKeys(ViTConfig c, String b, Map<String, int[]> m) {
        int d = c.embedDim(), h = c.mlpHidden();
        ViTConfig.Eva e = c.eva();
        if (!e.postNorm()) {
            m.put(b + "norm1.weight", new int[] {d});
            m.put(b + "norm1.bias", new int[] {d});
        }
        if (e.qkvFused()) {
            if (c.qkvBias()) {
                m.put(b + "attn.q_bias", new int[] {d});
                m.put(b + "attn.v_bias", new int[] {d});
            }
            m.put(b + "attn.qkv.weight", new int[] {3 * d, d});
        } else {
            m.put(b + "attn.q_proj.weight", new int[] {d, d});
            if (c.qkvBias()) m.put(b + "attn.q_proj.bias", new int[] {d});
            m.put(b + "attn.k_proj.weight", new int[] {d, d});
            m.put(b + "attn.v_proj.weight", new int[] {d, d});
            if (c.qkvBias()) m.put(b + "attn.v_proj.bias", new int[] {d});
        }
        if (e.scaleAttnInner()) {
            m.put(b + "attn.norm.weight", new int[] {d});
            m.put(b + "attn.norm.bias", new int[] {d});
        }
        m.put(b + "attn.proj.weight", new int[] {d, d});
        m.put(b + "attn.proj.bias", new int[] {d});
        m.put(b + (e.postNorm() ? "norm1" : "norm2") + ".weight", new int[] {d}); // post-norm: timm's order of modules
        m.put(b + (e.postNorm() ? "norm1" : "norm2") + ".bias", new int[] {d});
        if (!e.swiglu()) {
            m.put(b + "mlp.fc1.weight", new int[] {h, d});
            m.put(b + "mlp.fc1.bias", new int[] {h});
        } else if (e.scaleMlp()) {
            m.put(b + "mlp.fc1_g.weight", new int[] {h, d});
            m.put(b + "mlp.fc1_g.bias", new int[] {h});
            m.put(b + "mlp.fc1_x.weight", new int[] {h, d});
            m.put(b + "mlp.fc1_x.bias", new int[] {h});
            m.put(b + "mlp.norm.weight", new int[] {h});
            m.put(b + "mlp.norm.bias", new int[] {h});
        } else {
            m.put(b + "mlp.fc1.weight", new int[] {2 * h, d});
            m.put(b + "mlp.fc1.bias", new int[] {2 * h});
        }
        m.put(b + "mlp.fc2.weight", new int[] {d, h});
        m.put(b + "mlp.fc2.bias", new int[] {d});
        if (e.postNorm()) {
            m.put(b + "norm2.weight", new int[] {d});
            m.put(b + "norm2.bias", new int[] {d});
        }
    }

    /**
     * Fails with one message listing missing keys, unexpected keys and wrong shapes (a few of
     * each, with counts). Token and position embeddings may
     * omit their leading 1-dimensions ({@code [C]} for {@code [1,1,C]}).
     */
    public static void check(ViTConfig c, StateDict sd, Object where) {
        check(c, sd, Map.of(), where);
    }

    /** As {@link #check(ViTConfig, StateDict, Object)}, also accepting a task head's keys. */
    public static void check(ViTConfig c, StateDict sd, Map<String, int[]> taskKeys, Object where) {
        Map<String, int[]> want = vitKeys(c);
        Map<String, Method.WeightKey> methodKeys = methodKeys(c);
        List<String> missing = new ArrayList<>(), wrong = new ArrayList<>(), unexpected = new ArrayList<>();
        for (Map.Entry<String, int[]> e : want.entrySet()) {
            StateDict.Tensor t = sd.get(e.getKey());
            if (t == null) missing.add(e.getKey());
            else if (!sameShape(e.getKey(), t.shape(), e.getValue())) {
                wrong.add(e.getKey() + " " + Arrays.toString(t.shape()) + " (expected " + Arrays.toString(e.getValue()) + ")");
            }
        }
        for (Map.Entry<String, StateDict.Tensor> e : sd.tensors().entrySet()) {
            String k = e.getKey();
            if (want.containsKey(k)) continue;
            Method.WeightKey mk = methodKeys.get(k);
            int[] shape = mk != null ? mk.shape() : taskKeys.get(k);
            if (shape == null) unexpected.add(k);
            else if (mk != null ? !mk.fits(e.getValue().shape()) : !Arrays.equals(e.getValue().shape(), shape)) {
                wrong.add(k + " " + Arrays.toString(e.getValue().shape()) + " (expected " + Arrays.toString(shape) + ")");
            } else if (mk != null) {
                for (float v : e.getValue().data()) {
                    if (!(v >= mk.min() && v <= mk.max())) {
                        throw VitrimException.of(where, k + " is " + v + ", outside [" + fmt(mk.min()) + ", " + fmt(mk.max()) + "]");
                    }
                }
            }
        }
        if (missing.isEmpty() && wrong.isEmpty() && unexpected.isEmpty()) return;
        StringBuilder b = new StringBuilder("checkpoint does not match " + c.architecture() + " (embed " + c.embedDim()
                + ", depth " + c.depth() + ", heads " + c.numHeads() + ", " + c.numClasses() + " classes)");
        section(b, "wrong shape", wrong);
        section(b, "missing", missing);
        section(b, "unexpected", unexpected);
        throw VitrimException.of(where, b.toString());
    }

    /**
     * Checks a side file of method weights (e.g. learned thresholds kept apart from the model):
     * every tensor must be a method key of this model, of its shape and in its range. Returns
     * the values by name.
     */
    public static Map<String, float[]> checkMethodWeights(ViTConfig c, StateDict sd, Object where) {
        Map<String, Method.WeightKey> methodKeys = methodKeys(c);
        Map<String, float[]> out = new LinkedHashMap<>();
        if (sd.tensors().isEmpty()) throw VitrimException.of(where, "holds no method weights");
        for (Map.Entry<String, StateDict.Tensor> e : sd.tensors().entrySet()) {
            String k = e.getKey();
            Method.WeightKey mk = methodKeys.get(k);
            if (mk == null) {
                throw VitrimException.of(where, k + " is not a method weight of this model (depth " + c.depth()
                        + "); is the file for another model?");
            }
            if (!mk.fits(e.getValue().shape())) {
                throw VitrimException.of(where, k + " has shape " + Arrays.toString(e.getValue().shape()) + ", expected " + Arrays.toString(mk.shape()));
            }
            for (float v : e.getValue().data()) {
                if (!(v >= mk.min() && v <= mk.max())) {
                    throw VitrimException.of(where, k + " is " + v + ", outside [" + fmt(mk.min()) + ", " + fmt(mk.max()) + "]");
                }
            }
            out.put(k, e.getValue().data());
        }
        return out;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? String.valueOf((long) d) : String.valueOf(d);
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
        boolean token = key.equals("cls_token") || key.equals("dist_token") || key.equals("reg_token") || key.equals("pos_embed");
        return token && Arrays.equals(squeeze(a), squeeze(b));
    }

    private static int[] squeeze(int[] s) {
        return Arrays.stream(s).filter(x -> x != 1).toArray();
    }
}
