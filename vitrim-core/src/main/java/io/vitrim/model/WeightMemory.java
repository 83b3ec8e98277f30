package io.vitrim.model;

import io.vitrim.VitrimException;

import java.util.Locale;

/**
 * Refuses, before anything is allocated, weights that cannot fit the heap: a 1 B-parameter tower
 * holds 4 GB as float32 and as much again once its matrices are packed for the GEMM kernels
 * ({@link Linear} keeps both), and finding out by an out-of-memory error takes minutes.
 */
public final class WeightMemory {
    private WeightMemory() {}

    /** Fails with one line naming {@code where} unless {@code floats} weights, twice over, fit 90 % of the heap limit. */
    public static void require(long floats, Object where) {
        require(floats, Runtime.getRuntime().maxMemory(), where);
    }

    static void require(long floats, long maxHeap, Object where) {
        long bytes = 4 * floats, needed = 2 * bytes; // the values and their packed copy
        if (needed <= 0.9 * maxHeap) return;
        double gib = 1L << 30;
        // a quarter again for activations and the JVM, in whole GiB
        long suggest = (long) Math.ceil(needed * 1.25 / gib);
        throw VitrimException.of(where, String.format(Locale.ROOT,
                "the weights need %.1f GB as float32 (%,d parameters), twice that once packed, but the heap limit is %.1f GiB; "
                        + "run with JAVA_OPTS=-Xmx%dg", bytes / 1e9, floats, maxHeap / gib, suggest));
    }
}
