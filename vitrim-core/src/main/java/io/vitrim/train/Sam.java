package io.vitrim.train;

import io.vitrim.model.Param;

import java.util.List;
import java.util.function.Supplier;

/**
 * Sharpness-aware minimisation (SAM, Foret et al., ICLR 2021) and its adaptive variant (ASAM,
 * Kwon et al., ICML 2021) around the run's AdamW (docs/training.md, "Sharpness-aware
 * minimisation"). One step's gradient takes two forward/backward passes of the same batch:
 * <pre>
 *   g = ∇L(w)                              first pass (its loss is the one reported)
 *   e = ρ · T²g / ‖T g‖                    T = 1 (SAM), T = |w| + η on weights (ASAM)
 *   ∇L(w + e)                              second pass: left in the gradients
 *   w restored from a copy                 then the caller clips and takes AdamW's step at w
 * </pre>
 * The norm is global over the parameters that take part (all trained ones, or all but the 1-D
 * ones with {@link SamConfig#skip1d}). ASAM scales parameters named {@code *weight} (matrices and
 * LayerNorm scales) and leaves biases, tokens and the position embedding at T = 1, as Kwon et
 * al.'s code does. The weights are restored from a copy, not by subtracting e, so ρ = 0 gives
 * plain AdamW bit for bit. The batch, its augmentation and the drop-path masks are the caller's
 * and stay the same for both passes; a reducer in the graph decides afresh at w + e.
 */
public final class Sam {
    private final SamConfig cfg;
    private final List<Param> params;
    private final boolean[] takesPart, scaled;
    private final float[][] saved;
    private final Runnable repack;
    private double lastNorm;

    /**
     * @param trained the trained parameters (each with a gradient)
     * @param repack  re-packs whatever computes with the weights after they changed in place
     *                ({@code net.weightsChanged()}, and a method graph's)
     */
    public Sam(SamConfig cfg, List<Param> trained, Runnable repack) {
        this.cfg = cfg;
        this.params = List.copyOf(trained);
        this.repack = repack;
        int n = params.size();
        takesPart = new boolean[n];
        scaled = new boolean[n];
        saved = new float[n][];
        for (int i = 0; i < n; i++) {
            Param p = params.get(i);
            takesPart[i] = !(cfg.skip1d() && p.shape.length == 1);
            scaled[i] = cfg.adaptive() && adaptiveScaled(p);
            if (takesPart[i]) saved[i] = new float[p.size()];
        }
    }

    /** Whether ASAM scales this parameter by |w| + η: Kwon et al. scale the parameters named {@code weight}. */
    static boolean adaptiveScaled(Param p) {
        return p.name.endsWith("weight");
    }

    public SamConfig config() {
        return cfg;
    }

    /**
     * The SAM gradient of one batch: {@code pass} (a forward/backward that zeroes and fills the
     * trained gradients) at w, the ascent, {@code pass} again at w + e, w restored. Returns the
     * first pass's result; the gradients hold ∇L(w + e).
     */
    public <R> R gradient(Supplier<R> pass) {
        R first = pass.get();
        ascend();
        pass.get();
        restore();
        return first;
    }

    /**
     * Moves the weights from w to w + e along the current gradients (keeping a copy of w) and
     * re-packs them. Afterwards each taking-part parameter's gradient holds its e (the gradient
     * at w is no longer needed), the others' hold 0. Returns ‖T g‖.
     */
    public double ascend() {
        float eta = (float) cfg.eta();
        double sq = 0;
        for (int i = 0; i < params.size(); i++) {
            if (!takesPart[i]) continue;
            float[] g = params.get(i).grad, w = params.get(i).value;
            if (scaled[i]) {
                for (int j = 0; j < g.length; j++) {
                    double tg = (double) (Math.abs(w[j]) + eta) * g[j];
                    sq += tg * tg;
                }
            } else {
                for (float v : g) sq += (double) v * v;
            }
        }
        lastNorm = Math.sqrt(sq);
        // e = ρ·T²g/‖Tg‖; the 1e-12 keeps a zero gradient from dividing by zero (its e is 0)
        float scale = (float) (cfg.rho() / (lastNorm + 1e-12));
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            float[] g = p.grad, w = p.value;
            if (!takesPart[i]) {
                java.util.Arrays.fill(g, 0f);
                continue;
            }
            System.arraycopy(w, 0, saved[i], 0, w.length);
            for (int j = 0; j < g.length; j++) {
                float e;
                if (scaled[i]) {
                    float t = Math.abs(w[j]) + eta;
                    e = t * t * g[j] * scale;
                } else {
                    e = g[j] * scale;
                }
                g[j] = e;
                w[j] = w[j] + e;
            }
        }
        repack.run();
        return lastNorm;
    }

    /** Puts back the weights {@link #ascend} saved (exactly) and re-packs them. */
    public void restore() {
        for (int i = 0; i < params.size(); i++) {
            if (takesPart[i]) System.arraycopy(saved[i], 0, params.get(i).value, 0, saved[i].length);
        }
        repack.run();
    }

    /** ‖T g‖ of the last ascent (‖g‖ for SAM), over the parameters that take part. */
    public double lastGradNorm() {
        return lastNorm;
    }
}
