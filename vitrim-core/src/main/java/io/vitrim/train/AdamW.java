package io.vitrim.train;

import io.vitrim.model.Param;

import java.util.List;

/**
 * AdamW with decoupled weight decay, computed as {@code torch.optim.AdamW} does (same float
 * operations in the same order): {@code p ← p·(1 − lr·wd)}; {@code m ← β1·m + (1−β1)·g};
 * {@code v ← β2·v + (1−β2)·g²}; {@code p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)}.
 * Weight decay applies only to parameters with {@link Param#decay}; each parameter may carry a
 * learning-rate multiplier ({@link ParamGroups}).
 */
public final class AdamW {
    public final float beta1, beta2, eps, weightDecay;
    private final List<Param> params;
    private final float[] lrScale;
    final float[][] m, v;
    long step;

    public AdamW(List<Param> params, float beta1, float beta2, float eps, float weightDecay) {
        this(params, null, beta1, beta2, eps, weightDecay);
    }

    /** @param lrScale per parameter multiplier of the learning rate (null = all 1) */
    public AdamW(List<Param> params, float[] lrScale, float beta1, float beta2, float eps, float weightDecay) {
        this.params = params;
        this.lrScale = lrScale;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.m = new float[params.size()][];
        this.v = new float[params.size()][];
        for (int i = 0; i < params.size(); i++) {
            m[i] = new float[params.get(i).size()];
            v[i] = new float[params.get(i).size()];
        }
    }

    public long steps() {
        return step;
    }

    /** One update with learning rate {@code lr}. */
    public void step(float baseLr) {
        step++;
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        float bc2Sqrt = (float) Math.sqrt(bc2);
        for (int i = 0; i < params.size(); i++) {
            float lr = lrScale == null ? baseLr : (float) (baseLr * (double) lrScale[i]);
            float stepSize = (float) (lr / bc1);
            Param p = params.get(i);
            float[] w = p.value, g = p.grad, mi = m[i], vi = v[i];
            float decay = p.decay ? 1f - lr * weightDecay : 1f;
            for (int j = 0; j < w.length; j++) {
                if (p.decay) w[j] *= decay;
                mi[j] = mi[j] * beta1 + g[j] * (1f - beta1);
                vi[j] = vi[j] * beta2 + g[j] * g[j] * (1f - beta2);
                float denom = (float) Math.sqrt(vi[j]) / bc2Sqrt + eps;
                w[j] = w[j] - stepSize * (mi[j] / denom);
            }
        }
    }

    /**
     * Scales all gradients so their global L2 norm is at most {@code maxNorm}, as
     * {@code torch.nn.utils.clip_grad_norm_}; returns the norm before clipping.
     */
    public static double clipGradNorm(List<Param> params, double maxNorm) {
        double sq = 0;
        for (Param p : params) for (float g : p.grad) sq += (double) g * g;
        double norm = Math.sqrt(sq);
        float coef = (float) (maxNorm / (norm + 1e-6));
        if (coef < 1f) for (Param p : params) for (int j = 0; j < p.grad.length; j++) p.grad[j] *= coef;
        return norm;
    }
}
