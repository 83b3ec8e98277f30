package io.vitrim.bench;

import io.vitrim.config.ViTConfig;
import io.vitrim.measure.SystemInfo;
import io.vitrim.measure.Throughput;
import io.vitrim.model.Architectures;
import io.vitrim.model.RandomInit;
import io.vitrim.model.StateDict;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.train.CroprFinetune;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Cropr's inference speed against the random pruner with exactly its token schedule
 * ({@code scorer=random}) and against its MAC ratio, on an architecture's shapes with seeded
 * random weights (queries initialised as a fine-tuning run starts them): alternating rounds in one
 * process, medians after warm-up ({@link Throughput}).
 * <p>
 * Run: {@code java --add-modules jdk.incubator.vector -cp vitrim-bench/target/vitrim-bench.jar
 * io.vitrim.bench.CroprSpeed [arch batch rounds threads rate llf]} (defaults:
 * deit_small_patch16_224 32 7 2 8 1).
 */
public final class CroprSpeed {
    public static void main(String[] args) {
        String arch = args.length > 0 ? args[0] : "deit_small_patch16_224";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 32, rounds = args.length > 2 ? Integer.parseInt(args[2]) : 7;
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 2, rate = args.length > 4 ? Integer.parseInt(args[4]) : 8;
        boolean llf = args.length <= 5 || args[5].equals("1");
        ViTConfig c = Architectures.get(arch).config();
        StateDict sd = RandomInit.create(c, 0);
        CroprFinetune.addMissingModules(sd, c, llf, 0);
        String cropr = "cropr:rate=" + rate + ",llf=" + (llf ? 1 : 0);
        System.out.printf(Locale.ROOT, "%s, batch %d, %d threads, %d rounds; %s%n", arch, batch, threads, rounds, SystemInfo.summary());
        try (VisionTransformer m = VisionTransformer.create(c, Architectures.get(arch).preprocess(), null, sd, threads, arch)) {
            List<TokenReducer> reds = new ArrayList<>();
            for (String s : List.of("none", cropr, cropr + ",scorer=random")) reds.add(m.reducer(s));
            List<Throughput.Result> res = Throughput.measure(m, reds, new Throughput.Settings(batch, 10, 3, rounds, 1), null);
            double randomIps = res.get(2).imagesPerSecond();
            for (Throughput.Result r : res) {
                System.out.printf(Locale.ROOT, "%-40s %7.2f img/s  MAC ratio %.3f  speed-up %.3f  speed-up/MAC ratio %.3f  vs random %.3f%n",
                        r.spec(), r.imagesPerSecond(), r.macRatio(), r.speedup(), r.speedup() / r.macRatio(), r.imagesPerSecond() / randomIps);
            }
        }
    }
}
