package io.vitrim.cli;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** DeiT-S at batch 32 must run in a 1 GiB heap (issue: "Memory"). */
class MemoryTest {
    @Test
    void deitSmallBatch32FitsInOneGigabyteHeap() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(List.of(java, "-Xmx1g", "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "bench", "--arch", "deit_small_patch16_224", "--batch", "32", "--warmup", "0", "--rounds", "1", "--json"));
        pb.redirectErrorStream(true);
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
        String text = new String(out, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(text).isZero();
        assertThat(text).contains("\"batch\":32").doesNotContain("OutOfMemoryError");
    }

    /** A model past the heap (the DINOv2 giant's 1.1 B parameters in 256 MiB): one line with the heap it had and one to try, exit 1. */
    @Test
    void aModelPastTheHeapSaysSoInOneLine() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(List.of(java, "-Xmx256m", "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "info", "--arch", "vit_giant_patch14_dinov2", "--img-size", "56"));
        pb.redirectErrorStream(true);
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
        String text = new String(out, StandardCharsets.UTF_8).trim();
        assertThat(p.exitValue()).as(text).isEqualTo(1);
        // the JVM's own incubator-module warning aside, one line
        List<String> lines = text.lines().filter(l -> !l.startsWith("WARNING: Using incubator modules")).toList();
        assertThat(lines).as(text).hasSize(1);
        assertThat(lines.get(0)).startsWith("vitrim: out of memory (Java heap space; heap limit 0.").endsWith("e.g. JAVA_OPTS=-Xmx4g");
        assertThat(Main.outOfMemory(new OutOfMemoryError("Java heap space"), 6L << 30)).contains("heap limit 6.0 GiB").endsWith("-Xmx12g");
    }
}
