package io.vitrim.spark;

import io.vitrim.VitrimException;

import java.io.Serializable;

/**
 * What every task of a job needs to know, shipped from the driver to the executors.
 *
 * @param task      what each image gets: {@code classify} (top-k labels) or {@code embed} (the pooled embedding)
 * @param model     the model folder or .safetensors file, as a path each executor can read
 * @param arch      timm architecture for a bare .safetensors file (or null)
 * @param reduce    token reduction spec, e.g. {@code tome:r=8} ({@code none} for none)
 * @param batch     images per forward pass
 * @param topk      classes kept per image ({@code classify})
 * @param threads   compute threads of the executor's one model (tasks share it)
 */
public record JobSpec(Task task, String model, String arch, String reduce, int batch, int topk, int threads) implements Serializable {
    public enum Task { CLASSIFY, EMBED }

    public JobSpec {
        if (model == null || model.isBlank()) throw new VitrimException("no model: pass --model DIR|FILE");
        if (reduce == null || reduce.isBlank()) reduce = "none";
        if (batch < 1 || batch > 4096) throw new VitrimException("--batch " + batch + ": must be between 1 and 4096");
        if (topk < 1) throw new VitrimException("--topk " + topk + ": must be at least 1");
        if (threads < 1 || threads > 1024) throw new VitrimException("--threads " + threads + ": must be between 1 and 1024");
    }

    /** The cache key of the executor's model: tasks with the same key share one loaded model. */
    String modelKey() {
        return model + "|" + arch + "|" + threads;
    }
}
