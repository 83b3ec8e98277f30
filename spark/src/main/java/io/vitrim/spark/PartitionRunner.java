package io.vitrim.spark;

import io.vitrim.VitrimException;
import io.vitrim.image.ImageDecoder;
import io.vitrim.image.Preprocessor;
import io.vitrim.image.RgbImage;
import io.vitrim.model.Macs;
import io.vitrim.model.Prediction;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Supplier;

/**
 * Runs one partition: named images in, one {@link ImageResult} per image out, in input order.
 * Images are decoded and batched {@code spec.batch()} at a time; an image that cannot be read or
 * decoded becomes a row with an error and never fails the batch or the task. Lazy: a batch is
 * read only when its rows are asked for, so a partition never holds more than one batch.
 */
public final class PartitionRunner {
    /** One input image: its path and how to read its bytes (which may fail with the reason). */
    public record Input(String path, Supplier<byte[]> bytes) {}

    private PartitionRunner() {}

    public static Iterator<ImageResult> run(JobSpec spec, Iterator<Input> inputs) {
        return new Iterator<>() {
            private final List<ImageResult> ready = new ArrayList<>();
            private int next;

            @Override
            public boolean hasNext() {
                if (next < ready.size()) return true;
                ready.clear();
                next = 0;
                while (ready.isEmpty() && inputs.hasNext()) ready.addAll(batch(spec, inputs));
                return !ready.isEmpty();
            }

            @Override
            public ImageResult next() {
                if (!hasNext()) throw new NoSuchElementException();
                return ready.get(next++);
            }
        };
    }

    /** Reads up to {@code spec.batch()} inputs and returns their rows. */
    private static List<ImageResult> batch(JobSpec spec, Iterator<Input> inputs) {
        VisionTransformer m = ExecutorModels.model(spec);
        spec.check(m);
        Preprocessor pre = new Preprocessor(m.preprocess());
        int per = 3 * m.config().imgHeight() * m.config().imgWidth();
        ImageResult[] rows = new ImageResult[spec.batch()];
        String[] paths = new String[spec.batch()];
        int[] slotOf = new int[spec.batch()], widths = new int[spec.batch()], heights = new int[spec.batch()];
        float[] px = new float[spec.batch() * per];
        int read = 0, decoded = 0;
        while (read < spec.batch() && inputs.hasNext()) {
            Input in = inputs.next();
            paths[read] = in.path();
            try {
                RgbImage img = ImageDecoder.decode(in.bytes().get(), in.path());
                pre.toTensor(img, px, decoded * per);
                // a mask is made at the photo's own size: only its size is kept, not its pixels
                widths[decoded] = img.width();
                heights[decoded] = img.height();
                slotOf[decoded++] = read;
            } catch (RuntimeException e) {
                // a corrupt or unreadable image is a row, not a failed job
                rows[read] = ImageResult.failed(in.path(), message(e));
            }
            read++;
        }
        if (decoded > 0) {
            float[] batch = decoded == spec.batch() ? px : java.util.Arrays.copyOf(px, decoded * per);
            TokenReducer reducer = ExecutorModels.reducer(spec);
            switch (spec.task()) {
                case CLASSIFY -> {
                    VisionTransformer.Result r = m.forward(batch, decoded, reducer, false);
                    List<Prediction> preds = m.predictions(r);
                    for (int i = 0; i < decoded; i++) {
                        List<Prediction.Top> top = preds.get(i).top(spec.topk());
                        String[] labels = new String[top.size()];
                        double[] probs = new double[top.size()];
                        for (int t = 0; t < top.size(); t++) {
                            labels[t] = top.get(t).label();
                            probs[t] = top.get(t).probability();
                        }
                        rows[slotOf[i]] = ImageResult.classified(paths[slotOf[i]], labels, probs, preds.get(i).tokens(),
                                Macs.of(m.config(), r.trace(), i) / 1e9);
                    }
                }
                case EMBED -> {
                    VisionTransformer.Encoding e = m.encode(batch, decoded, reducer, false);
                    for (int i = 0; i < decoded; i++) {
                        rows[slotOf[i]] = ImageResult.embedded(paths[slotOf[i]], e.embedding(i), e.trace().tokensEnteringBlocks(i),
                                Macs.of(m.config(), e.trace(), i) / 1e9);
                    }
                }
                case SEGMENT -> {
                    VisionTransformer.Segmentation s = m.segment(batch, decoded, reducer, spec.restore());
                    // one image's full-size logits at a time: a task holds one photo's K x h x w floats at most
                    for (int i = 0; i < decoded; i++) {
                        rows[slotOf[i]] = SegmentRows.row(paths[slotOf[i]], m, s, i, widths[i], heights[i], spec.ids());
                    }
                }
            }
        }
        return java.util.Arrays.asList(rows).subList(0, read);
    }

    private static String message(RuntimeException e) {
        if (e instanceof VitrimException) return e.getMessage();
        return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }
}
