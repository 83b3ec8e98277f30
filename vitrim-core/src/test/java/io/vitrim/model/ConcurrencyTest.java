package io.vitrim.model;

import io.vitrim.config.ViTConfig;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/** One loaded model serving forward passes from several threads at once. */
class ConcurrencyTest {
    @Test
    void concurrentCallsGiveTheSingleThreadedBits() throws Exception {
        ViTConfig c = new ViTConfig("t", 32, 32, 4, 3, 64, 4, 4, 256, true, true, false, ViTConfig.Pool.TOKEN, false, 10, 1e-6f);
        StateDict sd = HashInit.stateDict(c, 5, 2.0);
        int images = 6;
        float[][] px = new float[images][];
        float[][] expected = new float[images][];
        try (VisionTransformer single = VisionTransformer.create(c, null, null, sd, 1, "t")) {
            for (int i = 0; i < images; i++) {
                px[i] = HashInit.pixels(c, 1, 100 + i);
                expected[i] = single.forward(px[i], 1, TokenReducer.NONE, false).logits();
            }
        }
        try (VisionTransformer shared = VisionTransformer.create(c, null, null, sd, 2, "t")) {
            ExecutorService ex = Executors.newFixedThreadPool(4);
            List<Future<Boolean>> fs = new ArrayList<>();
            for (int rep = 0; rep < 40; rep++) {
                int i = rep % images;
                fs.add(ex.submit(() -> java.util.Arrays.equals(shared.forward(px[i], 1, TokenReducer.NONE, false).logits(), expected[i])));
            }
            for (Future<Boolean> f : fs) assertThat(f.get()).isTrue();
            ex.shutdown();
        }
    }
}
