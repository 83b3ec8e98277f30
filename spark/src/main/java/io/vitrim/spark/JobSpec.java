package io.vitrim.spark;

import io.vitrim.VitrimException;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Dense;

import java.io.Serializable;

/**
 * What every task of a job needs to know, shipped from the driver to the executors.
 *
 * @param task      what each image gets: {@code classify} (top-k labels), {@code embed} (the pooled
 *                  embedding) or {@code segment} (class shares and the mask as PNG)
 * @param model     the model folder or .safetensors file, as a path each executor can read
 * @param arch      timm architecture for a bare .safetensors file (or null)
 * @param reduce    token reduction spec, e.g. {@code tome:r=8} ({@code none} for none)
 * @param batch     images per forward pass
 * @param topk      classes kept per image ({@code classify})
 * @param threads   compute threads of the executor's one model (tasks share it)
 * @param restore   when pruned tokens come back ({@code segment}; null: after the last block)
 * @param ids       {@code segment}: also the class ids per pixel as an 8-bit grey PNG
 */
public record JobSpec(Task task, String model, String arch, String reduce, int batch, int topk, int threads,
                      Dense.Restore restore, boolean ids) implements Serializable {
    public enum Task { CLASSIFY, EMBED, SEGMENT }

    public JobSpec {
        if (model == null || model.isBlank()) throw new VitrimException("no model: pass --model DIR|FILE");
        if (reduce == null || reduce.isBlank()) reduce = "none";
        if (batch < 1 || batch > 4096) throw new VitrimException("--batch " + batch + ": must be between 1 and 4096");
        if (topk < 1) throw new VitrimException("--topk " + topk + ": must be at least 1");
        if (threads < 1 || threads > 1024) throw new VitrimException("--threads " + threads + ": must be between 1 and 1024");
        if (restore == null) restore = Dense.Restore.OUTPUT;
    }

    /** A classify or embed job (no segmentation options). */
    public JobSpec(Task task, String model, String arch, String reduce, int batch, int topk, int threads) {
        this(task, model, arch, reduce, batch, topk, threads, null, false);
    }

    /**
     * Whether {@code m} can do this job, checked by the driver before any task runs and by each
     * task (on a cluster the driver may not see the model): a one-line error when it cannot.
     */
    void check(VisionTransformer m) {
        if (m.preprocess() == null) throw VitrimException.of(model, "the model has no preprocessing config");
        switch (task) {
            case CLASSIFY -> {
                if (m.segmentation() != null) throw VitrimException.of(model, "a segmentation model (a class per pixel); use vitrim-spark segment");
                if (m.config().numClasses() == 0) {
                    throw VitrimException.of(model, "the model has no classifier head (a feature encoder); use vitrim-spark embed");
                }
            }
            case SEGMENT -> {
                if (m.segmentation() == null) {
                    throw VitrimException.of(model, "not a segmentation model (no 'segmentation' entry in its config.json); "
                            + "use vitrim-spark " + (m.config().numClasses() == 0 ? "embed" : "classify"));
                }
                // the ids PNG holds one byte per pixel
                if (ids && m.segmentation().numClasses() > 256) {
                    throw VitrimException.of(model, m.segmentation().numClasses() + " classes: --ids writes 8-bit class ids (at most 256 classes)");
                }
            }
            case EMBED -> { }
        }
    }

    /** The cache key of the executor's model: tasks with the same key share one loaded model. */
    String modelKey() {
        return model + "|" + arch + "|" + threads;
    }
}
