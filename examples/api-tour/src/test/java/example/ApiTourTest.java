package example;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tour runs on the repository's model and samples and prints its six steps. */
class ApiTourTest {
    @Test
    void runsAllSixSteps() throws Exception {
        Path root = Path.of("../..").toAbsolutePath().normalize();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ApiTour.run(root.resolve("models/cifar10-vit9-c2"), root.resolve("samples"), new PrintStream(buf, true, StandardCharsets.UTF_8));
        String[] lines = buf.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals(6, lines.length, String.join("\n", lines));
        for (int i = 0; i < 6; i++) assertTrue(lines[i].startsWith((i + 1) + ". "), lines[i]);
        assertTrue(lines[2].contains("batch of 20"), lines[2]);
        assertTrue(lines[3].contains("10 values"), lines[3]);
        assertTrue(lines[5].contains("8x8 patch logits -> 32x32 mask (1024 pixels)"), lines[5]);
    }
}
