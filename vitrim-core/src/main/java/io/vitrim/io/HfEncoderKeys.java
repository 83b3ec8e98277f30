package io.vitrim.io;

import io.vitrim.VitrimException;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.StateDict;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Hugging Face transformers DINOv2 ({@code Dinov2Model}, {@code Dinov2WithRegistersModel}) and
 * CLIP vision ({@code CLIPVisionModel[WithProjection]}) key names → timm's, so one model runs
 * them. Where the layouts differ in more than names:
 * <ul>
 *   <li>DINOv2 with registers: transformers adds the class token's position row and inserts the
 *       registers without one; that is timm's {@code no_embed_class} layout after
 *       {@code cls_token += pos_embed[0]}, {@code pos_embed = pos_embed[1:]} (as timm converts it);</li>
 *   <li>DINOv2 giant ({@code use_swiglu_ffn}): {@code mlp.weights_in} / {@code weights_out} are
 *       timm's packed SwiGLU {@code mlp.fc1} / {@code fc2} (gate first), of gated width
 *       {@code (int(int(C · mlp_ratio) · 2/3) + 7) // 8 · 8};</li>
 *   <li>CLIP: {@code class_embedding [C]} and {@code position_embedding.weight [N, C]} gain their
 *       leading 1-dimensions; {@code visual_projection} (no bias) becomes the head with a zero bias.</li>
 * </ul>
 * Training-only or text-tower tensors ({@code mask_token}, {@code text_model.*},
 * {@code text_projection}, {@code logit_scale}, {@code position_ids}) are dropped; anything else
 * unknown is reported.
 */
final class HfEncoderKeys {
    private HfEncoderKeys() {}

    static StateDict dinov2(StateDict hf, ViTConfig c, Path where) {
        StateDict sd = new StateDict();
        String p = hf.has("dinov2.embeddings.cls_token") ? "dinov2." : "";
        hf.remove(p + "embeddings.mask_token");
        StateDict.Tensor cls = hf.remove(p + "embeddings.cls_token");
        StateDict.Tensor pos = hf.remove(p + "embeddings.position_embeddings");
        StateDict.Tensor reg = hf.remove(p + "embeddings.register_tokens");
        int d = c.embedDim();
        if (cls != null && pos != null && reg != null) {
            float[] cv = cls.data().clone();
            for (int j = 0; j < d && j < pos.data().length; j++) cv[j] += pos.data()[j];
            sd.put("cls_token", cv, cls.shape());
            sd.put("reg_token", reg.data(), reg.shape());
            int rows = pos.data().length / d - 1;
            sd.put("pos_embed", java.util.Arrays.copyOfRange(pos.data(), d, pos.data().length), 1, rows, d);
        } else {
            if (cls != null) sd.put("cls_token", cls.data(), cls.shape());
            if (pos != null) sd.put("pos_embed", pos.data(), pos.shape());
            if (reg != null) sd.put("reg_token", reg.data(), reg.shape());
        }
        HfVitKeys.move(hf, sd, p + "embeddings.patch_embeddings.projection.weight", "patch_embed.proj.weight");
        HfVitKeys.move(hf, sd, p + "embeddings.patch_embeddings.projection.bias", "patch_embed.proj.bias");
        HfVitKeys.move(hf, sd, p + "layernorm.weight", "norm.weight");
        HfVitKeys.move(hf, sd, p + "layernorm.bias", "norm.bias");
        for (int i = 0; i < c.depth(); i++) {
            String h = p + "encoder.layer." + i + ".", t = "blocks." + i + ".";
            HfVitKeys.concat(hf, sd, t + "attn.qkv.weight", h + "attention.attention.", ".weight", where);
            if (c.qkvBias()) HfVitKeys.concat(hf, sd, t + "attn.qkv.bias", h + "attention.attention.", ".bias", where);
            HfVitKeys.move(hf, sd, h + "attention.output.dense.weight", t + "attn.proj.weight");
            HfVitKeys.move(hf, sd, h + "attention.output.dense.bias", t + "attn.proj.bias");
            for (String n : new String[] {"norm1", "norm2", "mlp.fc1", "mlp.fc2"}) {
                HfVitKeys.move(hf, sd, h + n + ".weight", t + n + ".weight");
                HfVitKeys.move(hf, sd, h + n + ".bias", t + n + ".bias");
            }
            // the giant's SwiGLU FFN: weights_in is [gate; value] as timm's packed fc1
            for (String[] n : new String[][] {{"mlp.weights_in", "mlp.fc1"}, {"mlp.weights_out", "mlp.fc2"}}) {
                HfVitKeys.move(hf, sd, h + n[0] + ".weight", t + n[1] + ".weight");
                HfVitKeys.move(hf, sd, h + n[0] + ".bias", t + n[1] + ".bias");
            }
            HfVitKeys.move(hf, sd, h + "layer_scale1.lambda1", t + "ls1.gamma");
            HfVitKeys.move(hf, sd, h + "layer_scale2.lambda1", t + "ls2.gamma");
        }
        rest(hf, where, "Dinov2Model");
        return sd;
    }

    static StateDict clipVision(StateDict hf, ViTConfig c, Path where) {
        StateDict sd = new StateDict();
        String p = "vision_model.";
        int d = c.embedDim();
        StateDict.Tensor cls = hf.remove(p + "embeddings.class_embedding");
        if (cls != null) sd.put("cls_token", cls.data(), 1, 1, cls.data().length);
        StateDict.Tensor pos = hf.remove(p + "embeddings.position_embedding.weight");
        if (pos != null) sd.put("pos_embed", pos.data(), 1, pos.data().length / d, d);
        hf.remove(p + "embeddings.position_ids");
        HfVitKeys.move(hf, sd, p + "embeddings.patch_embedding.weight", "patch_embed.proj.weight");
        HfVitKeys.move(hf, sd, p + "pre_layrnorm.weight", "norm_pre.weight"); // sic: transformers' spelling
        HfVitKeys.move(hf, sd, p + "pre_layrnorm.bias", "norm_pre.bias");
        HfVitKeys.move(hf, sd, p + "post_layernorm.weight", "norm.weight");
        HfVitKeys.move(hf, sd, p + "post_layernorm.bias", "norm.bias");
        for (int i = 0; i < c.depth(); i++) {
            String h = p + "encoder.layers." + i + ".", t = "blocks." + i + ".";
            qkv(hf, sd, t + "attn.qkv.weight", h + "self_attn.", ".weight", where);
            qkv(hf, sd, t + "attn.qkv.bias", h + "self_attn.", ".bias", where);
            HfVitKeys.move(hf, sd, h + "self_attn.out_proj.weight", t + "attn.proj.weight");
            HfVitKeys.move(hf, sd, h + "self_attn.out_proj.bias", t + "attn.proj.bias");
            HfVitKeys.move(hf, sd, h + "layer_norm1.weight", t + "norm1.weight");
            HfVitKeys.move(hf, sd, h + "layer_norm1.bias", t + "norm1.bias");
            HfVitKeys.move(hf, sd, h + "layer_norm2.weight", t + "norm2.weight");
            HfVitKeys.move(hf, sd, h + "layer_norm2.bias", t + "norm2.bias");
            for (String n : new String[] {"fc1", "fc2"}) {
                HfVitKeys.move(hf, sd, h + "mlp." + n + ".weight", t + "mlp." + n + ".weight");
                HfVitKeys.move(hf, sd, h + "mlp." + n + ".bias", t + "mlp." + n + ".bias");
            }
        }
        StateDict.Tensor proj = hf.remove("visual_projection.weight");
        if (proj != null) {
            sd.put("head.weight", proj.data(), proj.shape());
            sd.put("head.bias", new float[proj.shape()[0]], proj.shape()[0]);
        }
        // a full CLIP checkpoint also holds the text tower: not an image encoder's, dropped on purpose
        for (String k : new ArrayList<>(hf.tensors().keySet())) {
            if (k.startsWith("text_model.") || k.equals("text_projection.weight") || k.equals("logit_scale")) hf.remove(k);
        }
        rest(hf, where, "CLIPVisionModel");
        return sd;
    }

    /** CLIP's separate q/k/v projections, fused in timm's order [q; k; v]. */
    private static void qkv(StateDict from, StateDict to, String dst, String base, String suffix, Path where) {
        for (String n : new String[] {"q", "k", "v"}) {
            StateDict.Tensor t = from.remove(base + n + "_proj" + suffix);
            if (t != null) from.put(base + (n.equals("q") ? "query" : n.equals("k") ? "key" : "value") + suffix, t.data(), t.shape());
        }
        HfVitKeys.concat(from, to, dst, base, suffix, where);
    }

    private static void rest(StateDict hf, Path where, String what) {
        List<String> left = new ArrayList<>(hf.tensors().keySet());
        if (!left.isEmpty()) {
            throw VitrimException.of(where, "checkpoint does not match the Hugging Face " + what + " config; " + left.size() + " unexpected: "
                    + String.join(", ", left.subList(0, Math.min(6, left.size()))) + (left.size() > 6 ? ", ..." : ""));
        }
    }
}
