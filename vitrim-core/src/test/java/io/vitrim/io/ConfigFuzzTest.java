package io.vitrim.io;

import io.vitrim.VitrimException;
import io.vitrim.model.VisionTransformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A model folder whose config.json is mutated — bytes flipped, cut, spliced, numbers and
 * strings edited in place — must load and run, or fail with vitrim's own one-line error; never
 * another exception, a hang or an out-of-memory (a config that asks for a huge model is refused
 * because its weights do not match it, before anything is allocated for it).
 * {@code -Dvitrim.fuzz.n=N} runs more mutations (default 10,000, about 12 s).
 */
class ConfigFuzzTest {
    static final Path MODEL = Path.of("src/test/resources/fixtures/loader/timm_model");

    @TempDir
    Path tmp;

    static final String[] NUMBERS = {"0", "-1", "1", "3", "7", "1e9", "2147483647", "-2147483648", "99999999999", "0.0", "1e-300",
        "NaN", "\"x\"", "null", "true", "[]", "{}", "[1,2]", "1.5"};

    @Test
    void mutatedConfigsLoadOrFailWithOneLine() throws IOException {
        fuzz(MODEL, "m", Integer.getInteger("vitrim.fuzz.n", 10_000), 42);
    }

    /** The same for an EVA02 folder (its own model_args: RoPE's reference grid, SwiGLU, fused or separate q/k/v). */
    @Test
    void mutatedEvaConfigsLoadOrFailWithOneLine() throws IOException {
        fuzz(Path.of("src/test/resources/fixtures/encoders/eva02"), "eva", Integer.getInteger("vitrim.fuzz.n", 10_000) / 5, 43);
    }

    private void fuzz(Path model, String name, int n, long seed) throws IOException {
        String good = Files.readString(model.resolve("config.json"));
        Path dir = Files.createDirectories(tmp.resolve(name));
        Files.copy(model.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        SplittableRandom r = new SplittableRandom(seed);
        List<String> failures = new ArrayList<>();
        int loaded = 0;
        for (int i = 0; i < n; i++) {
            String cfg = mutate(good, r);
            Files.writeString(dir.resolve("config.json"), cfg, StandardCharsets.ISO_8859_1);
            try (VisionTransformer m = ModelLoader.load(dir, null, 1)) {
                float[] px = new float[3 * m.config().imgHeight() * m.config().imgWidth()];
                m.forward(px, 1, io.vitrim.reduce.TokenReducer.NONE, false);
                loaded++;
            } catch (VitrimException e) {
                if (e.getMessage() == null || e.getMessage().contains("\n")) failures.add("multi-line: " + e.getMessage());
            } catch (RuntimeException | Error e) {
                failures.add(e + " for " + cfg.replace('\n', ' '));
                if (failures.size() > 5) break;
            }
        }
        System.err.printf("ConfigFuzzTest (%s): %d mutations, %d loaded and ran, the rest one-line errors%n", name, n, loaded);
        assertThat(failures).as("mutations that escaped as other exceptions").isEmpty();
        assertThat(loaded).as("some mutations still load").isGreaterThan(0);
    }

    static String mutate(String s, SplittableRandom r) {
        StringBuilder b = new StringBuilder(s);
        int kind = r.nextInt(5);
        switch (kind) {
            case 0 -> { // flip bytes
                for (int k = 0; k < 1 + r.nextInt(4); k++) {
                    int at = r.nextInt(b.length());
                    b.setCharAt(at, (char) ((b.charAt(at) ^ (1 << r.nextInt(8))) & 0xff));
                }
            }
            case 1 -> b.setLength(r.nextInt(b.length())); // truncate
            case 2 -> { // splice a piece elsewhere
                int a = r.nextInt(b.length()), len = r.nextInt(Math.min(40, b.length() - a) + 1), at = r.nextInt(b.length());
                b.insert(at, b.substring(a, a + len));
            }
            default -> { // replace a number, or a quoted string, by an odd value
                List<int[]> spans = new ArrayList<>();
                java.util.regex.Matcher m = java.util.regex.Pattern.compile(kind == 3 ? "-?[0-9][0-9.eE+-]*" : "\"[a-z_]+\"").matcher(s);
                while (m.find()) spans.add(new int[] {m.start(), m.end()});
                if (spans.isEmpty()) break;
                int[] sp = spans.get(r.nextInt(spans.size()));
                String v = kind == 3 ? NUMBERS[r.nextInt(NUMBERS.length)] : r.nextBoolean() ? "\"avg\"" : NUMBERS[r.nextInt(NUMBERS.length)];
                b.replace(sp[0], sp[1], v);
            }
        }
        return b.toString();
    }
}
