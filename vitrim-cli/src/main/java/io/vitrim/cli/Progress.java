package io.vitrim.cli;

import java.io.PrintWriter;

/** A one-line status on stderr, redrawn in place on a terminal, silent otherwise. */
final class Progress {
    private final PrintWriter err;
    private final boolean enabled;
    private int lastLength;

    Progress(PrintWriter err, boolean enabled) {
        this.err = err;
        this.enabled = enabled && System.console() != null;
    }

    void status(String s) {
        if (!enabled) return;
        StringBuilder b = new StringBuilder("\r").append(s);
        for (int i = s.length(); i < lastLength; i++) b.append(' ');
        lastLength = s.length();
        err.print(b);
        err.flush();
    }

    void done() {
        if (!enabled || lastLength == 0) return;
        StringBuilder b = new StringBuilder("\r");
        for (int i = 0; i < lastLength; i++) b.append(' ');
        err.print(b.append('\r'));
        err.flush();
        lastLength = 0;
    }
}
