package io.vitrim.measure;

import io.vitrim.engine.VecMath;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What a measurement ran on: CPU, cores, JDK, vector width. */
public final class SystemInfo {
    private SystemInfo() {}

    public static String cpu() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).trim();
            }
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

    public static String summary() {
        return cpu() + ", " + cores() + " cores, " + vector() + ", " + jdk();
    }
}
