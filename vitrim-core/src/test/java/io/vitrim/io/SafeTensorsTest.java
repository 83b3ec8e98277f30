package io.vitrim.io;

import io.vitrim.VitrimException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafeTensorsTest {
    @TempDir
    Path dir;

    /** A file from a raw header string and data bytes. */
    Path raw(String name, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path p = dir.resolve(name);
        Files.write(p, b.array());
        return p;
    }

    @Test
    void roundTripAndDtypes() throws IOException {
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        t.put("a", new SafeTensors.Tensor(new float[] {1, -2.5f, 3e-8f, 65504f}, 2, 2));
        t.put("empty", new SafeTensors.Tensor(new float[0], 0, 3));
        Path p = dir.resolve("x.safetensors");
        SafeTensors.write(p, t, Map.of("format", "pt"));
        try (SafeTensors st = SafeTensors.open(p)) {
            assertThat(st.floats("a")).containsExactly(1, -2.5f, 3e-8f, 65504f);
            assertThat(st.entry("empty").shape()).containsExactly(0, 3);
            assertThat(st.metadata()).containsEntry("format", "pt");
        }
        // F16: 1.0 = 0x3c00, -2 = 0xc000, smallest subnormal 0x0001, inf 0x7c00; BF16: 1.0 = 0x3f80
        byte[] f16 = {0x00, 0x3c, 0x00, (byte) 0xc0, 0x01, 0x00, 0x00, 0x7c};
        byte[] bf16 = {(byte) 0x80, 0x3f, (byte) 0xc0, (byte) 0xbf};
        byte[] data = new byte[12];
        System.arraycopy(f16, 0, data, 0, 8);
        System.arraycopy(bf16, 0, data, 8, 4);
        Path q = raw("h.safetensors", "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]}}", data);
        try (SafeTensors st = SafeTensors.open(q)) {
            assertThat(st.floats("h")).containsExactly(1f, -2f, 0x1p-24f, Float.POSITIVE_INFINITY);
            assertThat(st.floats("b")).containsExactly(1f, -1.5f);
        }
    }

    void bad(Path p, String fragment) {
        assertThatThrownBy(() -> {
            try (SafeTensors st = SafeTensors.open(p)) {
                for (String k : st.entries().keySet()) st.floats(k);
            }
        }).isInstanceOf(VitrimException.class)
                .hasMessageStartingWith(p.toString())
                .hasMessageContaining(fragment)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @Test
    void rejectsBrokenFilesWithOneLineNamingTheProblem() throws IOException {
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        bad(tiny, "shorter than the 8-byte header length");

        ByteBuffer huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE / 2).putLong(0);
        Files.write(dir.resolve("huge.safetensors"), huge.array());
        bad(dir.resolve("huge.safetensors"), "header length");

        ByteBuffer past = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).putLong(0);
        Files.write(dir.resolve("past.safetensors"), past.array());
        bad(dir.resolve("past.safetensors"), "runs past the end of the file");

        bad(raw("nonjson.safetensors", "not json at all!", new byte[0]), "header is not JSON");
        bad(raw("array.safetensors", "[1,2,3]  ", new byte[0]), "header is not JSON");
        bad(raw("dtype.safetensors", "{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[1]), "unsupported dtype Q4");
        bad(raw("range.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[4]), "run past the data section");
        bad(raw("size.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]), "needs 12 bytes");
        bad(raw("overlap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]), "overlap");
        bad(raw("neg.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", new byte[4]), "invalid shape");
        bad(raw("backwards.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", new byte[8]), "end before begin");
        bad(raw("overflow.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}", new byte[4]), "overflows");
        bad(raw("missing.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", new byte[4]), "needs dtype, shape and data_offsets");
        bad(dir.resolve("nope.safetensors"), "no such file");
        // past the tensor-count budget: refused before any tensor is looked at
        StringBuilder many = new StringBuilder("{");
        for (int i = 0; i < 40; i++) many.append(i == 0 ? "" : ",").append("\"t").append(i).append("\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}");
        String old = System.setProperty("vitrim.maxTensors", "10");
        try {
            Path manyFile = raw("many.safetensors", many.append("}").toString(), new byte[4]);
            bad(manyFile, "more than 10 tensors");
            bad(manyFile, "-Dvitrim.maxTensors");
        } finally {
            if (old == null) System.clearProperty("vitrim.maxTensors");
            else System.setProperty("vitrim.maxTensors", old);
        }
    }

    /** Thousands of random mutations of a valid file: only clean reads or the reader's own error. */
    @Test
    void fuzzedFilesNeverCrashTheReader() throws IOException {
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        t.put("w", new SafeTensors.Tensor(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        t.put("b", new SafeTensors.Tensor(new float[] {7, 8, 9}, 3));
        Path valid = dir.resolve("valid.safetensors");
        SafeTensors.write(valid, t, Map.of("k", "v"));
        byte[] orig = Files.readAllBytes(valid);
        SplittableRandom rnd = new SplittableRandom(42);
        int clean = 0, rejected = 0;
        Path p = dir.resolve("fuzz.safetensors");
        int n = Integer.getInteger("vitrim.fuzz.n", 10_000);
        for (int iter = 0; iter < n; iter++) {
            byte[] b = orig.clone();
            int kind = rnd.nextInt(4);
            if (kind == 0) { // flip bytes
                for (int m = rnd.nextInt(1, 4); m > 0; m--) b[rnd.nextInt(b.length)] ^= (byte) (1 << rnd.nextInt(8));
            } else if (kind == 1) { // truncate
                b = java.util.Arrays.copyOf(b, rnd.nextInt(b.length));
            } else if (kind == 2) { // replace a header digit or quote with a random printable char
                int pos = 8 + rnd.nextInt(Math.max(1, b.length - 8 - 36));
                b[pos] = (byte) rnd.nextInt(32, 127);
            } else { // random header length
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, rnd.nextLong() >>> rnd.nextInt(64));
            }
            Files.write(p, b);
            try (SafeTensors st = SafeTensors.open(p)) {
                for (String k : st.entries().keySet()) st.floats(k);
                clean++;
            } catch (VitrimException e) {
                assertThat(e.getMessage()).startsWith(p.toString()).doesNotContain("\n");
                rejected++;
            }
        }
        assertThat(clean + rejected).isEqualTo(n);
        assertThat(rejected).isGreaterThan(n / 3);
        System.err.printf("SafeTensorsTest: %d mutations, %d read, %d one-line errors%n", n, clean, rejected);
    }
}
