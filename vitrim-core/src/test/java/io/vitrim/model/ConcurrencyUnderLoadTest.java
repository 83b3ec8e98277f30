package io.vitrim.model;

import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.image.RgbImage;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.testing.HashInit;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One loaded model under load: 8 threads × 1,000 mixed calls (methods, batch sizes, raw image
 * sizes through preprocessing) give exactly the single-threaded logits; 10,000 inferences do not
 * grow the heap; closing the model while calls run ends them or refuses new ones with a clean
 * error — no hang, no crash.
 */
class ConcurrencyUnderLoadTest {
    static final ViTConfig CFG = new ViTConfig("t", 32, 32, 4, 3, 64, 4, 4, 128, true, true, false,
            ViTConfig.Pool.TOKEN, false, 10, 1e-6f);
    static final PreprocessConfig PRE = new PreprocessConfig(32, 32, 0.9, PreprocessConfig.Interpolation.BICUBIC,
            PreprocessConfig.Resize.SHORTER_SIDE, PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD);
    static final String[] SPECS = {"none", "tome:r=4", "ltmp:merge=0.6,prune=0.012", "topk:r=3", "random:r=5", "tome:r=2,pool=wavg"};

    static List<RgbImage> images(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<RgbImage> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int w = 20 + r.nextInt(40), h = 20 + r.nextInt(40);
            byte[] px = new byte[w * h * 3];
            r.nextBytes(px);
            out.add(new RgbImage(w, h, px));
        }
        return out;
    }

    record Call(int spec, List<RgbImage> batch) {}

    @Test
    void eightThreadsOfMixedCallsGiveTheSingleThreadedResults() throws Exception {
        List<RgbImage> pool = images(24, 1);
        SplittableRandom r = new SplittableRandom(2);
        List<Call> calls = new ArrayList<>();
        for (int i = 0; i < 8000; i++) {
            int b = 1 + r.nextInt(4), from = r.nextInt(pool.size() - b);
            calls.add(new Call(r.nextInt(SPECS.length), pool.subList(from, from + b)));
        }
        StateDict sd = HashInit.stateDict(CFG, 3, 2.0);
        float[][] want = new float[calls.size()][];
        try (VisionTransformer single = VisionTransformer.create(CFG, PRE, null, sd, 1, "single")) {
            TokenReducer[] red = new TokenReducer[SPECS.length];
            for (int k = 0; k < SPECS.length; k++) red[k] = single.reducer(SPECS[k]);
            for (int i = 0; i < calls.size(); i++) want[i] = logits(single.classify(calls.get(i).batch(), red[calls.get(i).spec()]));
        }
        try (VisionTransformer shared = VisionTransformer.create(CFG, PRE, null, sd, 2, "shared")) {
            TokenReducer[] red = new TokenReducer[SPECS.length];
            for (int k = 0; k < SPECS.length; k++) red[k] = shared.reducer(SPECS[k]);
            ExecutorService ex = Executors.newFixedThreadPool(8);
            List<Future<Integer>> fs = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int t0 = t;
                fs.add(ex.submit(() -> {
                    int wrong = 0;
                    for (int i = t0; i < calls.size(); i += 8) {
                        float[] got = logits(shared.classify(calls.get(i).batch(), red[calls.get(i).spec()]));
                        if (!java.util.Arrays.equals(got, want[i])) wrong++;
                    }
                    return wrong;
                }));
            }
            int wrong = 0;
            for (Future<Integer> f : fs) wrong += f.get(5, TimeUnit.MINUTES);
            ex.shutdown();
            assertThat(wrong).as("calls whose logits differ from the single-threaded run").isZero();
        }
    }

    static float[] logits(List<Prediction> ps) {
        List<Float> all = new ArrayList<>();
        for (Prediction p : ps) for (float v : p.logits()) all.add(v);
        float[] out = new float[all.size()];
        for (int i = 0; i < out.length; i++) out[i] = all.get(i);
        return out;
    }

    static long usedAfterGc() throws InterruptedException {
        Runtime rt = Runtime.getRuntime();
        long best = Long.MAX_VALUE;
        for (int k = 0; k < 4; k++) {
            System.gc();
            Thread.sleep(50);
            best = Math.min(best, rt.totalMemory() - rt.freeMemory());
        }
        return best;
    }

    @Test
    void tenThousandInferencesDoNotGrowTheHeap() throws Exception {
        List<RgbImage> pool = images(8, 5);
        try (VisionTransformer m = VisionTransformer.create(CFG, PRE, null, HashInit.stateDict(CFG, 3, 2.0), 1, "m")) {
            TokenReducer tome = m.reducer("tome:r=4");
            for (int i = 0; i < 1000; i++) m.classify(pool.subList(i % 4, i % 4 + 1 + i % 4), i % 2 == 0 ? tome : TokenReducer.NONE);
            long before = usedAfterGc();
            for (int i = 0; i < 10_000; i++) m.classify(pool.subList(i % 4, i % 4 + 1 + i % 4), i % 2 == 0 ? tome : TokenReducer.NONE);
            long after = usedAfterGc();
            System.err.printf("ConcurrencyUnderLoadTest: heap after GC %.1f MiB before, %.1f MiB after 10,000 inferences%n",
                    before / 1048576.0, after / 1048576.0);
            assertThat(after - before).as("heap growth over 10,000 inferences").isLessThan(8L << 20);
        }
    }

    @Test
    void closingWhileCallsRunEndsCleanly() throws Exception {
        List<RgbImage> pool = images(4, 7);
        int refused = 0;
        for (int round = 0; round < 20; round++) {
            VisionTransformer m = VisionTransformer.create(CFG, PRE, null, HashInit.stateDict(CFG, 3, 2.0), 2, "m" + round);
            ExecutorService ex = Executors.newFixedThreadPool(4);
            List<Future<String>> fs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                fs.add(ex.submit(() -> {
                    try {
                        for (int i = 0; i < 10_000; i++) m.classify(pool, TokenReducer.NONE);
                        return "finished";
                    } catch (IllegalStateException e) {
                        return e.getMessage();
                    }
                }));
            }
            Thread.sleep(5 + round);
            m.close();
            for (Future<String> f : fs) {
                String outcome = f.get(60, TimeUnit.SECONDS);
                assertThat(outcome).matches("finished|the model m\\d+ is closed");
                if (!outcome.equals("finished")) refused++;
            }
            ex.shutdown();
        }
        // 10,000 calls per task outlast the 5-24 ms before close(): calls were refused, not only finished
        assertThat(refused).as("calls refused after close()").isPositive();
    }
}
