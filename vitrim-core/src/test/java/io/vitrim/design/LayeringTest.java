package io.vitrim.design;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The package layers of docs/design.md §1: a package of vitrim-core refers only to packages
 * above it in {@link #LAYERS} (imports and fully qualified names alike).
 */
class LayeringTest {
    static final List<String> LAYERS = List.of("config", "engine", "image", "data", "reduce", "model", "io", "measure", "train");
    static final Pattern REF = Pattern.compile("io\\.vitrim\\.([a-z]+)\\.[A-Z]");

    @Test
    void noPackageRefersToOneBelowIt() throws IOException {
        Path root = Path.of("src/main/java/io/vitrim");
        List<String> violations = new ArrayList<>();
        int files = 0;
        try (Stream<Path> all = Files.walk(root)) {
            for (Path f : all.filter(p -> p.toString().endsWith(".java")).toList()) {
                Path rel = root.relativize(f);
                if (rel.getNameCount() < 2) continue; // VitrimException at the root
                String pkg = rel.getName(0).toString();
                assertThat(LAYERS).as("package %s is in the layer list of design.md §1", pkg).contains(pkg);
                files++;
                Matcher m = REF.matcher(Files.readString(f));
                while (m.find()) {
                    String used = m.group(1);
                    if (LAYERS.contains(used) && LAYERS.indexOf(used) > LAYERS.indexOf(pkg)) violations.add(rel + " -> " + used);
                }
            }
        }
        assertThat(files).isGreaterThan(50);
        assertThat(violations).as("references to a lower layer").isEmpty();
    }
}
