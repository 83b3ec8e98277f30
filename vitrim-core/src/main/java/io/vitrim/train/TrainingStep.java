package io.vitrim.train;

import io.vitrim.model.Param;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;

import java.util.List;

/**
 * One forward/backward of the model with a token reducer inside the graph: zero the trained
 * gradients, forward keeping activations, sum the loss terms' values and gradients, backward.
 * The optimiser step is the caller's (so clipping can come in between).
 */
public final class TrainingStep {
    private final VisionTransformer model;
    private final TokenReducer reducer;
    private final List<Param> trained;
    private final List<LossTerm> loss;

    /** Loss (sum of the terms) and how many images the logits got right (argmax of the targets). */
    public record Result(double loss, int correct) {}

    public TrainingStep(VisionTransformer model, TokenReducer reducer, List<Param> trained, List<LossTerm> loss) {
        this.model = model;
        this.reducer = reducer;
        this.trained = List.copyOf(trained);
        this.loss = List.copyOf(loss);
        for (Param p : trained) p.requireGrad();
    }

    public Result run(Tape tape, float[] pixels, float[] targets) {
        for (Param p : trained) java.util.Arrays.fill(p.grad, 0f);
        float[] logits = model.forward(tape, pixels, reducer);
        float[] dlogits = new float[logits.length];
        double total = 0;
        for (LossTerm t : loss) total += t.add(tape, targets, dlogits);
        model.backward(tape, dlogits);
        int k = logits.length / tape.batch(), correct = 0;
        for (int b = 0; b < tape.batch(); b++) if (argmax(logits, b * k, k) == argmax(targets, b * k, k)) correct++;
        return new Result(total, correct);
    }

    public static int argmax(float[] v, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (v[off + i] > v[off + best]) best = i;
        return best;
    }
}
