package io.vitrim.train;

import io.vitrim.model.Tape;
import io.vitrim.reduce.LtmpTraining;

/**
 * LTMP's reduction-target term {@code λ·(r − target)²} on the MAC ratio of the masked training
 * graph ({@link LtmpTraining#regularizer}); its gradient goes to the masks, not the logits.
 */
public final class LtmpLoss implements LossTerm {
    private final LtmpTraining graph;
    private final double target, lambda;
    private final int dim, mlp;

    public LtmpLoss(LtmpTraining graph, double target, double lambda, int dim, int mlp) {
        this.graph = graph;
        this.target = target;
        this.lambda = lambda;
        this.dim = dim;
        this.mlp = mlp;
    }

    @Override
    public String name() {
        return "macs";
    }

    @Override
    public double add(Tape tape, float[] targets, float[] dlogits) {
        return graph.regularizer(target, lambda, dim, mlp);
    }
}
