package io.vitrim.reduce;

import io.vitrim.engine.Attention;
import io.vitrim.engine.Parallel;

/**
 * The training side of a method whose tokens stay in place, masked (LTMP's training model,
 * docs/methods.md): every image keeps its N rows; a soft key mask removes merged and pruned
 * tokens from attention and carries the gradient to the method's parameters. The block calls,
 * in a training forward: {@link #keyMask} and {@link #keyBias} for its attention, then
 * {@link #forward} after the attention residual; in the backward, in reverse: {@link #backward}
 * (before the attention backward, which takes the gradient on the attention each key received)
 * and {@link #afterAttention} (the key gradient and the mask gradient of the attention).
 * One instance serves one training thread; it keeps what its backward needs per block.
 */
public interface MaskedTraining {
    /** A training forward of {@code batch} images of {@code tokens} rows each begins. */
    void begin(int batch, int tokens);

    /** Block {@code block}'s key mask ([T], 0/1 in the forward) with its softmax ε. */
    Attention.KeyMask keyMask(int block);

    /** Block {@code block}'s additive key bias ([T], ln size), or null. */
    float[] keyBias(int block);

    /**
     * After block {@code block}'s attention residual: rewrites {@code x [T, C]} in place.
     *
     * @param qkv      [T, 3C] the block's projected tokens (keys at columns C..2C)
     * @param received [T·H] Σ_i P_hij per key j and head h (the masked attention)
     */
    void forward(int block, Parallel par, float[] x, int c, float[] qkv, float[] received, int heads);

    /**
     * Backward of {@link #forward}: {@code dx [T, C]} (w.r.t. its output) becomes the gradient
     * w.r.t. its input, in place. Returns dL/dP_hij per key ([T], for every head and query
     * row) for the attention backward, or null.
     */
    float[] backward(int block, Parallel par, float[] dx, int c);

    /**
     * After the attention backward of block {@code block}: adds the gradient of the method's
     * key-based inputs into {@code dqkv [T, 3C]} and takes {@code dMask [T]}, the attention's
     * gradient w.r.t. this block's key mask.
     */
    void afterAttention(int block, float[] dqkv, float[] dMask, int c, int heads);
}
