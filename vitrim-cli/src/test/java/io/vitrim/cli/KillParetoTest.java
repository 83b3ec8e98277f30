package io.vitrim.cli;

import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.io.Json;
import io.vitrim.io.ModelFolder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code kill -9} of a {@code pareto} sweep at random moments after it measured some points:
 * the report files it leaves are whole or absent (each is written atomically), a torn last line
 * of its point cache is skipped, and rerunning the same command continues from the cache to the
 * same accuracies and MACs as an uninterrupted sweep.
 */
class KillParetoTest {
    @TempDir
    Path tmp;

    @Test
    void killedSweepContinuesFromItsCache() throws Exception {
        List<String> classes = List.of("ant", "bee", "cat");
        Path data = io.vitrim.testing.Fixtures.noiseClassFolders(tmp.resolve("data"), classes, 40, 20, 6, "%d.png");
        ViTConfig cfg = new ViTConfig("vit_tiny_patch16_224", 16, 16, 4, 3, 32, 4, 2, 64, true, true, false, ViTConfig.Pool.TOKEN, false, 3, 1e-6f);
        PreprocessConfig pre = new PreprocessConfig(16, 16, 1.0, PreprocessConfig.Interpolation.BICUBIC, PreprocessConfig.Resize.SHORTER_SIDE,
                PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD);
        Path model = tmp.resolve("model");
        ModelFolder.write(model, cfg, pre, classes, io.vitrim.testing.HashInit.stateDict(cfg, 9, 2.0), null);

        Path ref = tmp.resolve("ref");
        CliTest.Run full = CliTest.run(args(model, data, ref).toArray(String[]::new));
        assertThat(full.code()).as(full.err()).isZero();
        Map<String, double[]> want = points(ref);

        String java = ProcessHandle.current().info().command().orElse("java");
        SplittableRandom rnd = new SplittableRandom(13);
        int continued = 0;
        for (int round = 0; round < 3; round++) {
            Path out = tmp.resolve("run" + round);
            List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                    "io.vitrim.cli.Main"));
            cmd.addAll(args(model, data, out));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("child" + round + ".log").toFile()).start();
            // after a few measured points, at a random moment of a later one (or of the report's writing)
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            Path cache = out.resolve("points.jsonl");
            while (p.isAlive() && System.nanoTime() < deadline && (!Files.exists(cache) || Files.readAllLines(cache).size() < 2 + round)) Thread.sleep(10);
            Thread.sleep(rnd.nextInt(300));
            p.destroyForcibly(); // SIGKILL
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            // whatever report files are there are whole
            if (Files.exists(out.resolve("results.json"))) Json.parseObject(Files.readString(out.resolve("results.json")));
            if (Files.exists(out.resolve("report.html"))) assertThat(Files.readString(out.resolve("report.html"))).endsWith("</html>\n");
            try (var s = Files.list(out)) {
                assertThat(s.map(f -> f.getFileName().toString()).filter(n -> !n.startsWith(".") && n.endsWith(".tmp")).toList()).as("no visible partial files").isEmpty();
            }
            int cachedBefore = Files.exists(cache) ? Files.readAllLines(cache).size() : 0;
            CliTest.Run again = CliTest.run(args(model, data, out).toArray(String[]::new));
            assertThat(again.code()).as(again.err()).isZero();
            if (cachedBefore > 1 && !again.out().contains(", 0 measured now")) continued++;
            Map<String, double[]> got = points(out);
            assertThat(got.keySet()).as("points after the kill in round %d", round).isEqualTo(want.keySet());
            for (Map.Entry<String, double[]> e : want.entrySet()) {
                assertThat(got.get(e.getKey())).as("top-1, top-5, GMACs of %s after the kill in round %d", e.getKey(), round).containsExactly(e.getValue());
            }
        }
        System.err.printf("KillParetoTest: 3 kills, %d reruns continued from a cache%n", continued);
        assertThat(continued).as("at least one rerun continued from the points measured before its kill").isPositive();
    }

    static List<String> args(Path model, Path data, Path out) {
        return List.of("pareto", "--model", model.toString(), "--data", data.toString(), "--methods", "tome,random,topk", "--warmup", "0",
                "--rounds", "2", "--batch", "16", "--threads", "1", "--out", out.toString());
    }

    static Map<String, double[]> points(Path dir) throws java.io.IOException {
        Map<String, double[]> m = new HashMap<>();
        for (Object o : (List<?>) Json.parseObject(Files.readString(dir.resolve("results.json"))).get("points")) {
            Map<?, ?> p = (Map<?, ?>) o;
            m.put((String) p.get("spec"), new double[] {((Number) p.get("top1")).doubleValue(), ((Number) p.get("top5")).doubleValue(),
                    ((Number) p.get("gmacs")).doubleValue()});
        }
        return m;
    }
}
