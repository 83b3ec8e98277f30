package io.vitrim.cli;

import io.vitrim.train.Trainer;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;

/** Live training progress: a redrawn bar on a terminal, a line every ~5 % of an epoch otherwise. */
class TrainProgress implements Trainer.Listener {
    private final PrintWriter err;
    private final int epochs;
    private final int batch;
    private final boolean tty = System.console() != null;
    private final long start = System.nanoTime();
    private int lastPrinted = -1;
    private String note = "";

    TrainProgress(PrintWriter err, int epochs, int batch) {
        this.err = err;
        this.epochs = epochs;
        this.batch = batch;
    }

    /** A remark shown in every progress line, e.g. that a step costs two passes. */
    void note(String s) {
        note = " (" + s + ")";
    }

    /** With SAM: says so once, and in every progress line, since a step costs two passes. */
    TrainProgress optimizer(io.vitrim.train.TrainConfig cfg) {
        if (cfg.sam() != null) {
            message("optimizer: " + cfg.sam().describe() + " around AdamW - two forward/backward passes per step");
            note("SAM: 2 passes/step");
        }
        return this;
    }

    static String duration(double s) {
        long t = Math.round(s);
        return t >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", t / 3600, t / 60 % 60) : String.format(Locale.ROOT, "%dm%02ds", t / 60, t % 60);
    }

    @Override
    public void step(int epoch, int step, int steps, double loss, double acc, double ips, double lr) {
        double remainingImages = ((double) (epochs - epoch - 1) * steps + (steps - step)) * batch;
        double eta = ips > 0 ? remainingImages / ips : 0;
        int width = 24, filled = (int) ((long) width * step / steps);
        String bar = "#".repeat(filled) + ".".repeat(width - filled);
        String line = String.format(Locale.ROOT, "epoch %d/%d [%s] %d/%d loss %.4f acc %.1f%% lr %.2e %.0f img/s%s ETA %s",
                epoch + 1, epochs, bar, step, steps, loss, 100 * acc, lr, ips, note, duration(eta));
        if (tty) {
            err.print("\r" + line);
            err.flush();
        } else {
            int pct = (int) (20L * step / steps);
            if (pct != lastPrinted) {
                lastPrinted = pct;
                err.println(line);
                err.flush();
            }
        }
    }

    @Override
    public void epoch(Map<String, Object> m) {
        if (tty) err.println();
        lastPrinted = -1;
        StringBuilder b = new StringBuilder("epoch ").append(m.get("epoch")).append(" done:");
        for (Map.Entry<String, Object> e : m.entrySet()) {
            if (e.getKey().equals("epoch")) continue;
            Object v = e.getValue();
            b.append(' ').append(e.getKey()).append('=').append(v instanceof Double ? String.format(Locale.ROOT, "%.4g", (Double) v) : v);
        }
        b.append(" (elapsed ").append(duration((System.nanoTime() - start) / 1e9)).append(')');
        err.println(b);
        err.flush();
    }

    @Override
    public void message(String s) {
        err.println(s);
        err.flush();
    }

    void done() {
        err.flush();
    }

    /** Progress that also redraws {@code t}'s learning curves in {@code out} after every epoch. */
    static TrainProgress withCurves(PrintWriter err, Trainer t, int epochs, int batch, java.nio.file.Path out) {
        return new TrainProgress(err, epochs, batch) {
            @Override
            public void epoch(Map<String, Object> m) {
                super.epoch(m);
                try {
                    LearningCurve.write(t.history(), out);
                } catch (java.io.IOException | RuntimeException e) {
                    err.println("vitrim: could not draw the learning curve: " + e.getMessage());
                }
            }
        };
    }
}
