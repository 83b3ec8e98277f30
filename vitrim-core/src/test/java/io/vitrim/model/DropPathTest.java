package io.vitrim.model;

import io.vitrim.config.ViTConfig;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.testing.Fixtures;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Stochastic depth. A branch scaled by k per image is the same linear map as that branch with
 * its output layer's weight and bias scaled by k, so a batch with drop path must give, image by
 * image, the logits and gradients of single-image runs of weight-scaled models (gradients of the
 * scaled layer times k) — an exact check of forward and backward against the plain model.
 */
class DropPathTest {
    static final ViTConfig CFG = new ViTConfig("t", 16, 16, 4, 3, 32, 3, 2, 64, true, true, false,
            ViTConfig.Pool.TOKEN, false, 5, 1e-6f);

    // per image: block 1's attention branch and block 0's MLP branch (p = 0.5: 0 or 2), block 2's MLP branch (p = 0.2)
    static final float[] ATTN1 = {0f, 2f, 2f}, MLP0 = {2f, 0f, 2f}, MLP2 = {1.25f, 1.25f, 0f};

    @Test
    void batchWithDropPathEqualsWeightScaledSingleImages() {
        int batch = 3, k = CFG.numClasses();
        float[] px = HashInit.pixels(CFG, batch, 3);
        float[] dlogits = new float[batch * k];
        SplittableRandom r = new SplittableRandom(8);
        for (int i = 0; i < dlogits.length; i++) dlogits[i] = (float) r.nextGaussian();
        StateDict sd = HashInit.stateDict(CFG, 6, 2.0);
        float[] logits;
        List<float[]> grads;
        try (VisionTransformer m = VisionTransformer.create(CFG, null, null, sd.copy(), 1, "t")) {
            List<Param> ps = m.weights().all();
            ps.forEach(Param::requireGrad);
            Tape tape = m.newTape(batch);
            tape.dropPath(1, ATTN1, null);
            tape.dropPath(0, null, MLP0);
            tape.dropPath(2, null, MLP2);
            logits = m.forward(tape, px, TokenReducer.NONE).clone();
            m.backward(tape, dlogits);
            grads = ps.stream().map(p -> p.grad.clone()).toList();
        }
        float[][] want = new float[grads.size()][];
        for (int i = 0; i < want.length; i++) want[i] = new float[grads.get(i).length];
        int per = px.length / batch;
        for (int b = 0; b < batch; b++) {
            StateDict scaled = sd.copy();
            scale(scaled, "blocks.1.attn.proj", ATTN1[b]);
            scale(scaled, "blocks.0.mlp.fc2", MLP0[b]);
            scale(scaled, "blocks.2.mlp.fc2", MLP2[b]);
            try (VisionTransformer m = VisionTransformer.create(CFG, null, null, scaled, 1, "t")) {
                List<Param> ps = m.weights().all();
                ps.forEach(Param::requireGrad);
                Tape tape = m.newTape(1);
                float[] one = java.util.Arrays.copyOfRange(px, b * per, (b + 1) * per);
                float[] l = m.forward(tape, one, TokenReducer.NONE);
                assertThat(Fixtures.relErr(l, java.util.Arrays.copyOfRange(logits, b * k, (b + 1) * k))).as("logits of image %d", b).isLessThan(1e-5);
                m.backward(tape, java.util.Arrays.copyOfRange(dlogits, b * k, (b + 1) * k));
                for (int i = 0; i < ps.size(); i++) {
                    String n = ps.get(i).name;
                    float f = n.startsWith("blocks.1.attn.proj") ? ATTN1[b] : n.startsWith("blocks.0.mlp.fc2") ? MLP0[b]
                            : n.startsWith("blocks.2.mlp.fc2") ? MLP2[b] : 1f;
                    for (int j = 0; j < want[i].length; j++) want[i][j] += f * ps.get(i).grad[j];
                }
            }
        }
        try (VisionTransformer m = VisionTransformer.create(CFG, null, null, sd.copy(), 1, "t")) {
            List<Param> ps = m.weights().all();
            for (int i = 0; i < ps.size(); i++) {
                assertThat(Fixtures.relErr(grads.get(i), want[i])).as("gradient of %s", ps.get(i).name).isLessThan(1e-4);
            }
        }
    }

    private static void scale(StateDict sd, String layer, float f) {
        for (String part : new String[] {".weight", ".bias"}) {
            float[] v = sd.tensors().get(layer + part).data();
            for (int i = 0; i < v.length; i++) v[i] *= f;
        }
    }

    @Test
    void drawsDropAtTheRateAndKeepTheExpectation() {
        Tape tape = new Tape(CFG, 200);
        double[] rates = {0, 0.1, 0.3};
        int[] zeros = new int[3];
        double[] sum = new double[3];
        int draws = 50;
        for (long seed = 0; seed < draws; seed++) {
            tape.dropPath(rates, seed);
            assertThat(tape.blocks[0].keep1).as("rate 0: no drop path").isNull();
            for (int i = 1; i < 3; i++) {
                for (float[] keep : new float[][] {tape.blocks[i].keep1, tape.blocks[i].keep2}) {
                    for (float v : keep) {
                        if (v == 0) zeros[i]++;
                        else assertThat(v).isEqualTo((float) (1 / (1 - rates[i])));
                        sum[i] += v;
                    }
                }
            }
        }
        double n = draws * 2 * 200.0;
        for (int i = 1; i < 3; i++) {
            assertThat(zeros[i] / n).as("drop rate of block %d", i).isCloseTo(rates[i], org.assertj.core.data.Offset.offset(0.02));
            assertThat(sum[i] / n).as("mean factor of block %d", i).isCloseTo(1.0, org.assertj.core.data.Offset.offset(0.03));
        }
        tape.dropPath(rates, 7);
        float[] a = tape.blocks[2].keep2.clone();
        tape.dropPath(rates, 7);
        assertThat(tape.blocks[2].keep2).as("same seed, same draws (resume)").isEqualTo(a);
    }

    @Test
    void inferenceNeverDrops() {
        float[] px = HashInit.pixels(CFG, 2, 3);
        try (VisionTransformer m = VisionTransformer.create(CFG, null, null, HashInit.stateDict(CFG, 6, 2.0), 1, "t")) {
            float[] before = m.forward(px, 2, TokenReducer.NONE, false).logits().clone();
            Tape tape = m.newTape(2);
            tape.dropPath(new double[] {0.9, 0.9, 0.9}, 1);
            float[] trained = m.forward(tape, px, TokenReducer.NONE).clone();
            assertThat(Fixtures.relErr(trained, before)).as("the training forward did drop").isGreaterThan(1e-3);
            assertThat(m.forward(px, 2, TokenReducer.NONE, false).logits()).isEqualTo(before);
        }
    }
}
