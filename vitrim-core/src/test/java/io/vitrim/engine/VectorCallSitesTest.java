package io.vitrim.engine;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Guards a performance rule no functional test can see: vector code calls rare operations as
 * {@code lanewise(OP, v)} / {@code compare(OP, v)} on its own call site, never through the JDK's
 * convenience helpers ({@code v.max(w)}, {@code v.lt(w)}, {@code v.div(2f)}, ...). Those reach the
 * abstract {@code lanewise} through a helper whose type profile may be empty when C2 compiles the
 * caller; C2 then keeps a virtual call that boxes every vector (the softmax ran 2.2x slower in 4
 * of 10 JVMs that way, see VecMath). Frequent operations (add, sub, mul, fma) are exempt: their
 * helpers are profiled by the GEMM kernels long before anything else compiles.
 */
class VectorCallSitesTest {
    // blend(vector, mask) is itself abstract (fine); blend(0f, mask) goes through a helper
    private static final Pattern HELPER = Pattern.compile("(\\w+)\\s*\\)?\\s*\\.(?:(?:max|min|lt|gt|eq|div|neg|abs|sqrt|pow)\\(|blend\\(\\s*-?[0-9])");

    @Test
    void vectorCodeCallsRareOperationsOnItsOwnCallSite() throws IOException {
        Path root = Path.of("src/main/java/io/vitrim");
        assertThat(root).as("run from the vitrim-core module").isDirectory();
        List<String> found = new ArrayList<>();
        List<Path> vectorFiles;
        try (Stream<Path> files = Files.walk(root)) {
            vectorFiles = files.filter(f -> f.toString().endsWith(".java")).toList();
        }
        int checked = 0;
        for (Path f : vectorFiles) {
            String src = Files.readString(f);
            if (!src.contains("jdk.incubator.vector")) continue;
            checked++;
            String[] lines = src.split("\n");
            for (int i = 0; i < lines.length; i++) {
                Matcher m = HELPER.matcher(lines[i]);
                while (m.find()) {
                    String receiver = m.group(1);
                    if (Set.of("Math", "StrictMath", "Float", "Integer", "Long", "Double").contains(receiver)) continue;
                    found.add(root.relativize(f) + ":" + (i + 1) + ": " + lines[i].trim());
                }
            }
        }
        assertThat(checked).as("files using the Vector API").isGreaterThanOrEqualTo(5);
        assertThat(found).as("vector convenience helpers (use lanewise/compare with a vector operand)").isEmpty();
    }

    @Test
    void theRuleCatchesWhatItShould() {
        assertThat(HELPER.matcher("vmax = vmax.max(x);").find()).isTrue();
        assertThat(HELPER.matcher("acc.div(inv).intoArray(dst, 0);").find()).isTrue();
        assertThat(HELPER.matcher("FloatVector.fromArray(F, a, j).lt(limit)").find()).isTrue();
        Matcher m = HELPER.matcher("float m = Math.max(a, b);");
        assertThat(m.find() && !m.group(1).equals("Math")).isFalse();
        assertThat(HELPER.matcher("x.lanewise(VectorOperators.MAX, y)").find()).isFalse();
        assertThat(HELPER.matcher("p.blend(0f, under)").find()).isTrue();
        assertThat(HELPER.matcher("p.blend(V_ZERO, under)").find()).isFalse();
    }
}
