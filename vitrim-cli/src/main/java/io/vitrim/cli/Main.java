package io.vitrim.cli;

import io.vitrim.VitrimException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/** Entry point of the {@code vitrim} command line. Exit codes: 0 ok, 1 internal error, 2 bad input. */
@Command(name = "vitrim",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        scope = CommandLine.ScopeType.INHERIT,
        description = {"Token reduction for Vision Transformers on the JVM: classify, measure, train and compare ToMe, PPT, local-global merging, LTMP and friends on timm / Hugging Face checkpoints.", ""},
        subcommands = {ClassifyCommand.class, EmbedCommand.class, BenchCommand.class, InfoCommand.class, TrainCommand.class, FinetuneCommand.class, EvalCommand.class, SegmentCommand.class,
            VisualizeCommand.class, ParetoCommand.class, CompletionCommand.class,
            CommandLine.HelpCommand.class},
        footer = {"", "Examples:",
            "  vitrim classify samples/ --compare tome:r=8   # the embedded model",
            "  vitrim bench --arch deit_small_patch16_224    # seeded random weights",
            "  vitrim info --arch vit_base_patch16_224",
            "", "Run 'vitrim COMMAND --help' for a command's options and examples."})
public final class Main implements Runnable {
    public static final int EXIT_BAD_INPUT = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            // without the module every kernel fails with NoClassDefFoundError; say how to start the JVM instead
            System.err.println("vitrim: the JVM was started without the Vector API; use ./vitrim, or java --add-modules jdk.incubator.vector -jar vitrim.jar ...");
            System.exit(EXIT_BAD_INPUT);
        }
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams; returns the exit code (used by tests). */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println("vitrim: " + ex.getMessage().replace('\n', ' '));
            c.getErr().println("Try '" + c.getCommandSpec().qualifiedName() + " --help' for usage.");
            c.getErr().flush();
            return EXIT_BAD_INPUT;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            Throwable root = ex;
            if (root instanceof VitrimException) {
                c.getErr().println("vitrim: " + oneLine(root.getMessage()));
                c.getErr().flush();
                return EXIT_BAD_INPUT;
            }
            c.getErr().println("vitrim: internal error: " + root);
            if (Boolean.getBoolean("vitrim.debug") || System.getenv("VITRIM_DEBUG") != null) root.printStackTrace(c.getErr());
            else c.getErr().println("(set VITRIM_DEBUG=1 for the stack trace)");
            c.getErr().flush();
            return 1;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {
            err.println(outOfMemory(e, Runtime.getRuntime().maxMemory()));
            err.flush();
            return 1;
        }
    }

    /** The out-of-memory line: the heap it ran with and twice that to try (weights past the heap are refused earlier, by WeightMemory). */
    static String outOfMemory(OutOfMemoryError e, long maxHeap) {
        long gib = 1L << 30, next = Math.max(4, 2 * ((maxHeap + gib - 1) / gib));
        return String.format(java.util.Locale.ROOT, "vitrim: out of memory (%s; heap limit %.1f GiB); try a smaller --batch or a larger heap, "
                + "e.g. JAVA_OPTS=-Xmx%dg", e.getMessage(), maxHeap / (double) gib, next);
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replace('\n', ' ').replace('\r', ' ');
    }

    /** Version string with the runtime it runs on. */
    /** The commit the jar was built from ({@code git.properties}, written by the build), e.g. {@code commit 4e30276}. */
    static String commit() {
        try (java.io.InputStream in = Main.class.getResourceAsStream("/git.properties")) {
            if (in == null) return "commit unknown";
            java.util.Properties p = new java.util.Properties();
            p.load(in);
            String id = p.getProperty("git.commit.id.abbrev");
            if (id == null || id.isBlank()) return "commit unknown";
            return "commit " + id + ("true".equals(p.getProperty("git.dirty")) ? ", with uncommitted changes" : "")
                    + (p.getProperty("git.commit.time") != null ? ", " + p.getProperty("git.commit.time") : "");
        } catch (java.io.IOException e) {
            return "commit unknown";
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"vitrim " + (v == null ? "dev" : v) + " (" + commit() + ")",
                "JDK " + Runtime.version() + ", " + io.vitrim.measure.SystemInfo.vector()};
        }
    }
}
