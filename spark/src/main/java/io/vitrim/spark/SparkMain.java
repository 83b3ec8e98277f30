package io.vitrim.spark;

import io.vitrim.VitrimException;
import io.vitrim.io.Json;
import io.vitrim.io.ModelLoader;
import io.vitrim.io.SideWeights;
import io.vitrim.model.VisionTransformer;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code vitrim-spark}: the image job on Spark, from {@code spark-submit} or locally through the
 * repository's launcher. Prints a one-line JSON summary on stdout; progress and Spark's own
 * warnings go to stderr.
 */
@Command(name = "vitrim-spark", mixinStandardHelpOptions = true, versionProvider = SparkMain.Version.class,
        header = "Classify, segment or embed many images on Apache Spark, with any token reduction.",
        subcommands = {SparkMain.Classify.class, SparkMain.Segment.class, SparkMain.Embed.class},
        footer = {"", "Examples:",
            "  ./vitrim-spark classify --input photos/ --output labels.parquet",
            "  ./vitrim-spark classify --master 'local[2]' --input test.zip \\",
            "      --output out.parquet --reduce tome:r=8",
            "  ./vitrim-spark segment --model models/camvid-vit9 --input street/ \\",
            "      --output masks.parquet",
            "  spark-submit --class io.vitrim.spark.SparkMain vitrim-spark-job.jar \\",
            "      classify --model /shared/deit-s --input s3a://bucket/photos/ \\",
            "      --output s3a://bucket/labels/",
            "", "Exit codes: 0 ok, 1 internal error, 2 bad input (one line on stderr)."})
public final class SparkMain {
    /** More partitions than this is a typo, not a plan (each one is a task Spark must schedule). */
    static final int MAX_PARTITIONS = 100_000;

    /** Options of every task. */
    abstract static class Base implements Callable<Integer> {
        @Option(names = "--master", paramLabel = "URL",
                description = "Spark master, e.g. local[2] or yarn (default: spark-submit's, else local[*]).")
        String master;

        @Option(names = {"-i", "--input"}, required = true, paramLabel = "DIR|GLOB|ZIP",
                description = "Images: a folder (read recursively) or glob on any Hadoop file system, or a zip every executor can read.")
        String input;

        @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR",
                description = "Parquet output folder; written to a hidden sibling and renamed when complete.")
        String output;

        @Option(names = "--overwrite", description = "Replace --output if it exists.")
        boolean overwrite;

        @Option(names = {"-m", "--model"}, paramLabel = "DIR|FILE",
                description = "Model folder or .safetensors file, at a path every executor can read "
                        + "(default: the repository's models/cifar10-vit9-c2).")
        String model;

        @Option(names = "--arch", paramLabel = "NAME", description = "timm architecture of a bare .safetensors --model.")
        String arch;

        @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", defaultValue = "none",
                description = "Token reduction, e.g. tome:r=8 (default: ${DEFAULT-VALUE}); see 'vitrim info --methods'.")
        String reduce;

        @Option(names = {"-b", "--batch"}, paramLabel = "N", defaultValue = "16",
                description = "Images per forward pass (default: ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--partitions", paramLabel = "N", defaultValue = "0",
                description = "Input partitions (default 0: Spark's file splits; for a zip 4 per task slot).")
        int partitions;

        @Option(names = {"-t", "--threads"}, paramLabel = "N", defaultValue = "1",
                description = "Compute threads of each executor's model (default: ${DEFAULT-VALUE}: "
                        + "the parallelism comes from Spark's task slots, which share the model).")
        int threads;

        @Option(names = "--repeat", paramLabel = "N", defaultValue = "1",
                description = "Run the job N times in one session; images_per_s is then the median of runs 2..N "
                        + "(run 1 warms up the JIT; benchmarking). The output holds the last run.")
        int repeat;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        abstract JobSpec.Task task();

        int topk() {
            return 1;
        }

        /** The segmentation options ({@code segment} only): when pruned tokens come back, ids PNGs. */
        io.vitrim.reduce.Dense.Restore restore() {
            return null;
        }

        boolean ids() {
            return false;
        }

        @Override
        public Integer call() {
            if (repeat < 1 || repeat > 100) throw new VitrimException("--repeat " + repeat + ": must be between 1 and 100");
            if (partitions < 0 || partitions > MAX_PARTITIONS) {
                throw new VitrimException("--partitions " + partitions + ": must be 0 (automatic) to " + MAX_PARTITIONS);
            }
            // the embedded model is a classifier: a segment job names its model
            if (model == null && task() == JobSpec.Task.SEGMENT) {
                throw new VitrimException("segment needs --model DIR: a segmentation model (written by vitrim train on a segmentation set)");
            }
            String m = model != null ? model : embedded();
            JobSpec job = new JobSpec(task(), m, arch, reduce, batch, topk(), threads, restore(), ids());
            if (ImageJob.isZip(input) && !Files.isRegularFile(Path.of(input))) throw VitrimException.of(input, "no such file");
            String chosen = master != null ? master : System.getProperty("spark.master");
            if (chosen == null) chosen = "local[*]";
            validateOnDriver(job, chosen.startsWith("local"));
            SparkSession.Builder b = SparkSession.builder().appName("vitrim-spark " + task().name().toLowerCase(java.util.Locale.ROOT));
            b.master(chosen);
            if (chosen.startsWith("local")) {
                // no web UI, no network beyond this machine
                b.config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "8")
                        .config("spark.driver.host", "localhost").config("spark.driver.bindAddress", "127.0.0.1");
            }
            // a session that already runs in this JVM (an application that calls run) is used and left running
            boolean own = SparkSession.getDefaultSession().isEmpty() && SparkSession.getActiveSession().isEmpty();
            SparkSession spark = b.getOrCreate();
            try {
                ImageJob.Summary s = null;
                double[] rates = new double[repeat];
                for (int i = 0; i < repeat; i++) {
                    s = ImageJob.run(spark, job, input, output, partitions, overwrite || i > 0);
                    rates[i] = s.imagesPerSecond();
                    if (repeat > 1) spec.commandLine().getErr().printf(java.util.Locale.ROOT, "run %d/%d: %.1f images/s%n", i + 1, repeat, rates[i]);
                }
                double rate = repeat == 1 ? rates[0] : io.vitrim.measure.Throughput.median(java.util.Arrays.copyOfRange(rates, 1, repeat));
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("rows", s.rows());
                o.put("errors", s.errors());
                o.put("images_per_s", Math.round(rate * 10) / 10.0);
                o.put("seconds", Math.round(s.seconds() * 1000) / 1000.0);
                if (repeat > 1) o.put("runs", repeat);
                o.put("output", output);
                o.put("reduce", reduce);
                if (task() == JobSpec.Task.SEGMENT) o.put("restore", job.restore().name().toLowerCase(java.util.Locale.ROOT));
                PrintWriter out = spec.commandLine().getOut();
                out.println(Json.write(o));
                out.flush();
            } finally {
                if (own) {
                    spark.stop();
                    ExecutorModels.closeAll();
                }
            }
            return 0;
        }

        /**
         * Loads the model and the reducer once on the driver when it can read the model, so a bad
         * path or spec is a one-line error before any task starts (on a cluster whose executors
         * get the model some other way, the driver may not have it: then the tasks report).
         */
        private void validateOnDriver(JobSpec job, boolean local) {
            Path p = Path.of(job.model());
            if (!Files.exists(p)) {
                if (model == null) throw new VitrimException("no model: pass --model DIR|FILE (the embedded models/cifar10-vit9-c2 is missing)");
                if (local) throw VitrimException.of(job.model(), "no such file or folder");
                return;
            }
            if (local) {
                // the driver is the executor: load the model (and reducer) the tasks will share, once
                job.check(ExecutorModels.model(job));
                ExecutorModels.reducer(job);
                return;
            }
            try (VisionTransformer vt = ModelLoader.load(p, job.arch(), 1)) {
                job.check(vt);
                SideWeights.reducer(vt, job.reduce());
            }
        }
    }

    @Command(name = "classify", mixinStandardHelpOptions = true, sortOptions = false,
            description = "One row per image: path, label, probability, top_labels, top_probabilities, tokens (entering each block), gmacs, error.",
            footer = {"", "Examples:",
                "  ./vitrim-spark classify --input photos/ --output labels.parquet",
                "  ./vitrim-spark classify --master 'local[2]' --input test.zip \\",
                "      --output out.parquet --reduce tome:r=8 --topk 3"})
    static final class Classify extends Base {
        @Option(names = {"-k", "--topk"}, paramLabel = "K", defaultValue = "5", description = "Classes kept per image (default: ${DEFAULT-VALUE}).")
        int topk;

        @Override
        JobSpec.Task task() {
            return JobSpec.Task.CLASSIFY;
        }

        @Override
        int topk() {
            return topk;
        }
    }

    @Command(name = "segment", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"A class per pixel with a segmentation model (a folder written by vitrim train on a segmentation set). "
                + "One row per image: path, class_shares (share of the photo's pixels per class name, classes with no pixel left out), "
                + "mask_png (the colour mask as 'vitrim segment' writes it, a PNG at the photo's own size), with --ids also ids_png, "
                + "tokens (entering each block), gmacs, error.",
                "",
                "A segmentation set (images/ + labels/) as --input: its photos only."},
            footer = {"", "Examples:",
                "  ./vitrim-spark segment --model models/camvid-vit9 --input street/ \\",
                "      --output masks.parquet",
                "  ./vitrim-spark segment --master 'local[2]' --model models/camvid-vit9 \\",
                "      --input camvid/test.zip --output test.parquet --reduce tome:r=40 \\",
                "      --restore llf --ids"})
    static final class Segment extends Base {
        @Option(names = "--restore", paramLabel = "output|llf", defaultValue = "output",
                description = "Pruned tokens come back after the last block (output) or before it (llf) (default: ${DEFAULT-VALUE}).")
        String restore;

        @Option(names = "--ids", description = "Also ids_png: the class id per pixel, an 8-bit grey PNG (the labels' format).")
        boolean ids;

        @Override
        JobSpec.Task task() {
            return JobSpec.Task.SEGMENT;
        }

        @Override
        io.vitrim.reduce.Dense.Restore restore() {
            try {
                return io.vitrim.reduce.Dense.Restore.valueOf(restore.toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new VitrimException("--restore expects 'output' or 'llf', got '" + restore + "'");
            }
        }

        @Override
        boolean ids() {
            return ids;
        }
    }

    @Command(name = "embed", mixinStandardHelpOptions = true, sortOptions = false,
            description = "One row per image: path, embedding (pooled, as 'vitrim embed' writes it), tokens, gmacs, error.",
            footer = {"", "Examples:",
                "  ./vitrim-spark embed --model models/deit-s --input photos/ \\",
                "      --output embeddings.parquet --reduce tome:r=8"})
    static final class Embed extends Base {
        @Override
        JobSpec.Task task() {
            return JobSpec.Task.EMBED;
        }
    }

    /** The repository's embedded model, when the launcher says where the repository is. */
    static String embedded() {
        String home = System.getProperty("vitrim.home");
        return Path.of(home == null ? "." : home, "models", "cifar10-vit9-c2").toString();
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = SparkMain.class.getPackage().getImplementationVersion();
            return new String[] {"vitrim-spark " + (v == null ? "(development build)" : v) + ", Spark " + org.apache.spark.package$.MODULE$.SPARK_VERSION()};
        }
    }

    /** Runs the command line; the exit code as {@code vitrim} maps it (2 = bad input). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new SparkMain());
        cl.setOut(out).setErr(err);
        cl.setParameterExceptionHandler((ex, a) -> {
            err.println("vitrim-spark: " + ex.getMessage().replace('\n', ' '));
            err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help' for usage.");
            err.flush();
            return 2;
        });
        cl.setExecutionExceptionHandler((e, line, parsed) -> {
            VitrimException v = userError(e);
            if (v != null) {
                err.println("vitrim-spark: " + v.getMessage().replace('\n', ' '));
                err.flush();
                return 2;
            }
            err.println("vitrim-spark: internal error: " + e);
            if (System.getenv("VITRIM_DEBUG") != null) e.printStackTrace(err);
            else err.println("(set VITRIM_DEBUG=1 for the stack trace)");
            err.flush();
            return 1;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {
            err.println("vitrim-spark: out of memory (" + e.getMessage() + "); try a smaller --batch or more heap, e.g. JAVA_OPTS=-Xmx4g");
            err.flush();
            return 1;
        }
    }

    /** A VitrimException anywhere in the cause chain (Spark wraps task failures in its own). */
    static VitrimException userError(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) if (t instanceof VitrimException v) return v;
        return null;
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true), err = new PrintWriter(System.err, true);
        System.exit(run(args, out, err));
    }
}
