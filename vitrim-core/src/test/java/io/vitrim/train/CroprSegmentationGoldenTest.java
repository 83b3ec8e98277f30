package io.vitrim.train;

import io.vitrim.config.SegmentationConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.io.Json;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.Param;
import io.vitrim.model.StateDict;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Dense;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import org.assertj.core.data.Offset;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Token Cropr on a segmentation model vs the reference's own segmentation code ({@code
 * make_fixtures.py cropr_seg}, scripts/python/cropr_seg_ref.py: benbergner/cropr's Segmenter
 * methods and Cropr modules on a plain ViT, one step of its engine.train_one_epoch; the second
 * case is the port with a 3x5 auxiliary grid on a 4x6 patch grid and class weights):
 * <ul>
 *   <li>the curriculum: {@link CroprFinetune#rateAt} gives the reference's rate for every epoch,
 *       and the step runs at the rate of its epoch (rate 0 included);</li>
 *   <li>one training step: the main loss, each module's auxiliary loss against the labels
 *       nearest-downsampled to its grid (ignore label kept), the total, the per-patch logits,
 *       the tokens entering every block and the gradient of every parameter — backbone,
 *       decoder, queries, aggregators, heads; the backbone's come from the main loss only, as
 *       the reference detaches the aggregators' input — within 1e-4 relative;</li>
 *   <li>inference at the final rate with last-layer fusion: per-patch logits within 1e-4 of
 *       their scale. The reference restores the token order after the last block; vitrim does
 *       not (its final rows stay in Cropr's order, checked here) and still agrees, because the
 *       last block's attention treats tokens as a set and each patch reads its own final token
 *       through the source map.</li>
 * </ul>
 * 1 and 2 threads.
 */
class CroprSegmentationGoldenTest {
    static List<Json.Obj> cases() {
        return Fixtures.cases("cropr/seg_cases.json");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    @SuppressWarnings("unchecked")
    void stepAndInferenceMatchTheReference(Json.Obj c) {
        ViTConfig cfg = Fixtures.config(c.obj("config"));
        int batch = c.intValue("batch", 0), k = c.intValue("classes", 0), epochs = c.intValue("epochs", 0), epoch = c.intValue("epoch", 0);
        int rate = c.intValue("rate", 0);
        long seed = c.integer("seed", 0);
        int[] aux = Fixtures.ints(c.list("aux_grid"));
        int[] labelInts = Fixtures.ints(c.list("labels"));
        byte[] labels = new byte[labelInts.length];
        for (int i = 0; i < labels.length; i++) labels[i] = (byte) labelInts[i];
        float[] weights = c.get("class_weights") != null ? Fixtures.floats(c.list("class_weights")) : null;
        StateDict grads = ModelLoader.readTensors(Fixtures.path("cropr/" + c.str("grads", null)));
        double[] losses = c.numbers("losses");
        SegmentationConfig seg = new SegmentationConfig(k, c.intValue("ignore", 0), null);
        SegmentationTask task = new SegmentationTask(seg, null, null, null, new SegmentationTask.Settings(1, 1, weights, Dense.Restore.OUTPUT));
        CroprFinetune method = new CroprFinetune(rate, true, true, epochs, aux[0], aux[1]);
        int[] curriculum = Fixtures.ints(c.list("curriculum"));
        for (int e = 0; e < curriculum.length; e++) assertThat(method.rateAt(e)).as("rate of epoch %d", e).isEqualTo(curriculum[e]);
        assertThat(method.rateAt(epoch)).isEqualTo(c.intValue("step_rate", -1));
        float[] px = HashInit.pixels(cfg, batch, c.integer("pixel_seed", 0));
        for (int threads : new int[] {1, 2}) {
            StateDict sd = HashInit.stateDict(cfg, seed, c.number("qk_gain", 1));
            sd.put("decoder.head.weight", HashInit.uniform(seed, "decoder.head.weight", k * cfg.embedDim(), Math.sqrt(3.0 / cfg.embedDim()), 0),
                    new int[] {k, cfg.embedDim()});
            sd.put("decoder.head.bias", HashInit.uniform(seed, "decoder.head.bias", k, 0.1, 0), new int[] {k});
            Fixtures.withListedKeys(sd, seed, c.list("cropr_keys"));
            try (VisionTransformer m = task.build(cfg, null, sd, threads, "fixture")) {
                List<Param> params = m.weights().all();
                MethodTraining.Graph graph = method.graph(m, epoch);
                List<LossTerm> terms = new ArrayList<>(List.of(LossTerm.CROSS_ENTROPY));
                terms.addAll(graph.losses());
                TrainTask.Stepper step = task.stepper(m, graph.reducer(), params, terms, null);
                Tape tape = m.newTape(batch);
                // twice: the second step must not see the first one's gradients or statistics
                step.run(tape, new BatchStream.Batch(px, null, labels));
                TrainTask.StepResult r = step.run(tape, new BatchStream.Batch(px, null, labels));
                double[] got = ((CroprTraining) graph).lastAuxLosses();
                assertThat(got).hasSize(losses.length - 1);
                double auxSum = 0;
                for (int i = 0; i < got.length; i++) {
                    assertThat(got[i]).as("auxiliary loss %d", i).isCloseTo(losses[i + 1], Offset.offset(1e-5 * losses[i + 1]));
                    auxSum += got[i];
                }
                assertThat(r.loss() - auxSum).as("main loss").isCloseTo(losses[0], Offset.offset(1e-5 * losses[0]));
                assertThat(r.loss()).as("total loss").isCloseTo(c.number("loss", 0), Offset.offset(1e-5 * c.number("loss", 0)));
                for (int b = 0; b < batch; b++) {
                    assertThat(tape.trace().tokensEnteringBlocks(b)).as("tokens of image %d", b)
                            .containsExactly(Fixtures.ints(c.list("train_tokens")));
                }
                assertThat(maxAbsDiff(tape.logits(), Fixtures.floats(c.list("train_grid"))) / c.number("train_scale", 1))
                        .as("per-patch logits of the step").isLessThan(1e-4);
                assertThat(grads.tensors().keySet()).as("every parameter has a reference gradient")
                        .containsExactlyInAnyOrderElementsOf(params.stream().map(p -> p.name).toList());
                for (Param p : params) {
                    assertThat(Fixtures.relErr(p.grad, grads.get(p.name).data()))
                            .as("gradient of %s (%d threads)", p.name, threads).isLessThan(1e-4);
                }

                TokenReducer infer = m.reducer(method.evalSpec());
                VisionTransformer.Segmentation s = m.segment(px, batch, infer, Dense.Restore.OUTPUT);
                assertThat(maxAbsDiff(s.gridLogits(), Fixtures.floats(c.list("infer_grid"))) / c.number("infer_scale", 1))
                        .as("inference logits at rate %d", rate).isLessThan(1e-4);
                for (int b = 0; b < batch; b++) {
                    assertThat(s.trace().tokensEnteringBlocks(b)).as("inference tokens of image %d", b)
                            .containsExactly(Fixtures.ints(c.list("infer_tokens")));
                }
                int[][] src = m.encode(px, batch, Dense.of(infer, Dense.Restore.OUTPUT, cfg.depth()), true).source();
                int moved = 0;
                for (int[] img : src) for (int q = cfg.numPrefix(); q < img.length; q++) if (img[q] != q) moved++;
                assertThat(moved).as("patches whose final row is not their original position").isPositive();
            }
        }
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double d = 0;
        for (int i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
        return d;
    }
}
