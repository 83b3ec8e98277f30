package io.vitrim.cli;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Heap limits: DeiT-S at batch 32 runs in 1 GiB (issue: "Memory"); a model past the heap says so up front. */
class MemoryTest {
    record Run(int code, String out) {}

    /** {@code vitrim ARGS} in a fresh JVM with {@code -Xmx}{@code heap}; output without the JVM's own notices. */
    private static Run vitrim(String heap, String... args) throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(javaBin, "-Xmx" + heap, "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectErrorStream(true);
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        File log = File.createTempFile("vitrim-memory", ".log"); // a file, not a pipe: the wait below stays bounded
        log.deleteOnExit();
        pb.redirectOutput(log);
        Process p = pb.start();
        boolean ended = p.waitFor(5, TimeUnit.MINUTES);
        if (!ended) p.destroyForcibly();
        byte[] out = Files.readAllBytes(log.toPath());
        assertThat(ended).as("vitrim %s ended within 5 minutes; output: %s", String.join(" ", args), new String(out, StandardCharsets.UTF_8)).isTrue();
        String text = new String(out, StandardCharsets.UTF_8).lines()
                .filter(l -> !l.startsWith("WARNING: Using incubator modules") && !l.startsWith("Picked up JAVA_TOOL_OPTIONS"))
                .reduce("", (a, b) -> a.isEmpty() ? b : a + "\n" + b);
        return new Run(p.exitValue(), text);
    }

    @Test
    void deitSmallBatch32FitsInOneGigabyteHeap() throws Exception {
        Run r = vitrim("1g", "bench", "--arch", "deit_small_patch16_224", "--batch", "32", "--warmup", "0", "--rounds", "1", "--json");
        assertThat(r.code()).as(r.out()).isZero();
        assertThat(r.out()).contains("\"batch\":32").doesNotContain("OutOfMemoryError");
    }

    /** The DINOv2 giant's 1.1 B parameters in 256 MiB: refused before allocating, in one line with a heap to run at. */
    @Test
    void aModelPastTheHeapIsRefusedUpFront() throws Exception {
        Run r = vitrim("256m", "info", "--arch", "vit_giant_patch14_dinov2", "--img-size", "56");
        assertThat(r.code()).as(r.out()).isEqualTo(2);
        assertThat(r.out()).startsWith("vitrim: vit_giant_patch14_dinov2: the weights need 4.5 GB as float32").contains("the heap limit is 0.")
                .endsWith("run with JAVA_OPTS=-Xmx11g").doesNotContain("\n");
        // and a real out-of-memory error (activations) names the heap it had
        assertThat(Main.outOfMemory(new OutOfMemoryError("Java heap space"), 6L << 30)).contains("heap limit 6.0 GiB").endsWith("-Xmx12g");
    }
}
