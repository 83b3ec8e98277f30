package io.vitrim.io;

import io.vitrim.VitrimException;
import io.vitrim.model.StateDict;
import io.vitrim.config.ViTConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Hugging Face transformers ViT key names → timm key names. Query, key and value projections
 * are concatenated into timm's fused {@code attn.qkv}. Strict: unknown keys are reported.
 */
final class HfVitKeys {
    private HfVitKeys() {}

    static StateDict toTimm(StateDict hf, ViTConfig c, Path where) {
        StateDict sd = new StateDict();
        String prefix = hf.has("vit.embeddings.cls_token") ? "vit." : "";
        move(hf, sd, prefix + "embeddings.cls_token", "cls_token");
        move(hf, sd, prefix + "embeddings.position_embeddings", "pos_embed");
        move(hf, sd, prefix + "embeddings.patch_embeddings.projection.weight", "patch_embed.proj.weight");
        move(hf, sd, prefix + "embeddings.patch_embeddings.projection.bias", "patch_embed.proj.bias");
        move(hf, sd, prefix + "layernorm.weight", "norm.weight");
        move(hf, sd, prefix + "layernorm.bias", "norm.bias");
        move(hf, sd, "classifier.weight", "head.weight");
        move(hf, sd, "classifier.bias", "head.bias");
        for (int i = 0; i < c.depth(); i++) {
            String h = prefix + "encoder.layer." + i + ".", t = "blocks." + i + ".";
            concat(hf, sd, t + "attn.qkv.weight", h + "attention.attention.", ".weight", where);
            if (c.qkvBias()) concat(hf, sd, t + "attn.qkv.bias", h + "attention.attention.", ".bias", where);
            move(hf, sd, h + "attention.output.dense.weight", t + "attn.proj.weight");
            move(hf, sd, h + "attention.output.dense.bias", t + "attn.proj.bias");
            move(hf, sd, h + "intermediate.dense.weight", t + "mlp.fc1.weight");
            move(hf, sd, h + "intermediate.dense.bias", t + "mlp.fc1.bias");
            move(hf, sd, h + "output.dense.weight", t + "mlp.fc2.weight");
            move(hf, sd, h + "output.dense.bias", t + "mlp.fc2.bias");
            move(hf, sd, h + "layernorm_before.weight", t + "norm1.weight");
            move(hf, sd, h + "layernorm_before.bias", t + "norm1.bias");
            move(hf, sd, h + "layernorm_after.weight", t + "norm2.weight");
            move(hf, sd, h + "layernorm_after.bias", t + "norm2.bias");
        }
        List<String> left = new ArrayList<>(hf.tensors().keySet());
        if (!left.isEmpty()) {
            throw VitrimException.of(where, "checkpoint does not match the Hugging Face ViT config; " + left.size() + " unexpected: "
                    + String.join(", ", left.subList(0, Math.min(6, left.size()))) + (left.size() > 6 ? ", ..." : ""));
        }
        return sd;
    }

    static void move(StateDict from, StateDict to, String src, String dst) {
        StateDict.Tensor t = from.remove(src);
        if (t != null) to.put(dst, t.data(), t.shape());
    }

    /** Concatenates query, key, value along the output dimension (timm's [3C, ...] layout). */
    static void concat(StateDict from, StateDict to, String dst, String base, String suffix, Path where) {
        StateDict.Tensor q = from.remove(base + "query" + suffix);
        StateDict.Tensor k = from.remove(base + "key" + suffix);
        StateDict.Tensor v = from.remove(base + "value" + suffix);
        if (q == null || k == null || v == null) return; // reported as missing by WeightBinder.check
        if (q.data().length != k.data().length || q.data().length != v.data().length) {
            throw VitrimException.of(where, base + "{query,key,value}" + suffix + " have different shapes");
        }
        int n = q.data().length;
        float[] out = new float[3 * n];
        System.arraycopy(q.data(), 0, out, 0, n);
        System.arraycopy(k.data(), 0, out, n, n);
        System.arraycopy(v.data(), 0, out, 2 * n, n);
        int[] shape = q.shape().clone();
        shape[0] *= 3;
        to.put(dst, out, shape);
    }
}
