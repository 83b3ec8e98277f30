package io.vitrim.train;

/**
 * One trainable tensor, named as the timm checkpoint key: its value, its gradient (same shape),
 * and whether weight decay applies (not to biases, norms, tokens or the position embedding — as
 * timm's {@code param_groups_weight_decay}).
 */
public final class Param {
    public final String name;
    public final int[] shape;
    public final float[] value;
    public final float[] grad;
    public final boolean decay;

    Param(String name, int[] shape, float[] value) {
        this.name = name;
        this.shape = shape;
        this.value = value;
        this.grad = new float[value.length];
        this.decay = shape.length > 1 && !name.equals("pos_embed") && !name.equals("cls_token") && !name.equals("dist_token");
    }

    public int size() {
        return value.length;
    }
}
