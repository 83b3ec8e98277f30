package io.vitrim.measure;

import io.vitrim.engine.Gemm;
import io.vitrim.engine.Jit;
import io.vitrim.engine.VecMath;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What a measurement ran on: CPU, cores, JDK, vector width. */
public final class SystemInfo {
    private SystemInfo() {}

    /**
     * The CPU's model name, followed by its family and model numbers whenever /proc/cpuinfo has
     * them: cloud VMs often say just "AMD EPYC", yet Zen 4 and Zen 5 differ 2× in FMA peak.
     */
    public static String cpu() {
        try {
            String name = null, family = null, model = null;
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                String v = line.indexOf(':') < 0 ? "" : line.substring(line.indexOf(':') + 1).trim();
                if (name == null && line.startsWith("model name")) name = v;
                else if (family == null && line.startsWith("cpu family")) family = v;
                else if (model == null && line.matches("model\\s*:.*")) model = v;
                if (name != null && family != null && model != null) break;
            }
            if (name != null) return family != null && model != null ? name + " (family " + family + ", model " + model + ")" : name;
        } catch (IOException | RuntimeException ignored) {
            // not Linux
        }
        return System.getProperty("os.arch");
    }

    public static String jdk() {
        return System.getProperty("java.vm.name") + " " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")";
    }

    public static int cores() {
        return Runtime.getRuntime().availableProcessors();
    }

    public static String vector() {
        return VecMath.F.vectorBitSize() + "-bit vectors (" + VecMath.VLEN + " floats)";
    }

    /**
     * A one-line note when this JVM runs the GEMM on its slower AVX2 tile (4 rows instead of 6,
     * see {@link io.vitrim.engine.Jit}), else null.
     */
    public static String speedNote() {
        return speedNote(VecMath.F.vectorBitSize(), Gemm.MR, Runtime.version().feature(), Jit.keepsSixRowTile());
    }

    /** {@link #speedNote()} for a given vector width, tile height, JDK feature version and JIT verdict. */
    static String speedNote(int vectorBits, int mr, int jdk, boolean keepsSixRowTile) {
        if (vectorBits != 256 || mr == 6 && keepsSixRowTile) return null;
        if (keepsSixRowTile) {
            return "the AVX2 matrix kernel's 4-row tile was forced (-Dvitrim.gemm.mr=4): this JVM runs the 6-row one about 1.3x faster";
        }
        String why = jdk < 25 ? "JDK " + jdk : "loop strip mining is off (-XX:+UseParallelGC or -XX:+UseSerialGC?)";
        if (mr == 6) {
            return why + ": the AVX2 matrix kernel was forced to its 6-row tile (-Dvitrim.gemm.mr=6), which this JIT spills to the stack, "
                    + "1.3-1.8x slower than the 4-row one (docs/performance.md)";
        }
        return why + ": vitrim's AVX2 matrix kernel runs its 4-row tile here; JDK 25 with the G1 collector runs the 6-row one, "
                + "about 1.3x faster (docs/performance.md)";
    }

    public static String summary() {
        return cpu() + ", " + cores() + " cores, " + vector() + ", " + jdk();
    }
}
