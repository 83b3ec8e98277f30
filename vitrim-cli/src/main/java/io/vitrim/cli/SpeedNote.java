package io.vitrim.cli;

import io.vitrim.measure.SystemInfo;

import java.io.PrintWriter;

/** The one-line stderr note of commands that train or time, when this JVM runs the slower AVX2 tile. */
final class SpeedNote {
    private SpeedNote() {}

    static void print(PrintWriter err, String command) {
        String note = SystemInfo.speedNote();
        if (note != null) err.println(command + ": note: " + note);
    }
}
