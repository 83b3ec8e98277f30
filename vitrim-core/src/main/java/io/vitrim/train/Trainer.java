package io.vitrim.train;

import io.vitrim.VitrimException;
import io.vitrim.data.LabelledImages;
import io.vitrim.io.AtomicFiles;
import io.vitrim.io.Json;
import io.vitrim.io.ModelFolder;
import io.vitrim.io.SafeTensors;
import io.vitrim.measure.Accuracy;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.model.Param;
import io.vitrim.model.RandomInit;
import io.vitrim.model.StateDict;
import io.vitrim.model.Tape;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The training loop over the one model ({@link VisionTransformer}, with the run's token
 * reduction inside the training graph): AdamW over the trained {@link ParamGroups} (optionally
 * inside sharpness-aware minimisation, {@link Sam}), warm-up +
 * cosine schedule, gradient clipping, label smoothing, a sum of {@link LossTerm}s, augmented
 * batches from a background thread; after every epoch an evaluation, the model folder
 * ({@code config.json} + {@code model.safetensors}), the metrics log and a checkpoint — each
 * written atomically. {@link #resume} continues bit for bit from the last completed epoch.
 */
public final class Trainer {
    /** Receives progress; all methods are called on the training thread. */
    public interface Listener {
        default void step(int epoch, int step, int stepsPerEpoch, double loss, double acc, double imagesPerSecond, double lr) {}

        default void epoch(Map<String, Object> metrics) {}

        default void message(String s) {}
    }

    public static final String CHECKPOINT = "checkpoint.safetensors";

    private final ViTConfig model;
    private final TrainConfig cfg;
    private final TrainTask task;
    private final Path out;
    private final int threads;
    private final PreprocessConfig pre;
    private final List<Map<String, Object>> history = new ArrayList<>();
    private final StateDict initial;
    private final List<LossTerm> loss;
    private VisionTransformer net;
    private TokenReducer reducer;
    private MethodTraining method;
    private MethodTraining.Graph graph;
    private List<Param> trained;
    private TrainTask.Stepper stepper;
    private AdamW opt;
    private Sam sam;
    private int epochsDone;
    private int evalEvery;   // 0: not told — the resumed run's, else every epoch
    private double emaDecay; // 0: no average kept
    private float[][] ema;   // per trained parameter, when kept
    private long step;
    private double secondsSoFar;

    /**
     * @param model model shape (its num_classes must equal the data's classes)
     * @param pre   preprocessing written into the model folder (mean/std used for training too)
     */
    public Trainer(ViTConfig model, PreprocessConfig pre, TrainConfig cfg, LabelledImages train, LabelledImages eval, Path out, int threads) {
        this(model, pre, cfg, null, List.of(LossTerm.CROSS_ENTROPY), train, eval, out, threads);
    }

    /**
     * @param initial starting weights (fine-tuning, {@code cfg.init()}); null = seeded random
     * @param loss    the loss terms, summed
     */
    public Trainer(ViTConfig model, PreprocessConfig pre, TrainConfig cfg, StateDict initial, List<LossTerm> loss,
                   LabelledImages train, LabelledImages eval, Path out, int threads) {
        this(model, pre, cfg, initial, loss, new ClassificationTask(train, eval), out, threads);
    }

    /**
     * A run of any {@link TrainTask} (classification or segmentation).
     *
     * @param initial starting weights (fine-tuning, {@code cfg.init()}); null = the task's seeded random ones
     */
    public Trainer(ViTConfig model, PreprocessConfig pre, TrainConfig cfg, StateDict initial, List<LossTerm> loss,
                   TrainTask task, Path out, int threads) {
        task.check(model);
        if (task.size() < cfg.batch()) throw VitrimException.of(task.source(), task.size() + " images, fewer than one batch of " + cfg.batch());
        this.model = model;
        this.pre = pre;
        this.cfg = cfg;
        this.task = task;
        this.out = out;
        this.threads = threads;
        this.initial = initial;
        this.loss = List.copyOf(loss);
    }

    /**
     * Trains a learned method with the model (Cropr): its graph replaces the run's reducer in
     * training forwards, its losses join the main loss, its settings go into the model folder.
     */
    public Trainer method(MethodTraining m) {
        this.method = m;
        return this;
    }

    /**
     * Evaluates after every {@code n}-th epoch and after the last one only (1 = every epoch): the
     * held-out pass is a fixed cost per epoch (34 s of a 7.5-minute epoch for the 9-block CIFAR-10
     * model on a 2-core Zen 3). Training is the same bit for bit. Kept in the checkpoint: a resumed
     * run not told another keeps it.
     */
    public Trainer evalEvery(int n) {
        if (n < 1) throw new IllegalArgumentException("evaluation interval must be >= 1 epoch, got " + n);
        this.evalEvery = n;
        return this;
    }

    /**
     * Keeps an exponential moving average of the trained weights, {@code ema += (1 − decay)·(w − ema)}
     * after every step (timm's {@code ModelEmaV3} without warm-up), evaluates it beside the model
     * ({@code eval_ema_*} metrics), writes it as a model folder in {@code out/ema} and keeps it in
     * the checkpoint. A resumed run that had none starts it from the current weights; one that had
     * one keeps it without being told. Training itself is the same bit for bit.
     */
    public Trainer ema(double decay) {
        if (!(decay > 0 && decay < 1)) throw new IllegalArgumentException("EMA decay must be in (0, 1), got " + decay);
        this.emaDecay = decay;
        return this;
    }

    /** The folder {@link #ema} writes the averaged model to. */
    public static final String EMA_FOLDER = "ema";

    /** Per-channel mean and std of a data set's pixels in [0, 1] units: {mean[3], std[3]}. */
    public static float[][] channelStats(LabelledImages d) {
        double[] s = new double[3], sq = new double[3];
        byte[] px = d.pixels();
        long n = (long) d.size() * d.height() * d.width();
        for (long i = 0; i < n; i++) {
            for (int c = 0; c < 3; c++) {
                double v = (px[(int) (i * 3 + c)] & 0xff) / 255.0;
                s[c] += v;
                sq[c] += v * v;
            }
        }
        float[] mean = new float[3], std = new float[3];
        for (int c = 0; c < 3; c++) {
            mean[c] = (float) (s[c] / n);
            std[c] = (float) Math.sqrt(sq[c] / n - (s[c] / n) * (s[c] / n));
        }
        return new float[][] {mean, std};
    }

    /** Loads the checkpoint in the output folder; returns false if there is none. */
    private boolean resume(Listener l) {
        Path ck = out.resolve(CHECKPOINT);
        if (!Files.exists(ck)) return false;
        try (SafeTensors st = SafeTensors.open(ck)) {
            Map<String, String> meta = st.metadata();
            epochsDone = Integer.parseInt(meta.get("epochs_done"));
            step = Long.parseLong(meta.get("step"));
            secondsSoFar = Double.parseDouble(meta.getOrDefault("seconds", "0"));
            for (Object o : (List<?>) Json.parse(meta.get("history"))) {
                @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) o;
                history.add(m);
            }
            StateDict sd = new StateDict();
            for (Map.Entry<String, SafeTensors.Entry> e : st.entries().entrySet()) {
                if (e.getKey().startsWith("adamw.") || e.getKey().startsWith("ema.")) continue;
                long[] s = e.getValue().shape();
                int[] shape = new int[s.length];
                for (int i = 0; i < s.length; i++) shape[i] = (int) s[i];
                sd.put(e.getKey(), st.floats(e.getKey()), shape);
            }
            build(sd, ck);
            List<Param> ps = trained;
            for (int i = 0; i < ps.size(); i++) {
                System.arraycopy(st.floats("adamw.m." + ps.get(i).name), 0, opt.m[i], 0, opt.m[i].length);
                System.arraycopy(st.floats("adamw.v." + ps.get(i).name), 0, opt.v[i], 0, opt.v[i].length);
            }
            opt.step = Long.parseLong(meta.get("adamw_steps"));
            // a run keeps its evaluation interval and its average, at its decay, unless told another
            if (evalEvery == 0 && meta.containsKey("eval_every")) evalEvery(Integer.parseInt(meta.get("eval_every")));
            if (emaDecay == 0 && meta.containsKey("ema_decay")) emaDecay = Double.parseDouble(meta.get("ema_decay"));
            if (emaDecay > 0 && st.entries().containsKey("ema." + ps.get(0).name)) {
                ema = new float[ps.size()][];
                for (int i = 0; i < ps.size(); i++) ema[i] = st.floats("ema." + ps.get(i).name).clone();
            }
        } catch (RuntimeException e) {
            if (e instanceof VitrimException) throw e;
            throw VitrimException.of(ck, "not a usable checkpoint (" + e.getMessage() + ")");
        }
        l.message("resumed from " + ck + " after epoch " + epochsDone + " (step " + step + ")");
        return true;
    }

    private void build(StateDict init, Object source) {
        if (net != null) net.close();
        net = task.build(model, pre, init, threads, source);
        reducer = net.reducer(method != null ? method.evalSpec() : cfg.reduce());
        List<ParamGroups.Group> groups = cfg.groups().resolve(net.weights().all(), model.depth(), cfg.lr());
        trained = new ArrayList<>();
        float[] scale = new float[groups.size()];
        for (int i = 0; i < groups.size(); i++) {
            trained.add(groups.get(i).param());
            scale[i] = (float) groups.get(i).lrScale();
        }
        opt = new AdamW(trained, scale, 0.9f, 0.999f, 1e-8f, (float) cfg.weightDecay());
        stepper = task.stepper(net, reducer, trained, loss, cfg);
    }

    /** The method's graph of {@code epoch} (if there is a method) and a stepper that runs it. */
    private void methodGraph(int epoch) {
        if (method == null) return;
        graph = method.graph(net, epoch);
        List<LossTerm> all = new ArrayList<>(loss);
        all.addAll(graph.losses());
        stepper = task.stepper(net, graph.reducer(), trained, all, cfg);
    }

    /** Runs the remaining epochs. */
    public void run(Listener l) throws IOException {
        try {
            if (!resume(l)) {
                StateDict init = initial;
                if (init == null) {
                    init = task.randomInit(model, cfg.seed());
                    if (cfg.sinCosPos()) RandomInit.sinCosPosEmbed(init, model);
                }
                // a copy: the caller's state dict stays as it was
                build(init.copy(), cfg.init() != null ? cfg.init() : "initial weights");
            }
            if (evalEvery == 0) evalEvery = 1;
            Tape tape = net.newTape(cfg.batch());
            sam = sam();
            if (emaDecay > 0 && ema == null) {
                if (method != null) throw new VitrimException("an EMA of the weights is not supported together with a method's training graph");
                ema = new float[trained.size()][];
                for (int i = 0; i < ema.length; i++) ema[i] = trained.get(i).value.clone();
                if (epochsDone > 0) l.message("EMA of the weights (decay " + emaDecay + ") starts from the weights after epoch " + epochsDone);
            }
            double[] dropRates = new double[model.depth()];
            for (int i = 0; i < dropRates.length; i++) {
                dropRates[i] = cfg.dropPathAt(i, model.depth());
                if (method != null) dropRates[i] = method.dropPath(i, model.depth(), dropRates[i]);
            }
            int stepsPerEpoch = task.size() / cfg.batch();
            for (int epoch = epochsDone; epoch < cfg.epochs(); epoch++) {
                long t0 = System.nanoTime();
                double lossSum = 0;
                long correct = 0, counted = 0;
                int seen = 0;
                double dataWait = 0;
                methodGraph(epoch);
                try (BatchStream bs = task.batches(model, pre, cfg, epoch)) {
                    for (int s = 0; s < stepsPerEpoch; s++) {
                        BatchStream.Batch b = bs.next();
                        tape.dropPath(dropRates, Augment.mix(cfg.seed() ^ 0xD809L, step));
                        TrainTask.StepResult r = sam == null ? stepper.run(tape, b) : sam.gradient(() -> stepper.run(tape, b));
                        if (cfg.clipNorm() > 0) AdamW.clipGradNorm(trained, cfg.clipNorm());
                        double lr = cfg.lrAt(step, stepsPerEpoch);
                        opt.step((float) lr);
                        if (ema != null) updateEma();
                        net.weightsChanged();
                        if (graph != null) graph.weightsChanged();
                        step++;
                        lossSum += r.loss() * cfg.batch();
                        correct += r.correct();
                        counted += r.counted();
                        seen += cfg.batch();
                        double secs = (System.nanoTime() - t0) / 1e9;
                        l.step(epoch, s + 1, stepsPerEpoch, lossSum / seen, (double) correct / counted, seen / secs, lr);
                    }
                    dataWait = bs.waitSeconds();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                }
                double trainSecs = (System.nanoTime() - t0) / 1e9;
                secondsSoFar += trainSecs;
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("epoch", epoch + 1);
                m.put("step", step);
                m.put("lr", cfg.lrAt(step - 1, stepsPerEpoch));
                m.put("train_loss", lossSum / seen);
                m.put("train_acc", (double) correct / counted);
                m.put("epoch_seconds", trainSecs);
                m.put("images_per_s", seen / trainSecs);
                m.put("data_wait_seconds", dataWait); // time the loop waited for augmented batches
                if (graph != null) m.putAll(graph.epochMetrics());
                StateDict sd = net.stateDict();
                if (task.evaluates() && ((epoch + 1) % evalEvery == 0 || epoch + 1 == cfg.epochs())) {
                    long e0 = System.nanoTime();
                    // the unreduced model always; with --reduce (or a method) also the reduced one
                    m.putAll(task.evaluate(net, method != null || !cfg.reduce().equals("none") ? reducer : null));
                    if (ema != null) m.putAll(evaluateEma());
                    m.put("eval_seconds", (System.nanoTime() - e0) / 1e9);
                }
                m.put("train_seconds_total", secondsSoFar);
                history.add(m);
                epochsDone = epoch + 1;
                save(sd);
                l.epoch(m);
            }
        } finally {
            if (net != null) net.close();
        }
    }

    private void updateEma() {
        float keep = (float) (1 - emaDecay);
        for (int i = 0; i < ema.length; i++) {
            float[] e = ema[i], w = trained.get(i).value;
            for (int j = 0; j < e.length; j++) e[j] += keep * (w[j] - e[j]);
        }
    }

    /** The unreduced model's metrics with the averaged weights in place ({@code eval_x} as {@code eval_ema_x}); the weights are put back exactly. */
    private Map<String, Object> evaluateEma() {
        float[][] live = new float[ema.length][];
        for (int i = 0; i < ema.length; i++) {
            float[] w = trained.get(i).value;
            live[i] = w.clone();
            System.arraycopy(ema[i], 0, w, 0, w.length);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        try {
            net.weightsChanged();
            for (Map.Entry<String, Object> e : task.evaluate(net, null).entrySet()) {
                m.put(e.getKey().replaceFirst("^eval_", "eval_ema_"), e.getValue());
            }
        } finally {
            for (int i = 0; i < ema.length; i++) System.arraycopy(live[i], 0, trained.get(i).value, 0, live[i].length);
            net.weightsChanged();
        }
        return m;
    }

    /** SAM around AdamW when the run asks for it (two passes per step; see {@link Sam}), else null. */
    private Sam sam() {
        if (cfg.sam() == null) return null;
        // a method's loss terms keep per-step statistics (Cropr's auxiliary losses) that a second pass would count twice
        if (method != null) throw new VitrimException("SAM is not supported together with a method's training graph");
        return new Sam(cfg.sam(), trained, () -> {
            net.weightsChanged();
            if (graph != null) graph.weightsChanged();
        });
    }

    private void save(StateDict sd) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("epochs", String.valueOf(epochsDone));
        Map<String, Object> extras = new LinkedHashMap<>(task.configExtras());
        if (method != null) extras.putAll(method.configExtras());
        ModelFolder.write(out, model, pre, task.labels(), sd, meta, extras);
        if (ema != null) {
            StateDict avg = sd.copy();
            for (int i = 0; i < ema.length; i++) avg.put(trained.get(i).name, ema[i].clone(), trained.get(i).shape);
            Map<String, String> emaMeta = new LinkedHashMap<>(meta);
            emaMeta.put("ema_decay", String.valueOf(emaDecay));
            ModelFolder.write(out.resolve(EMA_FOLDER), model, pre, task.labels(), avg, emaMeta, extras);
        }
        writeMetrics();
        // checkpoint: weights, optimiser moments, position in the run
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        for (Map.Entry<String, StateDict.Tensor> e : sd.tensors().entrySet()) {
            t.put(e.getKey(), new SafeTensors.Tensor(e.getValue().data(), longs(e.getValue().shape())));
        }
        List<Param> ps = trained;
        for (int i = 0; i < ps.size(); i++) {
            t.put("adamw.m." + ps.get(i).name, new SafeTensors.Tensor(opt.m[i], longs(ps.get(i).shape)));
            t.put("adamw.v." + ps.get(i).name, new SafeTensors.Tensor(opt.v[i], longs(ps.get(i).shape)));
            if (ema != null) t.put("ema." + ps.get(i).name, new SafeTensors.Tensor(ema[i], longs(ps.get(i).shape)));
        }
        Map<String, String> cm = new LinkedHashMap<>();
        cm.put("epochs_done", String.valueOf(epochsDone));
        cm.put("step", String.valueOf(step));
        cm.put("adamw_steps", String.valueOf(opt.steps()));
        cm.put("seconds", String.valueOf(secondsSoFar));
        cm.put("eval_every", String.valueOf(evalEvery));
        if (ema != null) cm.put("ema_decay", String.valueOf(emaDecay));
        cm.put("train_config", Json.write(cfg.toJson()));
        cm.put("history", Json.write(history));
        if (method != null) cm.put("method_training", Json.write(method.configExtras()));
        cm.putAll(task.checkpointMetadata(cfg));
        SafeTensors.write(out.resolve(CHECKPOINT), t, cm);
    }

    private static long[] longs(int[] s) {
        long[] l = new long[s.length];
        for (int i = 0; i < s.length; i++) l[i] = s[i];
        return l;
    }

    /** One CSV field as RFC 4180 writes it: quoted when it holds a comma, quote or line break (Cropr's per-module losses are a list). */
    static String csvField(Object v) {
        String s = String.valueOf(v);
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    private void writeMetrics() throws IOException {
        StringBuilder jsonl = new StringBuilder();
        StringBuilder csv = new StringBuilder();
        List<String> cols = new ArrayList<>();
        for (Map<String, Object> m : history) for (String key : m.keySet()) if (!cols.contains(key)) cols.add(key);
        csv.append(String.join(",", cols)).append('\n');
        for (Map<String, Object> m : history) {
            jsonl.append(Json.write(m)).append('\n');
            List<String> row = new ArrayList<>();
            for (String c : cols) row.add(m.containsKey(c) ? csvField(m.get(c)) : "");
            csv.append(String.join(",", row)).append('\n');
        }
        AtomicFiles.writeString(out.resolve("metrics.jsonl"), jsonl.toString());
        AtomicFiles.writeString(out.resolve("metrics.csv"), csv.toString());
    }

    public List<Map<String, Object>> history() {
        return history;
    }

    /** The run settings stored in a checkpoint (for --resume without repeating options). */
    public static Map<String, String> storedMetadata(Path out) {
        Path ck = out.resolve(CHECKPOINT);
        try (SafeTensors st = SafeTensors.open(ck)) {
            if (!st.metadata().containsKey("train_config")) throw VitrimException.of(ck, "checkpoint has no train_config");
            return st.metadata();
        }
    }

    public static TrainConfig configFrom(Map<String, String> meta) {
        return TrainConfig.fromJson(new Json.Obj(Json.parseObject(meta.get("train_config")), "train_config"));
    }
}
