package io.vitrim.train;

import io.vitrim.config.ViTConfig;
import io.vitrim.io.Json;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.LtmpTraining;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One LTMP training step against the reference's own training model (Mxbonn/ltmp
 * {@code LTMPVisionTransformer} in train mode, run by {@code make_fixtures.py ltmp_train}):
 * logits, the per-image mask counts of every block, cross-entropy + MAC regulariser, and the
 * gradients of every threshold (all other weights frozen, as the reference trains).
 */
class LtmpTrainingGoldenTest {
    static Stream<String> cases() {
        return Fixtures.cases("ltmp/train_cases.json").stream().map(c -> c.str("name", null));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void stepMatchesTheReference(String name) {
        Json.Obj c = Fixtures.cases("ltmp/train_cases.json").stream().filter(x -> x.str("name", null).equals(name)).findFirst().orElseThrow();
        ViTConfig cfg = Fixtures.config(c.obj("config"));
        int batch = c.intValue("batch", 0), depth = cfg.depth();
        float[] merge = Fixtures.floats(c.list("merge")), prune = Fixtures.floats(c.list("prune"));
        float[][] m = new float[depth][], p = new float[depth][], gm = new float[depth][], gp = new float[depth][];
        for (int i = 0; i < depth; i++) {
            m[i] = new float[] {merge[i]};
            p[i] = new float[] {prune[i]};
            gm[i] = new float[1];
            gp[i] = new float[1];
        }
        LtmpTraining graph = new LtmpTraining(m, p, gm, gp, (float) c.number("tau", 0), cfg.embedDim() / cfg.numHeads());
        int[] labels = c.list("labels").stream().mapToInt(o -> ((Number) o).intValue()).toArray();
        float[] targets = SoftmaxCrossEntropy.smoothed(labels, cfg.numClasses(), 0.1f);
        try (VisionTransformer net = VisionTransformer.create(cfg, null, null,
                HashInit.stateDict(cfg, c.integer("seed", 0), c.number("qk_gain", 1)), 2, name)) {
            Tape tape = net.newTape(batch);
            LossTerm reg = new LtmpLoss(graph, c.number("target", 0), c.number("lambda", 0), cfg.embedDim(), cfg.mlpHidden());
            // nothing of the model is trained: the gradient reaches only the thresholds
            TrainingStep step = new TrainingStep(net, graph, List.of(), List.of(LossTerm.CROSS_ENTROPY, reg));
            TrainingStep.Result r = step.run(tape, HashInit.pixels(cfg, batch, c.integer("pixel_seed", 0)), targets);
            float[] want = Fixtures.floats(c.list("logits"));
            double scale = c.number("logit_scale", 1);
            assertThat(tape.logits()).hasSameSizeAs(want);
            for (int i = 0; i < want.length; i++) {
                assertThat(Math.abs(tape.logits()[i] - want[i]) / scale).as("logit %d", i).isLessThan(1e-4);
            }
            List<Object> counts = c.list("mask_counts");
            for (int b = 0; b < batch; b++) {
                List<?> cb = (List<?>) counts.get(b);
                for (int l = 0; l < depth; l++) {
                    float sum = 0;
                    float[] mask = graph.mask(l);
                    for (int j = 0; j < cfg.numTokens(); j++) sum += mask[b * cfg.numTokens() + j];
                    assertThat((int) sum).as("image %d block %d tokens left", b, l).isEqualTo(((Number) cb.get(l)).intValue());
                }
            }
            assertThat(graph.lastRatio()).isCloseTo(c.number("ratio", 0), org.assertj.core.data.Offset.offset(1e-6));
            assertThat(r.loss()).isCloseTo(c.number("loss", 0), org.assertj.core.data.Offset.offset(1e-4 * c.number("loss", 0)));
            float[] wantM = Fixtures.floats(c.list("merge_grad")), wantP = Fixtures.floats(c.list("prune_grad"));
            float[] gotM = new float[depth], gotP = new float[depth];
            for (int i = 0; i < depth; i++) {
                gotM[i] = gm[i][0];
                gotP[i] = gp[i][0];
            }
            assertThat(Fixtures.relErr(gotM, wantM)).as("merge threshold gradients %s vs %s", java.util.Arrays.toString(gotM),
                    java.util.Arrays.toString(wantM)).isLessThan(1e-4);
            assertThat(Fixtures.relErr(gotP, wantP)).as("prune threshold gradients %s vs %s", java.util.Arrays.toString(gotP),
                    java.util.Arrays.toString(wantP)).isLessThan(1e-4);
        }
    }
}
