package io.vitrim.testing;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Byte-level mutations for fuzz tests: bit flips, truncations, splices, runs of 0x00/0xFF, and
 * big-endian / little-endian 16- and 32-bit fields set to extreme values (lengths, sizes and
 * counts of binary formats live in such fields).
 */
public final class Mutator {
    private Mutator() {}

    static final long[] EXTREMES = {0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFFL, 0x80000000L, 0xFFFFFFFFL, 0x10000, 0x1000000};

    /**
     * A hang guard for {@code n} mutations: 3 minutes per 10,000 (the default count takes seconds),
     * so {@code -Dvitrim.fuzz.n}'s long mode is not stopped for its length alone.
     */
    public static java.time.Duration budget(int n) {
        return java.time.Duration.ofMinutes(3L * Math.max(1, (n + 9_999) / 10_000));
    }

    public static byte[] mutate(byte[] in, SplittableRandom r) {
        byte[] b = in.clone();
        int n = b.length;
        switch (r.nextInt(6)) {
            case 0 -> {
                for (int k = 0; k < 1 + r.nextInt(8); k++) b[r.nextInt(n)] ^= (byte) (1 << r.nextInt(8));
            }
            case 1 -> b = Arrays.copyOf(b, r.nextInt(n));
            case 2 -> {
                int a = r.nextInt(n), len = r.nextInt(Math.min(64, n - a) + 1), at = r.nextInt(n + 1);
                byte[] out = new byte[n + len];
                System.arraycopy(b, 0, out, 0, at);
                System.arraycopy(b, a, out, at, len);
                System.arraycopy(b, at, out, at + len, n - at);
                b = out;
            }
            case 3 -> {
                int at = r.nextInt(n), len = Math.min(n - at, 1 + r.nextInt(16));
                Arrays.fill(b, at, at + len, r.nextBoolean() ? (byte) 0 : (byte) 0xFF);
            }
            default -> field(b, r.nextInt(n), EXTREMES[r.nextInt(EXTREMES.length)], r.nextBoolean() ? 2 : 4, r.nextBoolean());
        }
        return b;
    }

    /** Writes {@code v} as a {@code bytes}-wide field at {@code at} (clipped at the end). */
    public static void field(byte[] b, int at, long v, int bytes, boolean bigEndian) {
        for (int i = 0; i < bytes && at + i < b.length; i++) {
            int shift = bigEndian ? 8 * (bytes - 1 - i) : 8 * i;
            b[at + i] = (byte) (v >>> shift);
        }
    }
}
