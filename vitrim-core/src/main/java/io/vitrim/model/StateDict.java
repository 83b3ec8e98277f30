package io.vitrim.model;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** Named float tensors in timm's key space — what a checkpoint holds, before binding. */
public final class StateDict {
    /** One tensor: row-major data and its shape. */
    public record Tensor(float[] data, int[] shape) {
        public Tensor {
            long n = 1;
            for (int d : shape) n *= d;
            if (n != data.length) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not match " + data.length + " values");
        }

        public String shapeString() {
            return Arrays.toString(shape);
        }
    }

    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    public StateDict put(String name, float[] data, int... shape) {
        tensors.put(name, new Tensor(data, shape));
        return this;
    }

    public Tensor get(String name) {
        return tensors.get(name);
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    public Map<String, Tensor> tensors() {
        return Collections.unmodifiableMap(tensors);
    }

    /** A deep copy (the tensors' data copied), in the same order. */
    public StateDict copy() {
        StateDict c = new StateDict();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) c.put(e.getKey(), e.getValue().data().clone(), e.getValue().shape());
        return c;
    }

    public Tensor remove(String name) {
        return tensors.remove(name);
    }
}
