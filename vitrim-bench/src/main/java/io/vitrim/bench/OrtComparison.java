package io.vitrim.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.vitrim.io.ModelLoader;
import io.vitrim.io.SafeTensors;
import io.vitrim.measure.SystemInfo;
import io.vitrim.measure.Throughput;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * vitrim vs ONNX Runtime (Java, CPU) on the same weights in the same process: both warmed up,
 * then rounds that run each engine once; medians and the ratio vitrim ÷ ORT.
 *
 * <pre>java --add-modules jdk.incubator.vector -jar vitrim-bench.jar DIR [batch] [threads] [warmupSeconds] [rounds]</pre>
 * where DIR holds model.safetensors, model.onnx and check.safetensors from scripts/python/export_onnx.py.
 */
public final class OrtComparison {
    public static void main(String[] args) throws OrtException {
        Path dir = Path.of(args.length > 0 ? args[0] : "bench-out");
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : Runtime.getRuntime().availableProcessors();
        double warmup = args.length > 3 ? Double.parseDouble(args[3]) : 15;
        int rounds = args.length > 4 ? Integer.parseInt(args[4]) : 10;
        String arch = args.length > 5 ? args[5] : "deit_small_patch16_224";

        OrtEnvironment env = OrtEnvironment.getEnvironment();
        OrtSession.SessionOptions so = new OrtSession.SessionOptions();
        so.setIntraOpNumThreads(threads);
        so.setInterOpNumThreads(1);
        so.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
        so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        try (VisionTransformer vit = ModelLoader.load(dir.resolve("model.safetensors"), arch, threads);
             OrtSession ort = env.createSession(dir.resolve("model.onnx").toString(), so)) {
            // both engines must agree on the reference batch written by the exporter
            float[] checkPx, checkLogits;
            try (SafeTensors st = SafeTensors.open(dir.resolve("check.safetensors"))) {
                checkPx = st.floats("pixel_values");
                checkLogits = st.floats("logits");
            }
            int checkB = checkPx.length / (3 * 224 * 224);
            float[] a = vit.forward(checkPx, checkB, TokenReducer.NONE, false).logits();
            float[] b = runOrt(env, ort, checkPx, checkB);
            System.out.printf(Locale.ROOT, "check: max |vitrim - torch| %.2e, max |ort - torch| %.2e%n", maxDiff(a, checkLogits), maxDiff(b, checkLogits));

            float[] px = new float[batch * 3 * 224 * 224];
            SplittableRandom rnd = new SplittableRandom(1);
            for (int i = 0; i < px.length; i++) px[i] = (float) rnd.nextGaussian();
            long start = System.nanoTime();
            int warm = 0;
            while ((System.nanoTime() - start) / 1e9 < warmup || warm < 2) {
                vit.forward(px, batch, TokenReducer.NONE, false);
                runOrt(env, ort, px, batch);
                warm++;
            }
            double[] tv = new double[rounds], to = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                // a pause before each engine lets the other one's spinning worker threads go idle
                pause();
                long t0 = System.nanoTime();
                vit.forward(px, batch, TokenReducer.NONE, false);
                tv[r] = (System.nanoTime() - t0) / 1e6;
                pause();
                long t1 = System.nanoTime();
                runOrt(env, ort, px, batch);
                to[r] = (System.nanoTime() - t1) / 1e6;
            }
            double mv = Throughput.median(tv), mo = Throughput.median(to);
            System.out.printf(Locale.ROOT, "%s, batch %d, %d threads, %s, ONNX Runtime %s%n", arch, batch, threads, SystemInfo.summary(), env.getVersion());
            System.out.printf(Locale.ROOT, "warm-up %.1f s (%d rounds), %d measured rounds, medians:%n", (System.nanoTime() - start) / 1e9, warm, rounds);
            System.out.printf(Locale.ROOT, "  vitrim        %8.1f ms/batch  %7.1f img/s%n", mv, batch * 1000 / mv);
            System.out.printf(Locale.ROOT, "  onnxruntime   %8.1f ms/batch  %7.1f img/s%n", mo, batch * 1000 / mo);
            System.out.printf(Locale.ROOT, "  vitrim / ORT  %.2fx%n", mo / mv);
        }
    }

    static float[] runOrt(OrtEnvironment env, OrtSession s, float[] px, int batch) throws OrtException {
        try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(px), new long[] {batch, 3, 224, 224});
             OrtSession.Result r = s.run(Map.of("pixel_values", in))) {
            OnnxTensor out = (OnnxTensor) r.get(0);
            FloatBuffer fb = out.getFloatBuffer();
            float[] o = new float[fb.remaining()];
            fb.get(o);
            return o;
        }
    }

    static void pause() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < Math.min(a.length, b.length); i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
