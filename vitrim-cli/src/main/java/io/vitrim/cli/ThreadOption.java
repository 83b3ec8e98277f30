package io.vitrim.cli;

import io.vitrim.VitrimException;
import picocli.CommandLine.Option;

/** {@code --threads N}: compute threads (default: available processors). */
final class ThreadOption {
    @Option(names = {"-t", "--threads"}, paramLabel = "N",
            description = "Compute threads (default: available processors, here ${sys:vitrim.cores}).")
    Integer threads;

    int get() {
        int n = threads == null ? Runtime.getRuntime().availableProcessors() : threads;
        if (n < 1 || n > 1024) throw new VitrimException("--threads " + n + ": must be between 1 and 1024");
        return n;
    }

    static {
        System.setProperty("vitrim.cores", String.valueOf(Runtime.getRuntime().availableProcessors()));
    }
}
