package io.vitrim.measure;

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
     * A one-line warning when this JVM is known to run the GEMM kernel far below the machine's
     * speed, else null. Measured on an AVX2 Zen 3 (docs/performance.md): JDK 17's compiler keeps
     * four of the 6 × 16 kernel's twelve accumulators on the stack and reloads them every step of
     * k, 2.3× slower than JDK 25; JDK 25 keeps them in registers only when it strip-mines the
     * loop, which it does not under -XX:+UseParallelGC or -XX:+UseSerialGC.
     */
    public static String speedNote() {
        if (VecMath.F.vectorBitSize() != 256) return null;
        int feature = Runtime.version().feature();
        if (feature < 25) {
            return "JDK " + feature + " runs vitrim's AVX2 matrix kernel about 2.3x slower than JDK 25 (docs/performance.md): "
                    + "set JAVA_HOME to a JDK 25";
        }
        if ("false".equals(vmOption("UseCountedLoopSafepoints"))) {
            return "loop strip mining is off (-XX:+UseParallelGC or -XX:+UseSerialGC?), which makes JDK " + feature
                    + " run vitrim's AVX2 matrix kernel about 2x slower (docs/performance.md): keep the default G1 collector";
        }
        return null;
    }

    private static String vmOption(String name) {
        try {
            return java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class)
                    .getVMOption(name).getValue();
        } catch (RuntimeException | LinkageError e) {
            return null; // not HotSpot
        }
    }

    public static String summary() {
        return cpu() + ", " + cores() + " cores, " + vector() + ", " + jdk();
    }
}
