package io.vitrim.cli;

import io.vitrim.io.Json;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The committed CIFAR-10 model on the real test set (2,000 evenly spread images of
 * {@code ../shared/data/cifar10/test.zip}): it must clear the accuracy docs/training.md claims
 * minus a margin for the subset, and ToMe must cost little. Skips loudly without the data.
 */
class EmbeddedModelTest {
    static final Path MODEL = Path.of("../models/cifar10-vit9-c2");
    /** The first embedded model (4 blocks): the fine-tuning tests' rate limits are for its depth. */
    static final Path FOUR_BLOCK = Path.of("../models/cifar10-vit");
    static final Path TEST = Path.of("../../shared/data/cifar10/test.zip");

    @Test
    void embeddedModelClassifiesTheCifar10TestSet() {
        if (!Files.isRegularFile(TEST)) {
            System.err.println("SKIPPED EmbeddedModelTest: " + TEST.toAbsolutePath().normalize() + " is absent (the ../shared data set)");
            Assumptions.abort("needs " + TEST);
        }
        CliTest.Run r = CliTest.run("eval", "--model", MODEL.toString(), "--data", TEST.toString(), "--limit", "2000",
                "--reduce", "none", "--reduce", "tome:r=4", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        List<?> results = (List<?>) Json.parseObject(r.out().trim()).get("results");
        double none = top1((Map<?, ?>) results.get(0)), tome = top1((Map<?, ?>) results.get(1));
        assertThat(none).as("top-1 of the embedded model").isGreaterThan(MIN_TOP1);
        assertThat(tome).as("top-1 with tome:r=4").isGreaterThan(none - 0.05);
    }

    /** The full-test-set accuracy in docs/training.md minus 3 points of subset noise. */
    static final double MIN_TOP1 = 0.78; // 81.92 %

    static double top1(Map<?, ?> m) {
        return ((Number) m.get("top1")).doubleValue();
    }
}
