package io.vitrim.model;

/**
 * One weight tensor, named as its checkpoint key: the value, and — once training asks for it
 * ({@link #requireGrad}) — a gradient of the same shape. Inference never allocates gradients.
 * Weight decay applies to matrices only, not to biases, norms, tokens or the position embedding
 * (timm's {@code param_groups_weight_decay}).
 */
public final class Param {
    public final String name;
    public final int[] shape;
    public final float[] value;
    /** dL/dvalue, or null while the parameter is not trained. */
    public float[] grad;
    public final boolean decay;

    public Param(String name, int[] shape, float[] value) {
        long n = 1;
        for (int d : shape) n *= d;
        if (n != value.length) throw new IllegalArgumentException(name + ": shape does not match " + value.length + " values");
        this.name = name;
        this.shape = shape;
        this.value = value;
        this.decay = shape.length > 1 && !name.equals("pos_embed") && !name.equals("cls_token") && !name.equals("dist_token");
    }

    /** Allocates the gradient (zeros) if there is none; returns this. */
    public Param requireGrad() {
        if (grad == null) grad = new float[value.length];
        return this;
    }

    public boolean trained() {
        return grad != null;
    }

    public int size() {
        return value.length;
    }
}
