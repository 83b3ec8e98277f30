package io.vitrim.model;

import io.vitrim.config.ViTConfig;
import io.vitrim.reduce.Plan;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.reduce.TokenState;
import io.vitrim.reduce.Trace;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import io.vitrim.train.LossTerm;
import io.vitrim.train.SoftmaxCrossEntropy;
import io.vitrim.train.TrainingStep;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Parking and restoring through the whole model, inference and training: tokens parked after
 * block 0 and restored before block 1 only move to the end of the sequence, and attention is
 * permutation-equivariant — so logits and every gradient equal the unreduced model's (up to
 * summation order), while the sequence order and source map show that the tokens travelled.
 */
class ParkRestoreTest {
    static final ViTConfig CFG = new ViTConfig("t", 16, 16, 4, 3, 32, 2, 2, 64, true, true, false,
            ViTConfig.Pool.TOKEN, false, 5, 1e-6f);

    /** Parks patch tokens 3, 4, 5 of every image after block 0; restores them before block 1. */
    static final TokenReducer PARK = new TokenReducer() {
        @Override
        public String spec() {
            return "test-park";
        }

        @Override
        public Plan afterBlock(int block, TokenState s, Trace trace) {
            if (block != 0) return null;
            Plan p = Plan.forState(s);
            for (int b = 0; b < s.batch(); b++) {
                int o = s.offset(b), k = 0;
                for (int i = 0; i < s.count(b); i++) {
                    if (i >= 3 && i <= 5) p.park(o + i);
                    else p.send(o + i, k++);
                }
                p.count(b, k);
            }
            return p;
        }

        @Override
        public boolean restoreBefore(int block) {
            return block == 1;
        }
    };

    @Test
    void parkedTokensTravelAndComeBackUnchanged() {
        int batch = 3;
        float[] px = HashInit.pixels(CFG, batch, 9);
        try (VisionTransformer m = VisionTransformer.create(CFG, null, null, HashInit.stateDict(CFG, 4, 2.0), 2, "t")) {
            VisionTransformer.Result none = m.forward(px, batch, TokenReducer.NONE, true);
            VisionTransformer.Result park = m.forward(px, batch, PARK, true);
            assertThat(Fixtures.relErr(park.logits(), none.logits())).isLessThan(1e-5);
            assertThat(park.trace().tokensEnteringBlocks(0)).containsExactly(17, 17);
            int[] src = park.trace().finalSource()[0];
            assertThat(src[3]).isEqualTo(14);
            assertThat(src[4]).isEqualTo(15);
            assertThat(src[5]).isEqualTo(16);
            assertThat(src[6]).isEqualTo(3);
            assertThat(park.trace().sourceAfter(0)[1][4]).as("parked after block 0").isLessThan(-1);
            // training: same loss, same gradients
            float[] targets = SoftmaxCrossEntropy.smoothed(new int[] {1, 3, 4}, 5, 0.1f);
            List<Param> params = m.weights().all();
            Tape tape = m.newTape(batch);
            double lossNone = new TrainingStep(m, TokenReducer.NONE, params, List.of(LossTerm.CROSS_ENTROPY)).run(tape, px, targets).loss();
            float[][] gNone = params.stream().map(p -> p.grad.clone()).toArray(float[][]::new);
            double lossPark = new TrainingStep(m, PARK, params, List.of(LossTerm.CROSS_ENTROPY)).run(tape, px, targets).loss();
            assertThat(lossPark).isCloseTo(lossNone, org.assertj.core.data.Offset.offset(1e-5));
            for (int i = 0; i < params.size(); i++) {
                assertThat(Fixtures.relErr(params.get(i).grad, gNone[i])).as("gradient of %s", params.get(i).name).isLessThan(1e-4);
            }
        }
    }
}
