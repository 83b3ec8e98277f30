package io.vitrim.cli;

import io.vitrim.io.ModelLoader;
import io.vitrim.model.StateDict;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code kill -9} of a training process — {@code train}, and {@code finetune --method cropr} on a
 * model folder — at random moments: whatever files it leaves are whole (the model folder loads,
 * the metrics parse), and {@code --resume} — or a fresh start when no epoch had finished — ends
 * with weights bit-identical to an uninterrupted run.
 */
class KillResumeTest {
    @TempDir
    Path tmp;

    Path dataset() throws IOException {
        return io.vitrim.testing.Fixtures.noiseClassFolders(tmp.resolve("data"), List.of("a", "b", "c"), 16, 16, 4, "%d.png");
    }

    List<String> args(Path data, Path out) {
        return List.of("train", "--data", data.toString(), "--arch", "vit_tiny_patch16_224", "--img-size", "16", "--patch-size", "4",
                "--embed-dim", "32", "--depth", "2", "--heads", "2", "--epochs", "25", "--batch", "8", "--warmup", "1",
                "--drop-path", "0.1", "--randaugment", "2,9", "--threads", "1", "--out", out.toString());
    }

    @Test
    void killedTrainingResumesToTheSameWeights() throws Exception {
        Path data = dataset();
        killAndResume(out -> args(data, out), out -> List.of("train", "--resume", "--threads", "1", "--out", out.toString()), "train");
    }

    @Test
    void killedCroprFinetuneResumesToTheSameWeights() throws Exception {
        Path data = dataset();
        // the model it fine-tunes: a short plain run of the same shapes
        Path base = tmp.resolve("base");
        List<String> a = new ArrayList<>(args(data, base));
        a.set(a.indexOf("--epochs") + 1, "2");
        CliTest.Run b = CliTest.run(a.toArray(String[]::new));
        assertThat(b.code()).as(b.err()).isZero();
        killAndResume(out -> List.of("finetune", "--method", "cropr", "--rate", "3", "--curriculum", "--model", base.toString(),
                        "--data", data.toString(), "--epochs", "20", "--batch", "8", "--drop-path", "0.1", "--threads", "1", "--out", out.toString()),
                out -> List.of("finetune", "--resume", "--threads", "1", "--out", out.toString()), "finetune");
    }

    private void killAndResume(java.util.function.Function<Path, List<String>> args, java.util.function.Function<Path, List<String>> resume,
                               String what) throws Exception {
        Path ref = tmp.resolve(what + "-ref");
        CliTest.Run r = CliTest.run(args.apply(ref).toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isZero();
        StateDict want = ModelLoader.readTensors(ref.resolve("model.safetensors"));
        String java = ProcessHandle.current().info().command().orElse("java");
        SplittableRandom rnd = new SplittableRandom(11);
        int resumed = 0;
        for (int round = 0; round < 3; round++) {
            Path out = tmp.resolve(what + "-run" + round);
            List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "-cp",
                    System.getProperty("java.class.path"), "io.vitrim.cli.Main"));
            cmd.addAll(args.apply(out));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve(what + "-child" + round + ".log").toFile()).start();
            if (round == 0) {
                Thread.sleep(200 + rnd.nextInt(1300)); // early: probably before the first checkpoint
            } else {
                // after some checkpoint, at a random moment of a later epoch (or of its writing)
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (!Files.exists(out.resolve("checkpoint.safetensors")) && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(20);
                Thread.sleep(rnd.nextInt(800));
            }
            p.destroyForcibly(); // SIGKILL
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            // whatever is there is whole
            if (Files.exists(out.resolve("model.safetensors"))) ModelLoader.readTensors(out.resolve("model.safetensors"));
            if (Files.exists(out.resolve("metrics.jsonl"))) {
                for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) io.vitrim.io.Json.parseObject(line);
            }
            boolean hasCheckpoint = Files.exists(out.resolve("checkpoint.safetensors"));
            List<String> again = new ArrayList<>(args.apply(out));
            if (hasCheckpoint) {
                again = new ArrayList<>(resume.apply(out));
                resumed++;
            } else if (Files.exists(out)) {
                try (Stream<Path> s = Files.list(out)) {
                    assertThat(s.map(f -> f.getFileName().toString()).filter(n -> !n.startsWith(".")).toList())
                            .as("no visible files before the first epoch's checkpoint").isEmpty();
                }
            }
            CliTest.Run rr = CliTest.run(again.toArray(String[]::new));
            assertThat(rr.code()).as(rr.err()).isZero();
            StateDict got = ModelLoader.readTensors(out.resolve("model.safetensors"));
            for (String k : want.tensors().keySet()) assertThat(got.get(k).data()).as("%s after kill in round %d", k, round).containsExactly(want.get(k).data());
        }
        System.err.printf("KillResumeTest (%s): 3 kills, %d resumed from a checkpoint%n", what, resumed);
        assertThat(resumed).as("at least one kill came after a checkpoint").isPositive();
    }
}
