package io.vitrim.model;

import io.vitrim.config.ViTConfig;
import io.vitrim.engine.Gemm;
import io.vitrim.engine.LayerNorm;
import io.vitrim.engine.Parallel;
import io.vitrim.engine.VecMath;

/**
 * timm's {@code AttentionPoolLatent} (SigLIP's MAP head, {@code global_pool="map"}), under
 * {@code attn_pool.}: one learned query attends to an image's tokens, then a residual MLP:
 * <pre>
 *   q = attn_pool.q(latent)                      [C]       (the same for every image)
 *   k, v = attn_pool.kv(x)                        [n, C] each, split into heads
 *   y = attn_pool.proj(softmax(q·kᵀ/√d + ln size)·v)
 *   y ← y + attn_pool.mlp(attn_pool.norm(y))      (fc1 → act → fc2)
 * </pre>
 * With merged tokens, {@code ln size} is added as in the blocks' proportional attention, so a
 * token standing for s patches counts s times; without a reducer it is 0 (timm's head exactly).
 */
final class AttentionPool {
    private final Param latent, normWeight, normBias;
    private final Linear q, kv, proj, fc1, fc2;
    private final int heads, dim, hidden;
    private final float eps;
    private final ViTConfig.Act act;

    AttentionPool(WeightBinder.Weights w, ViTConfig c) {
        this.latent = w.get("attn_pool.latent");
        this.q = linear(w, "attn_pool.q");
        this.kv = linear(w, "attn_pool.kv");
        this.proj = linear(w, "attn_pool.proj");
        this.normWeight = w.get("attn_pool.norm.weight");
        this.normBias = w.get("attn_pool.norm.bias");
        this.fc1 = linear(w, "attn_pool.mlp.fc1");
        this.fc2 = linear(w, "attn_pool.mlp.fc2");
        this.heads = c.numHeads();
        this.dim = c.embedDim();
        this.hidden = fc1.out;
        this.eps = c.normEps();
        this.act = c.act();
    }

    private static Linear linear(WeightBinder.Weights w, String name) {
        return new Linear(w.get(name + ".weight"), w.get(name + ".bias"));
    }

    /**
     * @param x       final (normalised) tokens [rows, C], image b at {@code [offsets[b], offsets[b+1])}
     * @param size    token sizes (for the proportional bias) or null
     * @param prefix  leading tokens of each image left out of the pool (class, registers)
     * @return pooled features [B, C]
     */
    float[] forward(Parallel par, float[] x, int[] offsets, float[] size, int prefix, int batch) {
        final int c = dim, hd = c / heads;
        float[] query = new float[c];
        q.forward(par, latent.value, 1, query, Gemm.Mode.SET);
        int rows = 0;
        int[] start = new int[batch + 1];
        for (int b = 0; b < batch; b++) {
            start[b] = rows;
            rows += offsets[b + 1] - offsets[b] - prefix;
        }
        start[batch] = rows;
        float[] in = new float[rows * c];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(x, (offsets[b] + prefix) * c, in, start[b] * c, (start[b + 1] - start[b]) * c);
        }
        float[] keysValues = new float[rows * 2 * c];
        kv.forward(par, in, rows, keysValues, Gemm.Mode.SET);
        final float scale = (float) (1.0 / Math.sqrt(hd));
        float[] att = new float[batch * c];
        par.forEach(batch, b -> {
            int n = start[b + 1] - start[b];
            float[] p = new float[n];
            for (int h = 0; h < heads; h++) {
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < n; j++) {
                    int kOff = (start[b] + j) * 2 * c + h * hd;
                    float s = 0f;
                    for (int t = 0; t < hd; t++) s += query[h * hd + t] * keysValues[kOff + t];
                    s *= scale;
                    if (size != null) s += (float) Math.log(size[offsets[b] + prefix + j]);
                    p[j] = s;
                    max = Math.max(max, s);
                }
                double sum = 0;
                for (int j = 0; j < n; j++) {
                    p[j] = (float) Math.exp(p[j] - max);
                    sum += p[j];
                }
                for (int j = 0; j < n; j++) {
                    float wj = (float) (p[j] / sum);
                    int vOff = (start[b] + j) * 2 * c + c + h * hd;
                    for (int t = 0; t < hd; t++) att[b * c + h * hd + t] += wj * keysValues[vOff + t];
                }
            }
        });
        float[] y = new float[batch * c];
        proj.forward(par, att, batch, y, Gemm.Mode.SET);
        float[] ln = new float[batch * c], hid = new float[batch * hidden];
        LayerNorm.forward(par, y, 0, c, batch, c, normWeight.value, normBias.value, eps, ln, 0, c, null, null);
        if (act == ViTConfig.Act.GELU) {
            fc1.forward(par, ln, batch, hid, Gemm.Mode.SET_GELU);
        } else if (act == ViTConfig.Act.QUICK_GELU) {
            fc1.forward(par, ln, batch, hid, Gemm.Mode.SET);
            VecMath.quickGeluInPlace(hid, 0, hid.length);
        } else {
            throw new IllegalStateException("attention pool with " + act); // ViTConfig.validate refuses it
        }
        fc2.forward(par, hid, batch, y, Gemm.Mode.ADD);
        return y;
    }
}
