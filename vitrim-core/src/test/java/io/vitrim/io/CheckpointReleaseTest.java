package io.vitrim.io;

import io.vitrim.model.VisionTransformer;
import io.vitrim.testing.Fixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A loaded model holds no file of its checkpoint: once {@link ModelLoader#load} returns, the
 * process has neither an open descriptor nor a memory mapping of {@code model.safetensors}
 * (Linux's /proc/self/fd and /proc/self/maps), so the file can be replaced or deleted while the
 * model serves, and closing the model leaves nothing behind either.
 */
class CheckpointReleaseTest {
    @TempDir
    Path tmp;

    @Test
    void aLoadedModelHoldsNoFileOrMappingOfItsCheckpoint() throws IOException {
        if (!Files.isReadable(Path.of("/proc/self/maps"))) {
            System.err.println("SKIPPED CheckpointReleaseTest: no /proc/self/maps (not Linux)");
            Assumptions.abort("needs /proc/self/maps");
        }
        Path src = Fixtures.path("loader/timm_model"), dir = tmp.resolve("model");
        Files.createDirectories(dir);
        for (String f : new String[] {"config.json", "model.safetensors"}) Files.copy(src.resolve(f), dir.resolve(f));
        Path ck = dir.resolve("model.safetensors").toRealPath();
        try (VisionTransformer m = ModelLoader.load(dir, null, 1)) {
            assertThat(references(ck)).as("open files and mappings of the checkpoint while the model is loaded").isEmpty();
            // the serving model does not need the file
            Files.delete(ck);
            float[] px = new float[3 * m.config().imgHeight() * m.config().imgWidth()];
            assertThat(m.forward(px, 1, io.vitrim.reduce.TokenReducer.NONE, false).logits()).hasSize(m.config().numClasses());
        }
        assertThat(references(ck)).isEmpty();
    }

    /** Lines of /proc/self/maps and targets of /proc/self/fd that name {@code file}. */
    static List<String> references(Path file) throws IOException {
        List<String> out = new ArrayList<>();
        String name = file.toString();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) if (line.contains(name)) out.add("map: " + line);
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith(name)) out.add("fd " + fd.getFileName() + ": " + target);
                } catch (IOException e) {
                    // the descriptor Files.list itself used, already closed
                }
            }
        }
        return out;
    }
}
