package io.vitrim.io;

import io.vitrim.VitrimException;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Ltmp;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.testing.HashInit;
import io.vitrim.testing.Mutator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Threshold side files ({@code ltmp:file=}) mutated 10,000 times — bytes, lengths, the JSON
 * header's numbers — give a reducer whose thresholds are all in [0, 1], or vitrim's one-line
 * error naming the file. {@code -Dvitrim.fuzz.n=N} runs more.
 */
class SideWeightsFuzzTest {
    static final ViTConfig CFG = new ViTConfig("t", 16, 16, 4, 3, 32, 3, 2, 64, true, true, false,
            ViTConfig.Pool.TOKEN, false, 5, 1e-6f);

    @TempDir
    Path tmp;

    @Test
    void mutatedThresholdFilesBindOrFailWithOneLine() throws IOException {
        Map<String, float[]> w = new LinkedHashMap<>();
        for (int i = 0; i < CFG.depth(); i++) {
            w.put("blocks." + i + ".merge_masker.threshold", new float[] {new float[] {0.9f, 0.8f, 0.7f}[i]});
            w.put("blocks." + i + ".prune_masker.threshold", new float[] {0.01f * i});
        }
        Path good = tmp.resolve("good.safetensors"), f = tmp.resolve("fuzz.safetensors");
        SideWeights.write(good, w, Map.of("method", "ltmp", "target", "0.5"));
        byte[] seed = Files.readAllBytes(good);
        int n = Integer.getInteger("vitrim.fuzz.n", 10_000), bound = 0;
        List<String> failures = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(3);
        try (VisionTransformer m = VisionTransformer.create(CFG, null, null, HashInit.stateDict(CFG, 1, 1.0), 1, "t")) {
            TokenReducer ok = SideWeights.reducer(m, "ltmp:file=" + good);
            assertThat(((Ltmp) ok).mergeThresholds()).containsExactly(0.9f, 0.8f, 0.7f);
            for (int i = 0; i < n && failures.size() < 5; i++) {
                byte[] b = Mutator.mutate(seed, r);
                if (i % 3 == 0) { // the 8-byte header length, or a digit inside the JSON header
                    if (r.nextBoolean()) Mutator.field(b, 0, r.nextLong(1L << 40), 8, false);
                    else if (b.length > 20) b[8 + r.nextInt(Math.min(b.length - 8, 200))] = (byte) "0123456789-.e,:[]\"".charAt(r.nextInt(18));
                }
                Files.write(f, b);
                try {
                    TokenReducer red = SideWeights.reducer(m, "ltmp:file=" + f);
                    for (float t : ((Ltmp) red).mergeThresholds()) assertThat(t).isBetween(0f, 1f);
                    for (float t : ((Ltmp) red).pruneThresholds()) assertThat(t).isBetween(0f, 1f);
                    bound++;
                } catch (VitrimException e) {
                    if (e.getMessage() == null || e.getMessage().contains("\n") || !e.getMessage().contains("fuzz.safetensors")) {
                        failures.add("not one line naming the file: " + e.getMessage());
                    }
                } catch (RuntimeException | Error e) {
                    failures.add("mutation " + i + ": " + e);
                }
            }
        }
        assertThat(failures).as("mutations that escaped as other exceptions").isEmpty();
        assertThat(bound).as("some mutations still bind").isPositive();
        System.err.printf("SideWeightsFuzzTest: %d mutations, %d bound, the rest one-line errors%n", n, bound);
    }
}
