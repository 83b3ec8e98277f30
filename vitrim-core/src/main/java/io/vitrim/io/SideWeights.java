package io.vitrim.io;

import io.vitrim.VitrimException;
import io.vitrim.model.StateDict;
import io.vitrim.model.VisionTransformer;
import io.vitrim.model.WeightBinder;
import io.vitrim.reduce.TokenReducer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Method weights kept beside a model instead of inside it (docs/methods.md, LTMP): a small
 * safetensors file of method keys only — e.g. the 2·L thresholds {@code vitrim finetune
 * --method ltmp} learns for one target — so one base model serves several. A spec names it
 * with the option {@code file=PATH} ({@code ltmp:file=ltmp-0.75/thresholds.safetensors}); its
 * values take precedence over the checkpoint's. The path may not contain a comma (the spec's
 * separator).
 */
public final class SideWeights {
    private SideWeights() {}

    /** The largest side file read (method weights are a few numbers per block). */
    public static final long MAX_BYTES = 16L << 20;

    /** The reducer for {@code spec} on {@code model}, reading a {@code file=} option if there is one. */
    public static TokenReducer reducer(VisionTransformer model, String spec) {
        Split s = split(spec);
        if (s.file == null) return model.reducer(spec);
        // the method sees the whole spec (its file knob names the source in reports), and the file's values
        return model.reducer(spec, read(s.file, model));
    }

    /** The path a spec's {@code file=} option names, or null without one. */
    public static Path file(String spec) {
        return split(spec).file;
    }

    /** A spec with its {@code file=} option taken out (the method's other options stay). */
    record Split(String rest, Path file) {}

    static Split split(String spec) {
        int colon = spec.indexOf(':');
        if (colon < 0) return new Split(spec, null);
        List<String> keep = new ArrayList<>();
        Path file = null;
        for (String opt : spec.substring(colon + 1).split(",")) {
            if (opt.trim().startsWith("file=")) {
                String f = opt.trim().substring(5).trim();
                if (f.isEmpty()) throw new VitrimException(spec + ": file= needs a path");
                if (file != null) throw new VitrimException(spec + ": file= given twice");
                file = Path.of(f);
            } else if (!opt.isBlank()) {
                keep.add(opt);
            }
        }
        String name = spec.substring(0, colon);
        return new Split(keep.isEmpty() ? name : name + ":" + String.join(",", keep), file);
    }

    /** Reads and checks a side file against {@code model}'s method keys. */
    public static Map<String, float[]> read(Path file, VisionTransformer model) {
        if (!Files.isRegularFile(file)) throw VitrimException.of(file, "no such file (a method-weights file, e.g. thresholds.safetensors)");
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw VitrimException.of(file, Files.size(file) + " bytes: larger than a method-weights file may be (" + MAX_BYTES + ")");
            }
        } catch (IOException e) {
            throw VitrimException.of(file, "cannot read: " + e.getMessage());
        }
        StateDict sd = ModelLoader.readTensors(file);
        return WeightBinder.checkMethodWeights(model.config(), sd, file);
    }

    /** Writes method weights (one-value tensors and the like) with metadata, atomically. */
    public static void write(Path file, Map<String, float[]> weights, Map<String, String> metadata) throws IOException {
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        for (Map.Entry<String, float[]> e : weights.entrySet()) {
            t.put(e.getKey(), new SafeTensors.Tensor(e.getValue(), new long[] {e.getValue().length}));
        }
        SafeTensors.write(file, t, metadata);
    }
}
