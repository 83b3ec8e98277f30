package io.vitrim.io;

import io.vitrim.config.PreprocessConfig;
import io.vitrim.model.StateDict;
import io.vitrim.config.ViTConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a model folder as timm publishes one on the Hugging Face hub — {@code config.json}
 * ({@code architecture}, {@code num_classes}, {@code global_pool}, {@code model_args},
 * {@code pretrained_cfg}, {@code label_names}) and {@code model.safetensors} — so that vitrim's
 * {@link ModelLoader} and Python timm can both load it.
 */
public final class ModelFolder {
    private ModelFolder() {}

    public static Map<String, Object> configJson(ViTConfig c, PreprocessConfig p, List<String> labels) {
        // vitrim writes folders of models it trained, and it trains no EVA model
        if (c.eva() != null || c.gated()) throw new IllegalArgumentException("writing an EVA or SwiGLU model folder is not supported");
        Map<String, Object> args = new LinkedHashMap<>();
        args.put("img_size", c.imgHeight() == c.imgWidth() ? (Object) c.imgHeight() : List.of(c.imgHeight(), c.imgWidth()));
        args.put("patch_size", c.patchSize());
        args.put("embed_dim", c.embedDim());
        args.put("depth", c.depth());
        args.put("num_heads", c.numHeads());
        args.put("mlp_ratio", (double) c.mlpHidden() / c.embedDim());
        args.put("qkv_bias", c.qkvBias());
        args.put("class_token", c.classToken());
        args.put("global_pool", c.globalPool().timmName());
        args.put("fc_norm", c.fcNorm());
        Map<String, Object> pre = new LinkedHashMap<>();
        pre.put("input_size", List.of(3, p.inputHeight(), p.inputWidth()));
        pre.put("interpolation", p.interpolation().name().toLowerCase(java.util.Locale.ROOT));
        pre.put("crop_pct", p.cropPct());
        pre.put("crop_mode", "center");
        pre.put("mean", floats(p.mean()));
        pre.put("std", floats(p.std()));
        pre.put("num_classes", c.numClasses());
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("architecture", c.architecture());
        cfg.put("num_classes", c.numClasses());
        cfg.put("num_features", c.embedDim());
        cfg.put("global_pool", c.globalPool().timmName());
        cfg.put("model_args", args);
        cfg.put("pretrained_cfg", pre);
        if (labels != null) cfg.put("label_names", labels);
        return cfg;
    }

    private static List<Object> floats(float[] v) {
        List<Object> l = new ArrayList<>();
        for (float f : v) l.add((double) f);
        return l;
    }

    /** Writes config.json and model.safetensors (each atomically). */
    public static void write(Path dir, ViTConfig c, PreprocessConfig p, List<String> labels, StateDict weights,
                             Map<String, String> metadata) throws IOException {
        write(dir, c, p, labels, weights, metadata, Map.of());
    }

    /** The {@code "segmentation"} entry of a segmentation model's config.json (pass it in {@code configExtras}). */
    public static Map<String, Object> segmentationEntry(io.vitrim.config.SegmentationConfig seg) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("num_classes", seg.numClasses());
        s.put("ignore_index", seg.ignoreIndex());
        java.util.List<Object> colors = new java.util.ArrayList<>();
        for (int[] c : seg.colors()) colors.add(java.util.List.of(c[0], c[1], c[2]));
        s.put("colors", colors);
        return Map.of("segmentation", s);
    }

    /**
     * As above, with extra top-level entries of config.json (a method's settings, e.g. Cropr's
     * {@code cropr_cfg}).
     */
    public static void write(Path dir, ViTConfig c, PreprocessConfig p, List<String> labels, StateDict weights,
                             Map<String, String> metadata, Map<String, Object> configExtras) throws IOException {
        Files.createDirectories(dir);
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        for (Map.Entry<String, StateDict.Tensor> e : weights.tensors().entrySet()) {
            int[] s = e.getValue().shape();
            long[] shape = new long[s.length];
            for (int i = 0; i < s.length; i++) shape[i] = s[i];
            t.put(e.getKey(), new SafeTensors.Tensor(e.getValue().data(), shape));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        if (metadata != null) meta.putAll(metadata);
        SafeTensors.write(dir.resolve("model.safetensors"), t, meta);
        Map<String, Object> cfg = configJson(c, p, labels);
        cfg.putAll(configExtras);
        AtomicFiles.writeString(dir.resolve("config.json"), Json.writePretty(cfg));
    }
}
