package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.io.Json;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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

    static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        int n = c.length;
        return n % 2 == 1 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    }
}
