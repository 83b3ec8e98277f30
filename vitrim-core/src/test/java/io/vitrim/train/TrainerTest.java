package io.vitrim.train;

import io.vitrim.VitrimException;
import io.vitrim.data.LabelledImages;
import io.vitrim.model.Param;
import io.vitrim.model.Tape;
import io.vitrim.io.ModelLoader;
import io.vitrim.io.SafeTensors;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.model.RandomInit;
import io.vitrim.model.StateDict;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TrainerTest {
    @TempDir
    Path tmp;

    static final ViTConfig TINY = new ViTConfig("vit_tiny_patch16_224", 16, 16, 4, 3, 32, 2, 2, 64, true, true, false,
            ViTConfig.Pool.TOKEN, false, 3, 1e-6f);
    static final PreprocessConfig PRE = new PreprocessConfig(16, 16, 1.0, PreprocessConfig.Interpolation.BICUBIC,
            PreprocessConfig.Resize.SHORTER_SIDE, new float[] {0.5f, 0.5f, 0.5f}, new float[] {0.25f, 0.25f, 0.25f});

    /** A folder of {@code perClass} noisy 16×16 PNGs for each of 3 classes. */
    Path dataset(String name, int perClass, long seed) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        Path root = tmp.resolve(name);
        String[] classes = {"circle", "square", "stripe"};
        for (String c : classes) {
            Files.createDirectories(root.resolve(c));
            for (int i = 0; i < perClass; i++) {
                BufferedImage img = new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB);
                for (int y = 0; y < 16; y++) {
                    for (int x = 0; x < 16; x++) img.setRGB(x, y, r.nextInt(1 << 24));
                }
                ImageIO.write(img, "png", root.resolve(c).resolve(String.format("%03d.png", i)).toFile());
            }
        }
        return root;
    }

    @Test
    void tinyModelOverfitsAFewDozenImages() throws IOException {
        LabelledImages d = LabelledImages.load(dataset("overfit", 12, 1), PRE, 2, 0, null);
        assertThat(d.size()).isEqualTo(36);
        assertThat(d.classes()).containsExactly("circle", "square", "stripe");
        try (VisionTransformer m = VisionTransformer.create(TINY, null, null, RandomInit.create(TINY, 0), 2, "tiny")) {
            List<Param> params = m.weights().all();
            TrainingStep step = new TrainingStep(m, TokenReducer.NONE, params, List.of(LossTerm.CROSS_ENTROPY));
            Tape tape = m.newTape(36);
            AdamW opt = new AdamW(params, 0.9f, 0.999f, 1e-8f, 0f);
            int per = 3 * 16 * 16;
            float[] px = new float[36 * per];
            int[] labels = new int[36];
            for (int i = 0; i < 36; i++) {
                d.toTensor(i, PRE.mean(), PRE.std(), px, i * per);
                labels[i] = d.label(i);
            }
            float[] t = SoftmaxCrossEntropy.smoothed(labels, 3, 0f);
            int correct = 0;
            for (int s = 0; s < 150 && correct < 36; s++) {
                correct = step.run(tape, px, t).correct();
                opt.step(3e-3f);
                m.weightsChanged();
            }
            float[] logits = m.forward(px, 36, TokenReducer.NONE, false).logits();
            int right = 0;
            for (int i = 0; i < 36; i++) if (TrainingStep.argmax(logits, i * 3, 3) == labels[i]) right++;
            assertThat(right).as("train accuracy after overfitting").isEqualTo(36);
        }
    }

    /** With drop path, RandAugment, random erasing, mixup and CutMix, so resuming must repeat their draws too. */
    TrainConfig config(int epochs) {
        return new TrainConfig(epochs, 8, 2e-3, 1e-4, 1, 0.05, 1.0, 0.1, 2, true, 7, true, "none", null, ParamGroups.ALL,
                0.2, 2, 9, 0).withMix(MixConfig.of(0.8, 1.0)).withErase(0.25);
    }

    @Test
    void theStepTrainsOnTheBatchsMixedTargets() throws IOException {
        LabelledImages d = LabelledImages.load(dataset("mixstep", 2, 3), PRE, 2, 0, null);
        TrainConfig cfg = config(1);
        ClassificationTask task = new ClassificationTask(d, null);
        try (VisionTransformer net = task.build(TINY, PRE, RandomInit.create(TINY, 1), 1, "t")) {
            List<io.vitrim.model.Param> params = net.weights().all();
            Tape tape = net.newTape(6);
            float[] px = new float[6 * 3 * 16 * 16];
            SplittableRandom r = new SplittableRandom(2);
            for (int i = 0; i < px.length; i++) px[i] = (float) r.nextGaussian();
            int[] labels = {0, 1, 2, 2, 0, 1};
            TrainTask.Stepper stepper = task.stepper(net, TokenReducer.NONE, params, List.of(LossTerm.CROSS_ENTROPY), cfg);
            double mixed = stepper.run(tape, new BatchStream.Batch(px, labels, null, new Mixup.Mix(0.3f, false, 0, 0, 0, 0))).loss();
            double plain = stepper.run(tape, new BatchStream.Batch(px, labels, null)).loss();
            TrainingStep direct = new TrainingStep(net, TokenReducer.NONE, params, List.of(LossTerm.CROSS_ENTROPY));
            assertThat(mixed).isEqualTo(direct.run(tape, px, Mixup.targets(labels, 0.3f, 3, 0.1f)).loss());
            assertThat(plain).isEqualTo(direct.run(tape, px, SoftmaxCrossEntropy.smoothed(labels, 3, 0.1f)).loss());
            assertThat(mixed).isNotEqualTo(plain);
        }
    }

    @Test
    void mixingChangesTheRunAndIsReproducible() throws IOException {
        LabelledImages d = LabelledImages.load(dataset("mix", 10, 2), PRE, 2, 0, null);
        Path a = tmp.resolve("mix-a"), b = tmp.resolve("mix-b"), c = tmp.resolve("mix-off"), e = tmp.resolve("erase-off");
        new Trainer(TINY, PRE, config(1), d, d, a, 2).run(new Trainer.Listener() {});
        new Trainer(TINY, PRE, config(1), d, d, b, 1).run(new Trainer.Listener() {});
        new Trainer(TINY, PRE, config(1).withMix(null), d, d, c, 2).run(new Trainer.Listener() {});
        new Trainer(TINY, PRE, config(1).withErase(0), d, d, e, 2).run(new Trainer.Listener() {});
        StateDict wa = ModelLoader.readTensors(a.resolve("model.safetensors"));
        StateDict wb = ModelLoader.readTensors(b.resolve("model.safetensors"));
        StateDict wc = ModelLoader.readTensors(c.resolve("model.safetensors"));
        StateDict we = ModelLoader.readTensors(e.resolve("model.safetensors"));
        for (String k : wa.tensors().keySet()) assertThat(wb.get(k).data()).as(k).containsExactly(wa.get(k).data());
        assertThat(wc.get("head.weight").data()).isNotEqualTo(wa.get("head.weight").data());
        assertThat(we.get("head.weight").data()).as("random erasing changes the run").isNotEqualTo(wa.get("head.weight").data());
    }

    @Test
    void holdoutSplitsDisjointlyAndReproducibly() throws IOException {
        LabelledImages d = LabelledImages.load(dataset("split", 10, 4), PRE, 2, 0, null);
        LabelledImages[] a = d.holdout(7, 3), b = d.holdout(7, 3), c = d.holdout(7, 4);
        assertThat(a[0].size()).isEqualTo(23);
        assertThat(a[1].size()).isEqualTo(7);
        assertThat(a[1].pixels()).isEqualTo(b[1].pixels());
        assertThat(a[1].pixels()).as("another seed, another split").isNotEqualTo(c[1].pixels());
        // every image lands in exactly one part (the noise images are all distinct)
        java.util.Set<String> all = new java.util.HashSet<>(), parts = new java.util.HashSet<>();
        int per = 16 * 16 * 3;
        for (int i = 0; i < d.size(); i++) all.add(java.util.Arrays.toString(java.util.Arrays.copyOfRange(d.pixels(), i * per, (i + 1) * per)) + d.label(i));
        for (LabelledImages part : a) {
            for (int i = 0; i < part.size(); i++) {
                assertThat(parts.add(java.util.Arrays.toString(java.util.Arrays.copyOfRange(part.pixels(), i * per, (i + 1) * per)) + part.label(i))).isTrue();
            }
        }
        assertThat(parts).isEqualTo(all);
        assertThatThrownBy(() -> d.holdout(30, 0)).isInstanceOf(VitrimException.class).hasMessageContaining("cannot hold out 30 of 30");
    }

    @Test
    void resumeContinuesBitForBitAndAnInterruptedEpochLeavesTheLastCheckpoint() throws IOException {
        Path data = dataset("resume", 10, 2);
        LabelledImages d = LabelledImages.load(data, PRE, 2, 0, null);
        // uninterrupted: 3 epochs
        Path a = tmp.resolve("a");
        new Trainer(TINY, PRE, config(3), d, d, a, 2).run(new Trainer.Listener() {});
        // interrupted in the middle of epoch 2 (after epoch 1's checkpoint), then resumed
        Path b = tmp.resolve("b");
        RuntimeException kill = new RuntimeException("killed");
        // evaluating after every 4th epoch and the last (the 3rd) only: the weights must not notice
        assertThatThrownBy(() -> new Trainer(TINY, PRE, config(3), d, d, b, 1).evalEvery(4).run(new Trainer.Listener() {
            @Override
            public void step(int epoch, int step, int steps, double loss, double acc, double ips, double lr) {
                if (epoch == 1 && step == 2) throw kill;
            }
        })).isSameAs(kill);
        Map<String, String> meta = Trainer.storedMetadata(b);
        assertThat(meta.get("epochs_done")).isEqualTo("1");
        assertThat(Trainer.configFrom(meta)).as("what --resume reads back").isEqualTo(config(3));
        assertThat(meta.get("eval_every")).as("kept for --resume").isEqualTo("4");
        new Trainer(TINY, PRE, config(3), d, d, b, 2).evalEvery(4).run(new Trainer.Listener() {});
        StateDict wa = ModelLoader.readTensors(a.resolve("model.safetensors"));
        StateDict wb = ModelLoader.readTensors(b.resolve("model.safetensors"));
        for (String k : wa.tensors().keySet()) assertThat(wb.get(k).data()).as(k).containsExactly(wa.get(k).data());
        assertThat(Files.readString(b.resolve("metrics.csv")).lines().count()).isEqualTo(4);
        List<String> evaluated = Files.readAllLines(b.resolve("metrics.jsonl")).stream().map(l -> l.contains("\"eval_top1\"") ? "yes" : "no").toList();
        assertThat(evaluated).as("the last epoch only").containsExactly("no", "no", "yes");
        List<String> csv = Files.readAllLines(a.resolve("metrics.csv"));
        List<String> cols = List.of(csv.get(0).split(","));
        for (String row : csv.subList(1, csv.size())) { // the data stall is a part of the epoch's time
            String[] v = row.split(",");
            double wait = Double.parseDouble(v[cols.indexOf("data_wait_seconds")]), epoch = Double.parseDouble(v[cols.indexOf("epoch_seconds")]);
            assertThat(wait).isBetween(0.0, epoch);
        }
        // the folder loads as a model, with its labels and preprocessing
        try (VisionTransformer m = ModelLoader.load(b, null, 1)) {
            assertThat(m.labels()).containsExactly("circle", "square", "stripe");
            assertThat(m.config().embedDim()).isEqualTo(32);
            m.forward(new float[3 * 16 * 16], 1, TokenReducer.NONE, false);
        }
    }

    /** Interrupts a run once it has finished {@code epochs} epochs (in the next epoch's first step, before its checkpoint). */
    static Trainer.Listener stopAfter(int epochs, RuntimeException kill, List<String> messages) {
        return new Trainer.Listener() {
            @Override
            public void step(int epoch, int step, int steps, double loss, double acc, double ips, double lr) {
                if (epoch == epochs) throw kill;
            }

            @Override
            public void message(String s) {
                messages.add(s);
            }
        };
    }

    /**
     * The EMA of the weights, one step per epoch so every average can be worked by hand from the
     * saved weights: started on resume after epoch 1 (from w1), carried through a second
     * interruption, {@code e += (1 − d)·(w − e)} after each step; the training itself unchanged.
     */
    @Test
    void emaAveragesTheWeightsStepByStepAndLeavesTheTrainingAlone() throws IOException {
        LabelledImages d = LabelledImages.load(dataset("ema", 3, 5), PRE, 2, 0, null); // 9 images, batch 8: one step per epoch
        Path ref = tmp.resolve("ema-ref"), run = tmp.resolve("ema-run");
        new Trainer(TINY, PRE, config(3), d, d, ref, 2).run(new Trainer.Listener() {});
        RuntimeException kill = new RuntimeException("killed");
        List<String> messages = new java.util.ArrayList<>();
        assertThatThrownBy(() -> new Trainer(TINY, PRE, config(3), d, d, run, 2).run(stopAfter(1, kill, messages))).isSameAs(kill);
        StateDict w1 = ModelLoader.readTensors(run.resolve("model.safetensors"));
        assertThat(Files.exists(run.resolve(Trainer.EMA_FOLDER))).isFalse();
        double decay = 0.75;
        assertThatThrownBy(() -> new Trainer(TINY, PRE, config(3), d, d, run, 2).ema(decay).run(stopAfter(2, kill, messages))).isSameAs(kill);
        assertThat(messages).anyMatch(m -> m.contains("starts from the weights after epoch 1"));
        assertThat(Trainer.storedMetadata(run)).containsEntry("ema_decay", "0.75");
        StateDict w2 = ModelLoader.readTensors(run.resolve("model.safetensors"));
        StateDict e2 = ModelLoader.readTensors(run.resolve(Trainer.EMA_FOLDER).resolve("model.safetensors"));
        new Trainer(TINY, PRE, config(3), d, d, run, 2).run(new Trainer.Listener() {}); // the average is kept without asking
        StateDict w3 = ModelLoader.readTensors(run.resolve("model.safetensors"));
        StateDict e3 = ModelLoader.readTensors(run.resolve(Trainer.EMA_FOLDER).resolve("model.safetensors"));
        StateDict want = ModelLoader.readTensors(ref.resolve("model.safetensors"));
        float keep = (float) (1 - decay);
        for (String k : want.tensors().keySet()) {
            assertThat(w3.get(k).data()).as("training unchanged: %s", k).containsExactly(want.get(k).data());
            float[] e = w1.get(k).data().clone(), a = w2.get(k).data(), b = w3.get(k).data();
            for (int j = 0; j < e.length; j++) e[j] += keep * (a[j] - e[j]);
            assertThat(e2.get(k).data()).as("EMA after epoch 2: %s", k).containsExactly(e);
            for (int j = 0; j < e.length; j++) e[j] += keep * (b[j] - e[j]);
            assertThat(e3.get(k).data()).as("EMA after epoch 3: %s", k).containsExactly(e);
        }
        assertThat(w3.get("head.weight").data()).as("the average is not the model").isNotEqualTo(e3.get("head.weight").data());
        // one process evaluating the average between steps: the weights must come back exactly
        Path whole = tmp.resolve("ema-whole");
        new Trainer(TINY, PRE, config(3), d, d, whole, 2).ema(decay).run(new Trainer.Listener() {});
        StateDict ww = ModelLoader.readTensors(whole.resolve("model.safetensors"));
        for (String k : want.tensors().keySet()) assertThat(ww.get(k).data()).as("uninterrupted with EMA: %s", k).containsExactly(want.get(k).data());
        List<String> rows = Files.readAllLines(run.resolve("metrics.jsonl"));
        assertThat(rows.get(0)).doesNotContain("eval_ema_top1");
        assertThat(rows.get(2)).contains("\"eval_ema_top1\"", "\"eval_top1\"");
        try (VisionTransformer m = ModelLoader.load(run.resolve(Trainer.EMA_FOLDER), null, 1)) {
            assertThat(m.labels()).containsExactly("circle", "square", "stripe");
        }
        assertThatThrownBy(() -> new Trainer(TINY, PRE, config(3), d, d, run, 2).ema(1.0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void brokenDataIsAOneLineError() throws IOException {
        Path zip = tmp.resolve("broken.zip");
        Files.write(zip, new byte[] {'P', 'K', 3, 4, 0, 0, 1});
        assertThatThrownBy(() -> LabelledImages.load(zip, PRE, 1, 0, null)).isInstanceOf(VitrimException.class)
                .hasMessageStartingWith(zip.toString()).hasMessageContaining("not a readable zip");
        assertThatThrownBy(() -> LabelledImages.load(tmp.resolve("nope.zip"), PRE, 1, 0, null)).hasMessageContaining("no such file");
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertThatThrownBy(() -> LabelledImages.load(empty, PRE, 1, 0, null)).hasMessageContaining("no labelled images");
        Path bad = dataset("badimg", 1, 3);
        Files.writeString(bad.resolve("circle").resolve("zzz.png"), "not a png");
        assertThatThrownBy(() -> LabelledImages.load(bad, PRE, 1, 0, null)).isInstanceOf(VitrimException.class).hasMessageContaining("zzz.png");
        // a checkpoint that is not one
        Path out = Files.createDirectories(tmp.resolve("run"));
        Files.writeString(out.resolve(Trainer.CHECKPOINT), "garbage");
        assertThatThrownBy(() -> Trainer.storedMetadata(out)).isInstanceOf(VitrimException.class).hasMessageContaining("safetensors");
        SafeTensors.write(out.resolve(Trainer.CHECKPOINT), Map.of(), Map.of());
        assertThatThrownBy(() -> Trainer.storedMetadata(out)).hasMessageContaining("no train_config");
    }
}
