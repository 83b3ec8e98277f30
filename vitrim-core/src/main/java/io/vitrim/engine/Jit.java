package io.vitrim.engine;

import java.lang.management.ManagementFactory;

/**
 * What the running JIT does with the GEMM kernel on 16 vector registers (AVX2), measured on a
 * Zen 3 (docs/performance.md). JDK 17's C2 loads all six broadcasts of a k step of the 6 × 16
 * tile before its FMAs, so 12 accumulators + 2 B vectors + 6 broadcasts need 20 registers and
 * four accumulators are stored and reloaded every step; JDK 25 interleaves them, but only in a
 * strip-mined loop (the default with G1, off under {@code -XX:+UseParallelGC} or
 * {@code -XX:+UseSerialGC}). A 4 × 16 tile needs at most 14 registers and never spills.
 */
public final class Jit {
    private Jit() {}

    /**
     * The JDK keeps a 6 × 16 tile in registers: JDK 25+ with loop strip mining (counted-loop
     * safepoints on and more than one iteration per strip; JDK 18–24 were not measured and get
     * the 4-row tile).
     */
    public static boolean keepsSixRowTile() {
        if (Runtime.version().feature() < 25 || !"true".equals(vmOption("UseCountedLoopSafepoints"))) return false;
        try {
            return Long.parseLong(String.valueOf(vmOption("LoopStripMiningIter"))) > 1;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** {@code -Dvitrim.gemm.mr} when it is 4 or 6, else null. */
    static Integer forcedRows() {
        Integer forced = Integer.getInteger("vitrim.gemm.mr");
        return forced != null && (forced == 4 || forced == 6) ? forced : null;
    }

    /**
     * Rows of the 16-column tile on a CPU with 16 vector registers of 8 floats (AVX2):
     * {@link #forcedRows}, else 6 or 4 by {@link #keepsSixRowTile}. Other vector widths below
     * 512 bits (e.g. 128-bit NEON, 32 registers) keep 6: only AVX2 was measured.
     */
    static int rows(int floatsPerVector) {
        if (floatsPerVector != 8) return 6;
        Integer forced = forcedRows();
        return forced != null ? forced : keepsSixRowTile() ? 6 : 4;
    }

    /** A HotSpot flag's value, or null on a JVM without the diagnostic bean. */
    private static String vmOption(String name) {
        try {
            return ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class).getVMOption(name).getValue();
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }
}
