package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.io.Json;
import io.vitrim.measure.Throughput;
import io.vitrim.reduce.Trace;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bench --forks N}: the same measurement in N fresh JVMs, one after the other, as JMH's
 * forks do. On a shared machine the ratio to {@code none} moves between JVM processes (JIT
 * decisions, memory placement) more than between the rounds of one, so a single process can be
 * a lucky or an unlucky draw; the median over forks is the stable figure, the range says how much
 * one run can be trusted.
 */
final class BenchForks {
    private BenchForks() {}

    /**
     * Runs {@code vitrim bench ARGS --json} {@code forks} times in child JVMs started like this one
     * and returns each fork's parsed JSON.
     *
     * @param benchArgs the bench arguments without {@code --forks}
     */
    static List<Map<String, Object>> run(List<String> benchArgs, int forks, Progress progress) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.add("bench");
        cmd.addAll(benchArgs);
        if (!benchArgs.contains("--json")) cmd.add("--json");
        List<Map<String, Object>> out = new ArrayList<>();
        for (int f = 1; f <= forks; f++) {
            progress.status("fork " + f + "/" + forks + ": measuring in a fresh JVM");
            out.add(runOne(cmd, f));
        }
        progress.done();
        return out;
    }

    private static Map<String, Object> runOne(List<String> cmd, int fork) {
        Path errFile = null;
        try {
            errFile = Files.createTempFile("vitrim-bench-fork", ".err");
            Process p = new ProcessBuilder(cmd).redirectError(errFile.toFile()).start();
            p.getOutputStream().close();
            String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int code = p.waitFor();
            if (code != 0) {
                String msg = Files.readAllLines(errFile).stream().filter(l -> l.startsWith("vitrim: ")).findFirst()
                        .map(l -> l.substring("vitrim: ".length())).orElse("exit code " + code);
                throw new VitrimException("bench fork " + fork + " failed: " + msg);
            }
            return Json.parseObject(stdout.trim());
        } catch (IOException e) {
            throw new VitrimException("could not start a bench fork: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VitrimException("interrupted while a bench fork was running");
        } finally {
            if (errFile != null) {
                try {
                    Files.deleteIfExists(errFile);
                } catch (IOException ignored) {
                    // a temp file left behind is harmless
                }
            }
        }
    }

    /** The bench arguments as typed, without {@code --forks N} / {@code --forks=N}. */
    static List<String> withoutForks(List<String> originalArgs) {
        int start = originalArgs.indexOf("bench");
        List<String> args = new ArrayList<>(originalArgs.subList(start + 1, originalArgs.size()));
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).equals("--forks")) {
                args.remove(i);
                if (i < args.size()) args.remove(i);
                i--;
            } else if (args.get(i).startsWith("--forks=")) {
                args.remove(i--);
            }
        }
        return args;
    }

    /** Medians over the forks per method, each fork's speed-ups {@code [method][fork]}, and the median FMA peak (NaN without --peak). */
    record Summary(List<Throughput.Result> results, double[][] speedups, double peakGflops) {}

    /** Per method, the median over the forks of each fork's figures (the MACs are the same in every fork). */
    static Summary summarise(List<Map<String, Object>> runs, int batch, boolean peak) {
        int forks = runs.size();
        List<?> first = (List<?>) runs.get(0).get("results");
        List<Throughput.Result> out = new ArrayList<>();
        double[][] speedups = new double[first.size()][forks];
        Trace.Phase[] phases = Trace.Phase.values();
        for (int i = 0; i < first.size(); i++) {
            Map<?, ?> r0 = (Map<?, ?>) first.get(i);
            double[] ms = new double[forks], overhead = new double[forks];
            double[][] phaseMs = new double[phases.length][forks];
            List<Double> allRuns = new ArrayList<>();
            for (int f = 0; f < forks; f++) {
                Map<?, ?> r = (Map<?, ?>) ((List<?>) runs.get(f).get("results")).get(i);
                ms[f] = num(r, "median_ms");
                speedups[i][f] = num(r, "speedup");
                overhead[f] = num(r, "reduction_overhead");
                for (Object v : (List<?>) r.get("runs_ms")) allRuns.add(((Number) v).doubleValue());
                Map<?, ?> ph = (Map<?, ?>) r.get("phases");
                for (int p = 0; p < phases.length && ph != null; p++) phaseMs[p][f] = num((Map<?, ?>) ph.get(key(phases[p])), "median_ms");
            }
            double[] phaseMed = new double[phases.length], phaseGmacs = new double[phases.length];
            Map<?, ?> ph0 = (Map<?, ?>) r0.get("phases");
            for (int p = 0; p < phases.length; p++) {
                phaseMed[p] = Throughput.median(phaseMs[p]);
                if (ph0 != null) phaseGmacs[p] = num((Map<?, ?>) ph0.get(key(phases[p])), "gmacs");
            }
            double med = Throughput.median(ms);
            out.add(new Throughput.Result((String) r0.get("spec"), allRuns.stream().mapToDouble(Double::doubleValue).toArray(), med,
                    batch / (med / 1000), num(r0, "gmacs"), num(r0, "mac_ratio"), Throughput.median(speedups[i]),
                    Throughput.median(overhead), phaseMed, phaseGmacs));
        }
        double peakGflops = Double.NaN;
        if (peak) {
            double[] peaks = new double[forks];
            for (int f = 0; f < forks; f++) peaks[f] = num(runs.get(f), "peak_gflops");
            peakGflops = Throughput.median(peaks);
        }
        return new Summary(out, speedups, peakGflops);
    }

    /** The JSON key of a phase, as {@code bench --json --breakdown} writes it. */
    static String key(Trace.Phase p) {
        return p.name().toLowerCase(Locale.ROOT);
    }

    private static double num(Map<?, ?> m, String k) {
        Object v = m.get(k);
        if (!(v instanceof Number)) throw new VitrimException("bench fork: no number \"" + k + "\" in its JSON output");
        return ((Number) v).doubleValue();
    }
}
