package io.vitrim.testing;

import io.vitrim.io.Json;

/**
 * The hash pixels of {@code scripts/python/hashinit.py} for the loader fixture (a copy of the
 * core tests' HashInit.uniform, which is not on this module's test classpath).
 */
public final class CliHashPixels {
    private CliHashPixels() {}

    public static float[] pixels(Json.Obj expected) {
        long seed = expected.integer("pixel_seed", 0);
        int n = expected.intValue("batch", 0) * 3 * 32 * 32;
        long base = (seed * 0x9E3779B97F4A7C15L) ^ io.vitrim.model.RandomInit.fnv1a("pixels");
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            long z = base + i + 0x9E3779B97F4A7C15L;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z = z ^ (z >>> 31);
            double u = (double) (z >>> 40) / (double) (1 << 24);
            v[i] = (float) ((2.0 * u - 1.0) * 2.0);
        }
        return v;
    }
}
