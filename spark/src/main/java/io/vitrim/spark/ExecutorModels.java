package io.vitrim.spark;

import io.vitrim.io.ModelLoader;
import io.vitrim.io.SideWeights;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One loaded model per executor JVM, loaded on the first task that needs it and shared by all
 * task threads after it (a {@link VisionTransformer} serves concurrent calls; a call that finds
 * its thread pool busy runs on the caller's thread). Reducers are cached per spec the same way.
 */
public final class ExecutorModels {
    private static final Map<String, VisionTransformer> MODELS = new ConcurrentHashMap<>();
    private static final Map<String, TokenReducer> REDUCERS = new ConcurrentHashMap<>();

    private ExecutorModels() {}

    /** The model of {@code spec}, loaded once per JVM. */
    public static VisionTransformer model(JobSpec spec) {
        return MODELS.computeIfAbsent(spec.modelKey(), k -> ModelLoader.load(Path.of(spec.model()), spec.arch(), spec.threads()));
    }

    /** The reducer of {@code spec} on its model (side files such as {@code ltmp:file=...} read once). */
    public static TokenReducer reducer(JobSpec spec) {
        VisionTransformer m = model(spec);
        return REDUCERS.computeIfAbsent(spec.modelKey() + "|" + spec.reduce(), k -> SideWeights.reducer(m, spec.reduce()));
    }

    /** Closes and forgets every cached model (the end of a local run, tests). */
    public static synchronized void closeAll() {
        REDUCERS.clear();
        for (VisionTransformer m : MODELS.values()) m.close();
        MODELS.clear();
    }
}
