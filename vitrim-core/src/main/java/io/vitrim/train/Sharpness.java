package io.vitrim.train;

import io.vitrim.VitrimException;
import io.vitrim.data.LabelledImages;
import io.vitrim.model.Param;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * How sharp the minimum a model sits in is (docs/training.md, "Sharpness-aware minimisation"):
 * the increase of the mean cross-entropy (no label smoothing) over a set of images under the
 * worst perturbation e of the weights with ‖e‖ ≤ ρ that a few steps of projected normalised
 * gradient ascent find:
 * <pre>
 *   e₀ = 0;  e_{k+1} = Π_ρ(e_k + ρ · T²g_k / ‖T g_k‖),  g_k = ∇L(w + e_k)
 *   sharpness = max(L(w), L(w + e_1), …, L(w + e_K)) − L(w)  ≥ 0
 * </pre>
 * where Π_ρ scales e back onto the ball ‖e/T‖ ≤ ρ. The first step is SAM's own perturbation;
 * later ones turn it towards the most curved direction, as a power iteration does. T = 1 by
 * default (the L2 ball over all the ViT's weights); the adaptive variant uses ASAM's T = |w| + η
 * on weights ({@link Sam}), a radius that does not change when a layer's weights are rescaled.
 * The loss is the training forward's on the dense model (no reduction, no drop path).
 * Deterministic: no random draws, and the same result for any thread count. The weights are
 * restored exactly afterwards.
 */
public final class Sharpness {
    private Sharpness() {}

    /**
     * @param rho      radius of the perturbation (L2 over all weights, or after 1/T with {@code adaptive})
     * @param steps    ascent steps (each a forward and backward pass over the images; the last forward only)
     * @param adaptive ASAM's element-wise scale T = |w| + eta on weights
     * @param eta      ASAM's η
     * @param batch    images per forward pass (memory only; the result does not depend on it beyond rounding)
     */
    public record Settings(double rho, int steps, boolean adaptive, double eta, int batch) {
        public Settings {
            if (!(rho >= 0) || Double.isInfinite(rho)) throw new VitrimException("--sharpness must be a radius >= 0, got " + rho);
            if (steps < 1) throw new VitrimException("--sharpness-steps must be at least 1, got " + steps);
            if (!(eta >= 0)) throw new VitrimException("eta must be >= 0, got " + eta);
            if (batch < 1) throw new VitrimException("--batch must be at least 1, got " + batch);
        }
    }

    /**
     * @param cleanLoss     L(w), mean cross-entropy over the images
     * @param perturbedLoss the largest loss found within the ball (≥ cleanLoss)
     * @param losses        L(w + e_k) after each ascent step k = 1…K
     * @param gradNorm      ‖T ∇L(w)‖ (‖∇L(w)‖ unless adaptive)
     */
    public record Result(Settings settings, int images, double cleanLoss, double perturbedLoss, double[] losses, double gradNorm) {
        public double increase() {
            return perturbedLoss - cleanLoss;
        }

        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("rho", settings.rho());
            m.put("steps", settings.steps());
            m.put("adaptive", settings.adaptive());
            if (settings.adaptive()) m.put("eta", settings.eta());
            m.put("images", images);
            m.put("clean_loss", cleanLoss);
            m.put("perturbed_loss", perturbedLoss);
            m.put("increase", increase());
            List<Object> l = new ArrayList<>();
            for (double v : losses) l.add(v);
            m.put("losses", l);
            m.put("grad_norm", gradNorm);
            return m;
        }
    }

    /**
     * Sharpness on {@code images} images of {@code data} spread evenly over it (all when it holds
     * fewer), preprocessed with the model's mean and std.
     *
     * @param classMap data class → model class (null: the same)
     */
    public static Result measure(VisionTransformer net, LabelledImages data, int[] classMap, int images, Settings s, IntConsumer progress) {
        int n = Math.min(images, data.size()), per = 3 * data.height() * data.width();
        if (data.height() != net.config().imgHeight() || data.width() != net.config().imgWidth()) {
            throw VitrimException.of(data.source(), "images are " + data.height() + "x" + data.width() + ", the model takes "
                    + net.config().imgHeight() + "x" + net.config().imgWidth());
        }
        float[] px = new float[n * per];
        int[] labels = new int[n];
        for (int k = 0; k < n; k++) {
            int i = (int) ((long) k * data.size() / n);
            data.toTensor(i, net.preprocess().mean(), net.preprocess().std(), px, k * per);
            labels[k] = classMap == null ? data.label(i) : classMap[data.label(i)];
        }
        return measure(net, px, labels, s, progress);
    }

    /**
     * Sharpness on normalised pixels [N, 3, H, W] with model-class labels [N]. Uses (and leaves
     * zeroed or unallocated as found) the ViT parameters' gradient buffers.
     *
     * @param progress told the number of passes done (1 + steps in all); may be null
     */
    public static Result measure(VisionTransformer net, float[] pixels, int[] labels, Settings s, IntConsumer progress) {
        VisionTransformer.checkTrainable(net.config(), "the model");
        List<Param> params = new ArrayList<>(net.weights().vit().values());
        int np = params.size();
        boolean[] hadGrad = new boolean[np], scaled = new boolean[np];
        float[][] w0 = new float[np][], e = new float[np][];
        for (int i = 0; i < np; i++) {
            Param p = params.get(i);
            hadGrad[i] = p.grad != null;
            p.requireGrad();
            scaled[i] = s.adaptive() && Sam.adaptiveScaled(p);
            w0[i] = p.value.clone();
            e[i] = new float[p.size()];
        }
        Loss loss = new Loss(net, pixels, labels, s.batch());
        float eta = (float) s.eta();
        try {
            double clean = loss.eval(params, true);
            if (progress != null) progress.accept(1);
            double best = clean, gradNorm = 0;
            double[] losses = new double[s.steps()];
            for (int k = 0; k < s.steps(); k++) {
                // e += ρ·T²g/‖Tg‖
                double sq = 0;
                for (int i = 0; i < np; i++) {
                    float[] g = params.get(i).grad;
                    for (int j = 0; j < g.length; j++) {
                        double tg = scaled[i] ? (double) (Math.abs(w0[i][j]) + eta) * g[j] : g[j];
                        sq += tg * tg;
                    }
                }
                double norm = Math.sqrt(sq);
                if (k == 0) gradNorm = norm;
                double step = s.rho() / (norm + 1e-12), len = 0;
                for (int i = 0; i < np; i++) {
                    float[] g = params.get(i).grad, ei = e[i];
                    for (int j = 0; j < g.length; j++) {
                        double t = scaled[i] ? Math.abs(w0[i][j]) + eta : 1.0;
                        ei[j] = (float) (ei[j] + step * t * t * g[j]);
                        double u = ei[j] / t;
                        len += u * u;
                    }
                }
                // back onto the ball ‖e/T‖ ≤ ρ
                len = Math.sqrt(len);
                if (len > s.rho()) {
                    float shrink = (float) (s.rho() / len);
                    for (float[] ei : e) for (int j = 0; j < ei.length; j++) ei[j] *= shrink;
                }
                for (int i = 0; i < np; i++) {
                    float[] w = params.get(i).value;
                    for (int j = 0; j < w.length; j++) w[j] = w0[i][j] + e[i][j];
                }
                net.weightsChanged();
                losses[k] = loss.eval(params, k + 1 < s.steps());
                best = Math.max(best, losses[k]);
                if (progress != null) progress.accept(k + 2);
            }
            return new Result(s, labels.length, clean, best, losses, gradNorm);
        } finally {
            for (int i = 0; i < np; i++) System.arraycopy(w0[i], 0, params.get(i).value, 0, w0[i].length);
            net.weightsChanged();
            for (int i = 0; i < np; i++) {
                Param p = params.get(i);
                if (hadGrad[i]) java.util.Arrays.fill(p.grad, 0f);
                else p.grad = null;
            }
        }
    }

    /** Mean cross-entropy over all images, and optionally its gradient, in batches. */
    private static final class Loss {
        final VisionTransformer net;
        final float[] pixels;
        final int[] labels;
        final int n, batch, per, k;
        final Map<Integer, Tape> tapes = new LinkedHashMap<>();

        Loss(VisionTransformer net, float[] pixels, int[] labels, int batch) {
            this.net = net;
            this.pixels = pixels;
            this.labels = labels;
            this.n = labels.length;
            this.batch = batch;
            this.per = 3 * net.config().imgHeight() * net.config().imgWidth();
            this.k = net.config().numClasses();
            if (n == 0) throw new VitrimException("sharpness needs at least one image");
            if (pixels.length != (long) n * per) throw new IllegalArgumentException("expected " + n + " images of " + per + " values");
            for (int l : labels) if (l < 0 || l >= k) throw new IllegalArgumentException("label " + l + " outside 0.." + (k - 1));
        }

        double eval(List<Param> params, boolean grad) {
            if (grad) for (Param p : params) java.util.Arrays.fill(p.grad, 0f);
            double total = 0;
            for (int b0 = 0; b0 < n; b0 += batch) {
                int b = Math.min(batch, n - b0);
                Tape tape = tapes.computeIfAbsent(b, net::newTape);
                float[] logits = net.forward(tape, java.util.Arrays.copyOfRange(pixels, b0 * per, (b0 + b) * per), TokenReducer.NONE);
                float[] targets = SoftmaxCrossEntropy.smoothed(java.util.Arrays.copyOfRange(labels, b0, b0 + b), k, 0f);
                float[] dlogits = new float[b * k];
                // the batch's mean loss weighs b/N in the mean over all images; so does its gradient
                total += SoftmaxCrossEntropy.forwardBackward(logits, targets, b, k, dlogits) * b;
                if (grad) {
                    float w = (float) b / n;
                    for (int i = 0; i < dlogits.length; i++) dlogits[i] *= w;
                    net.backward(tape, dlogits);
                }
            }
            return total / n;
        }
    }
}
