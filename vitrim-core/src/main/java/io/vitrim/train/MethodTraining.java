package io.vitrim.train;

import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;

import java.util.List;
import java.util.Map;

/**
 * A learned token-reduction method trained together with the model (Cropr): what it adds to a
 * {@link Trainer} run — its training graph, its loss terms, its settings in the model folder.
 */
public interface MethodTraining {
    /** The training graph of one epoch on the built model (a pruning-rate curriculum changes it per epoch). */
    Graph graph(VisionTransformer net, int epoch);

    /** The inference spec evaluated beside the dense model after every epoch. */
    String evalSpec();

    /** Stochastic-depth rate of block {@code block}, given the run's linear schedule's {@code scheduled}. */
    default double dropPath(int block, int depth, double scheduled) {
        return scheduled;
    }

    /** Top-level entries the model folder's config.json gets (e.g. {@code cropr_cfg}). */
    Map<String, Object> configExtras();

    /** The training graph: a reducer for training forwards plus its loss terms. */
    interface Graph {
        TokenReducer reducer();

        /** Loss terms added to the main loss. */
        List<LossTerm> losses();

        /** After an optimiser step: re-pack what the graph computes with. */
        void weightsChanged();

        /** Means over the epoch so far (per-module auxiliary losses, …), for the metrics log; resets them. */
        Map<String, Object> epochMetrics();
    }
}
