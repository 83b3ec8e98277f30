package io.vitrim.train;

import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.data.LabelledImages;
import io.vitrim.io.Json;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.RandomInit;
import io.vitrim.model.StateDict;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Cropr;
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
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Fine-tuning with Cropr through the {@link Trainer}: the reference's curriculum and drop-path
 * rule, new modules initialised, the model folder that {@code --reduce cropr} runs as trained,
 * and a run killed mid-epoch that resumes bit for bit.
 */
class CroprFinetuneTest {
    @TempDir
    Path tmp;

    static final ViTConfig TINY = new ViTConfig("vit_tiny_patch16_224", 16, 16, 4, 3, 32, 4, 2, 128, true, true, false,
            ViTConfig.Pool.TOKEN, false, 3, 1e-6f);
    static final PreprocessConfig PRE = new PreprocessConfig(16, 16, 1.0, PreprocessConfig.Interpolation.BICUBIC,
            PreprocessConfig.Resize.SHORTER_SIDE, new float[] {0.5f, 0.5f, 0.5f}, new float[] {0.25f, 0.25f, 0.25f});

    @Test
    void curriculumIsTheReferencesAndTheLastBlockNeverDropsAPath() {
        // the reference's log for rate 40 over 64 epochs begins 0,1,2,3,5,6,7,9 and ends 38,40 at epoch 31
        CroprFinetune f = new CroprFinetune(40, true, true, 64);
        assertThat(IntStream.range(0, 8).map(f::rateAt).toArray()).containsExactly(0, 1, 2, 3, 5, 6, 7, 9);
        assertThat(f.rateAt(30)).isEqualTo(38);
        assertThat(f.rateAt(31)).isEqualTo(40);
        assertThat(f.rateAt(63)).isEqualTo(40);
        assertThat(new CroprFinetune(40, true, false, 64).rateAt(0)).isEqualTo(40);
        assertThat(f.dropPath(11, 12, 0.2)).isZero();
        assertThat(f.dropPath(10, 12, 0.18)).isEqualTo(0.18);
    }

    @Test
    void newModulesAreInitialisedAsTheReference() {
        StateDict sd = RandomInit.create(TINY, 0);
        assertThat(CroprFinetune.addMissingModules(sd, TINY, true, 1)).isEqualTo(2);
        assertThat(CroprFinetune.addMissingModules(sd, TINY, false, 1)).as("kept, one more without fusion").isEqualTo(1);
        float[] q = sd.get(Cropr.queriesKey(0)).data();
        double bound = 2 / Math.sqrt(32);
        for (float v : q) assertThat(Math.abs(v)).isLessThanOrEqualTo((float) bound);
        assertThat(sd.get("cropr.0.head.norm.weight").data()).containsOnly(1f);
        assertThat(sd.get("cropr.0.cross_attn.mlp.fc1.bias").data()).containsOnly(0f);
        assertThat(sd.get("cropr.0.head.head.weight").shape()).containsExactly(3, 32);
    }

    /**
     * Segmentation: one query per auxiliary cell, a head per segmentation class, and the MLP as
     * the reference's Segmenter leaves it (PyTorch's nn.Linear default, ±1/√fan_in, biases too).
     */
    @Test
    void newSegmentationModulesHaveAQueryPerCellAndPyTorchsLinearInit() {
        StateDict sd = RandomInit.create(TINY, 0);
        assertThat(CroprFinetune.addMissingModules(sd, TINY, true, 12, 5, true, 1)).isEqualTo(2);
        assertThat(sd.get(Cropr.queriesKey(1)).shape()).containsExactly(1, 12, 32);
        assertThat(sd.get("cropr.1.head.head.weight").shape()).containsExactly(5, 32);
        float[] b1 = sd.get("cropr.0.cross_attn.mlp.fc1.bias").data(), w2 = sd.get("cropr.0.cross_attn.mlp.fc2.weight").data();
        for (float v : b1) assertThat(Math.abs(v)).isLessThanOrEqualTo((float) (1 / Math.sqrt(32)));
        for (float v : w2) assertThat(Math.abs(v)).isLessThanOrEqualTo((float) (1 / Math.sqrt(128)));
        // uniform, not N(0, 0.02): the spread of U(±a) is a/√3
        double sq = 0;
        for (float v : w2) sq += v * v;
        assertThat(Math.sqrt(sq / w2.length)).isCloseTo(1 / Math.sqrt(128) / Math.sqrt(3), org.assertj.core.data.Offset.offset(0.005));
        assertThat(b1).isNotEqualTo(new float[b1.length]);
    }

    Path dataset(int perClass) throws IOException {
        SplittableRandom r = new SplittableRandom(5);
        Path root = tmp.resolve("data");
        for (String c : new String[] {"a", "b", "c"}) {
            Files.createDirectories(root.resolve(c));
            for (int i = 0; i < perClass; i++) {
                BufferedImage img = new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB);
                int tint = c.charAt(0) * 40;
                for (int y = 0; y < 16; y++) for (int x = 0; x < 16; x++) img.setRGB(x, y, (r.nextInt(1 << 24) & 0x3f3f3f) + (tint << (8 * (c.charAt(0) - 'a'))));
                ImageIO.write(img, "png", root.resolve(c).resolve(i + ".png").toFile());
            }
        }
        return root;
    }

    TrainConfig config(int epochs) {
        return new TrainConfig(epochs, 8, 2e-3, 1e-4, 0.5, 0.05, 1.0, 0.1, 2, true, 3, false, "cropr:rate=2,llf=1", "test",
                new ParamGroups(List.of(), List.of("cropr.*=5e-3"), 0.75), 0.1, 0, 0, 0);
    }

    @Test
    void aRunKilledMidEpochResumesBitForBitIntoAFolderThatReduceCroprRuns() throws IOException {
        LabelledImages d = LabelledImages.load(dataset(8), PRE, 2, 0, null);
        StateDict init = RandomInit.create(TINY, 0);
        CroprFinetune.addMissingModules(init, TINY, true, 0);
        float[] q0 = init.get(Cropr.queriesKey(1)).data().clone();
        CroprFinetune method = new CroprFinetune(2, true, true, 3);
        Path a = tmp.resolve("a"), b = tmp.resolve("b");
        new Trainer(TINY, PRE, config(3), init, List.of(LossTerm.CROSS_ENTROPY), d, d, a, 2).method(method).run(new Trainer.Listener() {});
        RuntimeException kill = new RuntimeException("killed");
        assertThatThrownBy(() -> new Trainer(TINY, PRE, config(3), init, List.of(LossTerm.CROSS_ENTROPY), d, d, b, 1).method(method)
                .run(new Trainer.Listener() {
                    @Override
                    public void step(int epoch, int step, int steps, double loss, double acc, double ips, double lr) {
                        if (epoch == 1 && step == 2) throw kill;
                    }
                })).isSameAs(kill);
        assertThat(Trainer.storedMetadata(b).get("epochs_done")).isEqualTo("1");
        new Trainer(TINY, PRE, config(3), null, List.of(LossTerm.CROSS_ENTROPY), d, d, b, 2).method(method).run(new Trainer.Listener() {});
        StateDict wa = ModelLoader.readTensors(a.resolve("model.safetensors")), wb = ModelLoader.readTensors(b.resolve("model.safetensors"));
        assertThat(wb.tensors().keySet()).containsExactlyElementsOf(wa.tensors().keySet()).contains(Cropr.queriesKey(1), "cropr.1.head.head.bias");
        for (String k : wa.tensors().keySet()) assertThat(wb.get(k).data()).as(k).containsExactly(wa.get(k).data());
        assertThat(wa.get(Cropr.queriesKey(1)).data()).as("the queries learned").isNotEqualTo(q0);
        // the curriculum: rate 0 in the first epoch, then 2; every epoch logs the auxiliary losses
        List<String> lines = Files.readString(b.resolve("metrics.jsonl")).lines().toList();
        assertThat(lines).hasSize(3);
        assertThat(Json.parseObject(lines.get(0))).containsEntry("cropr_rate", 0L).containsKey("train_aux_losses").containsKey("eval_top1_reduced");
        assertThat(Json.parseObject(lines.get(2))).containsEntry("cropr_rate", 2L);
        try (VisionTransformer m = ModelLoader.load(a, null, 1)) {
            Cropr c = (Cropr) m.reducer("cropr");
            assertThat(c.rate()).isEqualTo(2);
            assertThat(c.llf()).isTrue();
            assertThat(m.forward(new float[2 * 3 * 16 * 16], 2, c, false).trace().tokensEnteringBlocks(0)).containsExactly(17, 14, 12, 17);
        }
        Map<String, Object> cfg = Json.parseObject(Files.readString(a.resolve("config.json")));
        @SuppressWarnings("unchecked") Map<String, Object> cc = (Map<String, Object>) cfg.get("cropr_cfg");
        assertThat(cc).containsEntry("pruning_rate", 2L).containsEntry("llf", true);
    }
}
