package io.vitrim.train;

import io.vitrim.VitrimException;
import io.vitrim.data.LabelledImages;
import io.vitrim.io.Json;
import io.vitrim.io.ModelLoader;
import io.vitrim.model.StateDict;
import io.vitrim.model.VisionTransformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.vitrim.train.TrainerTest.PRE;
import static io.vitrim.train.TrainerTest.TINY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** SAM inside {@link Trainer}: resuming, ρ = 0 against AdamW, and the settings in the checkpoint. */
class SamTrainerTest {
    @TempDir
    Path tmp;

    LabelledImages data() throws IOException {
        Path root = io.vitrim.testing.Fixtures.noiseClassFolders(tmp.resolve("data"), List.of("circle", "square", "stripe"), 10, 16, 2, "%03d.png");
        return LabelledImages.load(root, PRE, 2, 0, null);
    }

    /** Drop path, RandAugment and merging in the graph: both passes of a step must see the same of each. */
    static TrainConfig config(int epochs, SamConfig sam) {
        return new TrainConfig(epochs, 8, 2e-3, 1e-4, 1, 0.05, 1.0, 0.1, 2, true, 7, true, "tome:r=2", null, ParamGroups.ALL,
                0.2, 2, 9, 0, sam);
    }

    static void assertSameWeights(Path a, Path b) {
        StateDict wa = ModelLoader.readTensors(a.resolve("model.safetensors"));
        StateDict wb = ModelLoader.readTensors(b.resolve("model.safetensors"));
        for (String k : wa.tensors().keySet()) assertThat(wb.get(k).data()).as(k).containsExactly(wa.get(k).data());
    }

    @Test
    void resumeContinuesAnAsamRunBitForBit() throws IOException {
        LabelledImages d = data();
        SamConfig asam = new SamConfig(0.5, true, 0.01, false);
        Path a = tmp.resolve("a");
        new Trainer(TINY, PRE, config(3, asam), d, d, a, 2).run(new Trainer.Listener() {});
        Path b = tmp.resolve("b");
        RuntimeException kill = new RuntimeException("killed");
        assertThatThrownBy(() -> new Trainer(TINY, PRE, config(3, asam), d, d, b, 1).run(new Trainer.Listener() {
            @Override
            public void step(int epoch, int step, int steps, double loss, double acc, double ips, double lr) {
                if (epoch == 1 && step == 2) throw kill;
            }
        })).isSameAs(kill);
        Map<String, String> meta = Trainer.storedMetadata(b);
        assertThat(meta.get("epochs_done")).isEqualTo("1");
        // the run's settings come back from the checkpoint, SAM's included
        TrainConfig stored = Trainer.configFrom(meta);
        assertThat(stored.sam()).isEqualTo(asam);
        new Trainer(TINY, PRE, stored, d, d, b, 2).run(new Trainer.Listener() {});
        assertSameWeights(a, b);
    }

    @Test
    void rhoZeroTrainsExactlyAsAdamWAndRhoAboveDoesNot() throws IOException {
        LabelledImages d = data();
        Path adamw = tmp.resolve("adamw"), zero = tmp.resolve("zero"), sam = tmp.resolve("sam");
        new Trainer(TINY, PRE, config(2, null), d, null, adamw, 2).run(new Trainer.Listener() {});
        new Trainer(TINY, PRE, config(2, SamConfig.sam(0)), d, null, zero, 2).run(new Trainer.Listener() {});
        assertSameWeights(adamw, zero);
        new Trainer(TINY, PRE, config(2, SamConfig.sam(0.05)), d, null, sam, 2).run(new Trainer.Listener() {});
        float[] w0 = ModelLoader.readTensors(adamw.resolve("model.safetensors")).get("blocks.0.mlp.fc1.weight").data();
        float[] w1 = ModelLoader.readTensors(sam.resolve("model.safetensors")).get("blocks.0.mlp.fc1.weight").data();
        assertThat(w1).isNotEqualTo(w0);
        // the loss reported per step is the one at w (the first pass): with ρ = 0 the same as AdamW's
        assertThat(Files.readString(zero.resolve("metrics.csv")).lines().skip(1).map(l -> l.split(",")[3]).toList())
                .isEqualTo(Files.readString(adamw.resolve("metrics.csv")).lines().skip(1).map(l -> l.split(",")[3]).toList());
    }

    @Test
    void settingsRoundTripThroughJsonAndOldCheckpointsMeanAdamW() {
        for (SamConfig s : new SamConfig[] {null, SamConfig.sam(0.05), new SamConfig(0.7, true, 0.002, true)}) {
            TrainConfig c = config(3, s);
            TrainConfig back = TrainConfig.fromJson(new Json.Obj(Json.parseObject(Json.write(c.toJson())), "t"));
            assertThat(back).isEqualTo(c);
            assertThat(c.toJson().get("optimizer")).isEqualTo(s == null ? "adamw" : "sam");
        }
        // a train_config written before SAM existed has no optimizer entry
        Map<String, Object> old = Json.parseObject(Json.write(config(3, SamConfig.sam(0.05)).toJson()));
        old.keySet().removeIf(k -> k.equals("optimizer") || k.startsWith("sam_"));
        assertThat(TrainConfig.fromJson(new Json.Obj(old, "t")).sam()).isNull();
        Map<String, Object> future = Json.parseObject(Json.write(config(3, null).toJson()));
        future.put("optimizer", "lion");
        assertThatThrownBy(() -> TrainConfig.fromJson(new Json.Obj(future, "t"))).isInstanceOf(VitrimException.class)
                .hasMessageContaining("unknown optimizer \"lion\"");
        assertThatThrownBy(() -> SamConfig.sam(-1)).hasMessageContaining("--rho must be a number >= 0");
        assertThatThrownBy(() -> SamConfig.sam(Double.NaN)).hasMessageContaining("--rho");
        assertThatThrownBy(() -> new SamConfig(0.5, true, -0.1, false)).hasMessageContaining("--asam-eta");
    }

    @Test
    void samWithAMethodsTrainingGraphIsRefused() throws IOException {
        LabelledImages d = data();
        MethodTraining stub = new MethodTraining() {
            @Override
            public Graph graph(VisionTransformer net, int epoch) {
                throw new AssertionError("not reached");
            }

            @Override
            public String evalSpec() {
                return "none";
            }

            @Override
            public Map<String, Object> configExtras() {
                return Map.of();
            }
        };
        Trainer t = new Trainer(TINY, PRE, config(1, SamConfig.sam(0.05)), null, List.of(LossTerm.CROSS_ENTROPY), d, null, tmp.resolve("m"), 1)
                .method(stub);
        assertThatThrownBy(() -> t.run(new Trainer.Listener() {})).isInstanceOf(VitrimException.class)
                .hasMessageContaining("SAM is not supported together with a method");
    }
}
