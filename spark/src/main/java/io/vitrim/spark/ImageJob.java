package io.vitrim.spark;

import io.vitrim.VitrimException;
import io.vitrim.data.BoundedRead;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * The Spark job: images (a folder or glob read with Spark's {@code binaryFile} source, or a zip)
 * → one row per image → Parquet. Each partition is run by {@link PartitionRunner} on the
 * executor's one shared model; corrupt images become rows with an {@code error}.
 */
public final class ImageJob {
    /** File name extensions read as images (either case). */
    public static final Set<String> EXTENSIONS = Set.of("jpg", "jpeg", "png", "webp", "bmp", "gif");

    /** A file directly in a folder {@code labels/} or {@code images/} (zip entry, path or URI), as {@code vitrim segment} tells them. */
    static final Pattern LABELS = Pattern.compile("(^|[/!\\\\])labels[/\\\\][^/\\\\]*$"),
            IMAGES = Pattern.compile("(^|[/!\\\\])images[/\\\\][^/\\\\]*$");

    /** What a finished job reports. */
    public record Summary(long rows, long errors, double seconds) {
        public double imagesPerSecond() {
            return seconds > 0 ? rows / seconds : 0;
        }
    }

    private ImageJob() {}

    /** The Parquet schema of a classify or embed job's rows. */
    public static StructType schema(JobSpec.Task task) {
        return schema(task, false);
    }

    /** The Parquet schema of a task's rows; {@code ids}: a segment job's {@code ids_png} column. */
    public static StructType schema(JobSpec.Task task, boolean ids) {
        List<StructField> f = new ArrayList<>();
        f.add(DataTypes.createStructField("path", DataTypes.StringType, false));
        if (task == JobSpec.Task.CLASSIFY) {
            f.add(DataTypes.createStructField("label", DataTypes.StringType, true));
            f.add(DataTypes.createStructField("probability", DataTypes.DoubleType, true));
            f.add(DataTypes.createStructField("top_labels", DataTypes.createArrayType(DataTypes.StringType, false), true));
            f.add(DataTypes.createStructField("top_probabilities", DataTypes.createArrayType(DataTypes.DoubleType, false), true));
        } else if (task == JobSpec.Task.EMBED) {
            f.add(DataTypes.createStructField("embedding", DataTypes.createArrayType(DataTypes.FloatType, false), true));
        } else {
            // a map: one look-up per class in SQL (class_shares['road']), Parquet's standard MAP layout for other readers
            f.add(DataTypes.createStructField("class_shares", DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType, false), true));
            f.add(DataTypes.createStructField("mask_png", DataTypes.BinaryType, true));
            if (ids) f.add(DataTypes.createStructField("ids_png", DataTypes.BinaryType, true));
        }
        f.add(DataTypes.createStructField("tokens", DataTypes.createArrayType(DataTypes.IntegerType, false), true));
        f.add(DataTypes.createStructField("gmacs", DataTypes.DoubleType, true));
        f.add(DataTypes.createStructField("error", DataTypes.StringType, true));
        return DataTypes.createStructType(f);
    }

    /** The job's rows over {@code input} (not yet computed). */
    public static Dataset<Row> rows(SparkSession spark, JobSpec spec, String input, int partitions) {
        boolean photosOnly = spec.task() == JobSpec.Task.SEGMENT;
        JavaRDD<PartitionRunner.Input> inputs = isZip(input) ? zipInputs(spark, input, partitions, photosOnly)
                : fileInputs(spark, input, partitions, photosOnly);
        JavaRDD<Row> rows = inputs.mapPartitions(it -> {
            Iterator<ImageResult> results = PartitionRunner.run(spec, it);
            return new Iterator<Row>() {
                @Override
                public boolean hasNext() {
                    return results.hasNext();
                }

                @Override
                public Row next() {
                    return toRow(spec, results.next());
                }
            };
        });
        return spark.createDataFrame(rows, schema(spec.task(), spec.ids()));
    }

    /**
     * Runs the job and writes its rows as Parquet to {@code output}, whole or not at all: into a
     * hidden sibling folder first, renamed to {@code output} when complete.
     */
    public static Summary run(SparkSession spark, JobSpec spec, String input, String output, int partitions, boolean overwrite) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        org.apache.hadoop.fs.Path out = new org.apache.hadoop.fs.Path(output);
        try {
            FileSystem fs = out.getFileSystem(conf);
            if (fs.exists(out) && !overwrite) throw VitrimException.of(output, "already exists (pass --overwrite to replace it)");
            org.apache.hadoop.fs.Path parent = out.getParent();
            if (parent != null && !fs.exists(parent)) throw VitrimException.of(output, "the output's folder does not exist");
            org.apache.hadoop.fs.Path tmp = new org.apache.hadoop.fs.Path(parent, "." + out.getName() + ".tmp-" + UUID.randomUUID());
            long t0 = System.nanoTime();
            try {
                rows(spark, spec, input, partitions).write().mode(SaveMode.ErrorIfExists).parquet(tmp.toString());
                double seconds = (System.nanoTime() - t0) / 1e9;
                if (fs.exists(out) && !fs.delete(out, true)) throw VitrimException.of(output, "cannot replace the existing output");
                if (!fs.rename(tmp, out)) throw VitrimException.of(output, "cannot move the finished output into place");
                // counted from what was written (Hadoop readers skip the hidden temporary name)
                Dataset<Row> written = spark.read().parquet(output);
                return new Summary(written.count(), written.filter(functions.col("error").isNotNull()).count(), seconds);
            } finally {
                if (fs.exists(tmp)) fs.delete(tmp, true);
            }
        } catch (IOException e) {
            throw VitrimException.of(output, "cannot write (" + e.getMessage() + ")");
        }
    }

    static boolean isZip(String input) {
        return input.toLowerCase(Locale.ROOT).endsWith(".zip");
    }

    static boolean isImageName(String name) {
        int dot = name.lastIndexOf('.');
        return dot >= 0 && EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    /**
     * Whether {@code paths} are a segmentation set: some in a folder {@code labels/} and some in
     * {@code images/} (then {@code segment} reads the photos only, as {@code vitrim segment} does).
     */
    static boolean isSegmentationSet(List<String> paths) {
        return paths.stream().anyMatch(p -> LABELS.matcher(p).find()) && paths.stream().anyMatch(p -> IMAGES.matcher(p).find());
    }

    /** Files under a folder (recursively) or matching a glob, read by Spark's binaryFile source. */
    private static JavaRDD<PartitionRunner.Input> fileInputs(SparkSession spark, String input, int partitions, boolean photosOnly) {
        StringBuilder glob = new StringBuilder("*.{");
        for (String e : EXTENSIONS) glob.append(e).append(',').append(e.toUpperCase(Locale.ROOT)).append(',');
        glob.setCharAt(glob.length() - 1, '}');
        Dataset<Row> files;
        try {
            files = spark.read().format("binaryFile").option("recursiveFileLookup", "true")
                    .option("pathGlobFilter", glob.toString()).load(input).select("path", "content");
        } catch (Exception e) {
            // Spark's AnalysisException (no such path, say) is checked but undeclared
            if (!(e instanceof org.apache.spark.sql.AnalysisException) && e instanceof RuntimeException r) throw r;
            throw VitrimException.of(input, "cannot read images (" + firstLine(e.getMessage()) + ")");
        }
        // the listing the driver already holds (no job, no file read) decides whether label maps are left out
        if (photosOnly && isSegmentationSet(List.of(files.inputFiles()))) files = files.filter(functions.not(functions.col("path").rlike(LABELS.pattern())));
        if (partitions > 0) files = files.repartition(partitions);
        return files.toJavaRDD().map(r -> {
            String path = r.getString(0);
            byte[] content = r.getAs(1);
            return new PartitionRunner.Input(path, () -> content);
        });
    }

    /**
     * A zip on a path every executor can read: the driver lists its image entries (sorted, as
     * {@code vitrim classify} does) and each task opens the zip once and reads its share.
     */
    private static JavaRDD<PartitionRunner.Input> zipInputs(SparkSession spark, String input, int partitions, boolean photosOnly) {
        Path zip = Path.of(input);
        if (!Files.isRegularFile(zip)) throw VitrimException.of(input, "no such file");
        List<String> names = new ArrayList<>();
        try (ZipFile zf = new ZipFile(zip.toFile())) {
            Enumeration<? extends ZipEntry> en = zf.entries();
            while (en.hasMoreElements()) {
                ZipEntry e = en.nextElement();
                if (!e.isDirectory() && isImageName(e.getName())) names.add(e.getName());
            }
        } catch (IOException e) {
            throw VitrimException.of(input, "not a readable zip: " + e.getMessage());
        }
        names.sort(null);
        if (photosOnly && isSegmentationSet(names)) names.removeIf(n -> LABELS.matcher(n).find());
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int slices = partitions > 0 ? partitions : Math.max(1, Math.min(names.size(), 4 * jsc.defaultParallelism()));
        String where = zip.toAbsolutePath().normalize().toString();
        return jsc.parallelize(names, slices).mapPartitions(it -> zipPartition(where, it));
    }

    private static Iterator<PartitionRunner.Input> zipPartition(String zip, Iterator<String> names) throws IOException {
        ZipFile zf = new ZipFile(zip);
        org.apache.spark.TaskContext ctx = org.apache.spark.TaskContext.get();
        if (ctx != null) ctx.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) c -> close(zf));
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                boolean more = names.hasNext();
                if (!more && ctx == null) close(zf);
                return more;
            }

            @Override
            public PartitionRunner.Input next() {
                String name = names.next(), path = zip + "!" + name;
                return new PartitionRunner.Input(path, () -> {
                    ZipEntry e = zf.getEntry(name);
                    if (e == null) throw VitrimException.of(path, "no such entry");
                    try (InputStream in = zf.getInputStream(e)) {
                        return BoundedRead.read(in, e.getSize(), path);
                    } catch (IOException ex) {
                        throw VitrimException.of(path, "cannot read: " + ex.getMessage());
                    }
                });
            }
        };
    }

    private static void close(ZipFile zf) {
        try {
            zf.close();
        } catch (IOException ignored) {
            // a read-only zip
        }
    }

    private static Row toRow(JobSpec spec, ImageResult r) {
        List<Object> v = new ArrayList<>();
        v.add(r.path());
        if (spec.task() == JobSpec.Task.CLASSIFY) {
            v.add(r.ok() ? r.topLabels()[0] : null);
            v.add(r.ok() ? r.topProbs()[0] : null);
            v.add(r.ok() ? r.topLabels() : null);
            v.add(r.ok() ? boxed(r.topProbs()) : null);
        } else if (spec.task() == JobSpec.Task.EMBED) {
            v.add(r.ok() ? boxed(r.embedding()) : null);
        } else {
            // Spark's Row encoder takes a Scala map for a MapType column
            v.add(r.ok() ? scala.jdk.javaapi.CollectionConverters.asScala(r.classShares()) : null);
            v.add(r.ok() ? r.maskPng() : null);
            if (spec.ids()) v.add(r.ok() ? r.idsPng() : null);
        }
        v.add(r.ok() ? boxed(r.tokens()) : null);
        v.add(r.ok() ? r.gmacs() : null);
        v.add(r.error());
        return RowFactory.create(v.toArray());
    }

    private static Double[] boxed(double[] a) {
        Double[] b = new Double[a.length];
        for (int i = 0; i < a.length; i++) b[i] = a[i];
        return b;
    }

    private static Float[] boxed(float[] a) {
        Float[] b = new Float[a.length];
        for (int i = 0; i < a.length; i++) b[i] = a[i];
        return b;
    }

    private static Integer[] boxed(int[] a) {
        Integer[] b = new Integer[a.length];
        for (int i = 0; i < a.length; i++) b[i] = a[i];
        return b;
    }

    private static String firstLine(String s) {
        if (s == null) return "unknown error";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
