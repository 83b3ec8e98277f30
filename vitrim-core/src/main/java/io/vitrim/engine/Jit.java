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

    /** The JDK keeps a 6 × 16 tile in registers: JDK 25+ with loop strip mining. */
    public static boolean keepsSixRowTile() {
        return Runtime.version().feature() >= 25 && "true".equals(vmOption("UseCountedLoopSafepoints"));
    }

    /** The AVX2 tile height: {@code -Dvitrim.gemm.mr} when 4 or 6, else 6 or 4 by {@link #keepsSixRowTile}. */
    static int avx2Rows() {
        Integer forced = Integer.getInteger("vitrim.gemm.mr");
        if (forced != null && (forced == 4 || forced == 6)) return forced;
        return keepsSixRowTile() ? 6 : 4;
    }

    /** A HotSpot flag's value, or null on a JVM without the diagnostic bean. */
    public static String vmOption(String name) {
        try {
            return ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class).getVMOption(name).getValue();
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }
}
