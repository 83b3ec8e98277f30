package io.vitrim.bench;

import io.vitrim.config.ViTConfig;
import io.vitrim.measure.SystemInfo;
import io.vitrim.model.Macs;
import io.vitrim.model.Param;
import io.vitrim.model.RandomInit;
import io.vitrim.model.Tape;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.train.AdamW;
import io.vitrim.train.LossTerm;
import io.vitrim.train.Sam;
import io.vitrim.train.SamConfig;
import io.vitrim.train.SoftmaxCrossEntropy;
import io.vitrim.train.TrainConfig;
import io.vitrim.train.TrainingStep;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Training throughput of the one model with token reduction inside the graph: full steps
 * (forward, loss, backward, AdamW, re-packing) on random images, no data loading, every spec in
 * turn per round so machine noise hits all alike; medians over rounds after warm-up, the speed-up
 * against the first spec beside the forward MAC ratio. A spec ending in {@code +sam} (or
 * {@code +asam}) runs SAM (ASAM) around AdamW, two passes per step: {@code none none+sam} is the
 * issue's SAM-vs-AdamW speed check (goal ≥ 0.48). A {@code +dp=P} modifier (before {@code +sam}, e.g.
 * {@code none+dp=0.1+sam}) turns on drop path with the training command's linear schedule up to P.
 * The PyTorch counterpart is
 * {@code scripts/python/bench_train_torch.py}.
 * <p>
 * Run: {@code java --add-modules jdk.incubator.vector -cp vitrim-bench/target/vitrim-bench.jar
 * io.vitrim.bench.TrainThroughput [embed depth heads mlp_ratio batch rounds steps threads] [spec...]}
 * (defaults: 192 6 3 4 128 5 10 2 none).
 */
public final class TrainThroughput {
    public static void main(String[] args) {
        int dim = arg(args, 0, 192), depth = arg(args, 1, 6), heads = arg(args, 2, 3), ratio = arg(args, 3, 4);
        int batch = arg(args, 4, 128), rounds = arg(args, 5, 5), steps = arg(args, 6, 10), threads = arg(args, 7, 2);
        List<String> specs = args.length > 8 ? Arrays.asList(args).subList(8, args.length) : List.of("none");
        ViTConfig cfg = new ViTConfig("vit_cifar", 32, 32, 4, 3, dim, depth, heads, dim * ratio, true, true, false,
                ViTConfig.Pool.TOKEN, false, 10, 1e-6f);
        System.out.printf(Locale.ROOT, "training %s: 32x32, patch 4, embed %d, depth %d, heads %d, mlp %d; batch %d, %d threads; %s%n",
                cfg.architecture(), dim, depth, heads, dim * ratio, batch, threads, SystemInfo.summary());
        SplittableRandom r = new SplittableRandom(1);
        float[] px = new float[batch * 3 * 32 * 32];
        for (int i = 0; i < px.length; i++) px[i] = (float) r.nextGaussian();
        int[] labels = new int[batch];
        for (int i = 0; i < batch; i++) labels[i] = r.nextInt(10);
        float[] targets = SoftmaxCrossEntropy.smoothed(labels, 10, 0.1f);
        try (VisionTransformer m = VisionTransformer.create(cfg, null, null, RandomInit.create(cfg, 0), threads, "bench")) {
            List<Param> params = m.weights().all();
            AdamW opt = new AdamW(params, 0.9f, 0.999f, 1e-8f, 0.05f);
            Tape tape = m.newTape(batch);
            List<TrainingStep> steppers = new ArrayList<>();
            List<Sam> sams = new ArrayList<>();
            List<double[]> dropRates = new ArrayList<>();
            List<Double> macRatio = new ArrayList<>();
            for (String s : specs) {
                boolean asam = s.endsWith("+asam"), sam = asam || s.endsWith("+sam");
                String rest = sam ? s.substring(0, s.lastIndexOf('+')) : s;
                double[] rates = new double[depth];
                int dp = rest.indexOf("+dp=");
                if (dp >= 0) {
                    double p = Double.parseDouble(rest.substring(dp + 4));
                    if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("drop path must be in [0, 1), before +sam: " + s);
                    for (int i = 0; i < depth; i++) rates[i] = TrainConfig.dropPathAt(p, i, depth);
                    rest = rest.substring(0, dp);
                }
                dropRates.add(rates);
                TokenReducer red = m.reducer(rest);
                TrainingStep st = new TrainingStep(m, red, params, List.of(LossTerm.CROSS_ENTROPY));
                steppers.add(st);
                sams.add(sam ? new Sam(asam ? SamConfig.asam(SamConfig.ASAM_RHO) : SamConfig.sam(SamConfig.RHO), params, m::weightsChanged) : null);
                tape.dropPath(rates, 0);
                st.run(tape, px, targets);
                macRatio.add(Macs.dense(cfg) / Macs.of(cfg, tape.trace(), 0));
            }
            double[][] ips = new double[specs.size()][rounds];
            for (int round = -2; round < rounds; round++) { // two warm-up rounds
                for (int k = 0; k < specs.size(); k++) {
                    long t0 = System.nanoTime();
                    TrainingStep st = steppers.get(k);
                    Sam sam = sams.get(k);
                    for (int s = 0; s < steps; s++) {
                        tape.dropPath(dropRates.get(k), 1000L * round + s);
                        if (sam == null) st.run(tape, px, targets);
                        else sam.gradient(() -> st.run(tape, px, targets));
                        opt.step(1e-4f);
                        m.weightsChanged();
                    }
                    double sec = (System.nanoTime() - t0) / 1e9;
                    if (round >= 0) ips[k][round] = steps * batch / sec;
                }
            }
            double base = median(ips[0]);
            System.out.println("spec                     img/s (median)  runs                          speed-up  MAC ratio  speed-up/MAC");
            for (int k = 0; k < specs.size(); k++) {
                double med = median(ips[k]);
                StringBuilder runs = new StringBuilder();
                for (double v : ips[k]) runs.append(String.format(Locale.ROOT, "%.0f ", v));
                System.out.printf(Locale.ROOT, "%-24s %14.1f  %-29s %8.3f  %9.3f  %12.3f%n", specs.get(k), med, runs.toString().trim(),
                        med / base, macRatio.get(k), med / base / macRatio.get(k));
            }
        }
    }

    static int arg(String[] a, int i, int def) {
        return a.length > i ? Integer.parseInt(a[i]) : def;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
