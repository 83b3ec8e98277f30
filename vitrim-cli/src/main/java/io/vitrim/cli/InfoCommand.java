package io.vitrim.cli;

import io.vitrim.io.Json;
import io.vitrim.model.Macs;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.Methods;
import io.vitrim.reduce.TokenReducer;
import io.vitrim.reduce.Trace;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "info", sortOptions = false, mixinStandardHelpOptions = true,
        header = "Model configuration, parameters and MACs per image.",
        description = "Model configuration, parameter count and MACs per image (with a reduction: per block with --explain).",
        footer = {"", "Examples:",
            "  vitrim info --arch deit_small_patch16_224",
            "  vitrim info --model models/deit-s --reduce tome:r=13 --explain",
            "  vitrim info --methods"})
final class InfoCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", completionCandidates = ReduceCandidates.class, defaultValue = "none", description = "Token reduction to account for (default: ${DEFAULT-VALUE}).")
    String reduce;

    @Option(names = "--explain", description = "Print token counts and MACs of every block.")
    boolean explain;

    @Option(names = "--methods", description = "List the token-reduction methods and their knobs.")
    boolean methods;

    @Option(names = "--json", description = "Print as one JSON object.")
    boolean json;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** What an EVA block adds, in timm's terms. */
    static String evaBlock(ViTConfig.Eva e) {
        StringBuilder b = new StringBuilder("eva (").append(e.postNorm() ? "post-norm, " : "").append(e.swiglu() ? "SwiGLU" : "GELU MLP");
        if (e.rope()) b.append(", RoPE").append(e.ropeRefH() > 0 ? " ref " + e.ropeRefH() + "x" + e.ropeRefW() : "");
        b.append(e.qkvFused() ? ", fused qkv" : ", q/k/v projections");
        if (e.scaleMlp()) b.append(", mlp.norm");
        if (e.scaleAttnInner()) b.append(", attn.norm");
        return b.append(')').toString();
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (methods) {
            out.print("Token-reduction methods (--reduce METHOD:knob=value,...):\n" + Methods.help());
            out.flush();
            return 0;
        }
        try (VisionTransformer m = model.load(1)) {
            ViTConfig c = m.config();
            TokenReducer r = io.vitrim.io.SideWeights.reducer(m, reduce);
            // token counts come from a traced forward pass on one noise image
            float[] px = new float[3 * c.imgHeight() * c.imgWidth()];
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(7);
            for (int i = 0; i < px.length; i++) px[i] = (float) rnd.nextGaussian();
            Trace t = m.forward(px, 1, r, false).trace();
            double dense = Macs.dense(c), reduced = Macs.of(c, t, 0);
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("model", model.describe());
            o.put("architecture", c.architecture());
            o.put("image_size", List.of(c.imgHeight(), c.imgWidth()));
            o.put("patch_size", c.patchSize());
            o.put("embed_dim", c.embedDim());
            o.put("depth", c.depth());
            o.put("num_heads", c.numHeads());
            o.put("mlp_hidden", c.mlpHidden());
            if (c.eva() != null) o.put("block", evaBlock(c.eva()));
            else if (c.act() == ViTConfig.Act.SWIGLU) o.put("block", "vit (SwiGLUPacked MLP" + (c.layerScale() ? ", LayerScale)" : ")"));
            o.put("tokens", c.numTokens());
            o.put("class_token", c.classToken());
            o.put("dist_token", c.distToken());
            o.put("global_pool", c.globalPool().timmName());
            o.put("num_classes", c.numClasses());
            o.put("parameters", c.parameterCount());
            o.put("gmacs", dense / 1e9);
            o.put("reduce", r.spec());
            o.put("gmacs_reduced", reduced / 1e9);
            if (m.preprocess() != null) o.put("preprocess", m.preprocess().toString());
            // method namespaces (design.md §3): weights a method binds, and training-only keys inference skips
            List<String> methodKeys = new ArrayList<>(m.weights().method().keySet());
            methodKeys.removeAll(m.weights().trainingOnly());
            if (!methodKeys.isEmpty()) o.put("method_weights", methodKeys);
            if (!m.weights().trainingOnly().isEmpty()) o.put("training_only", m.weights().trainingOnly());
            if (!m.weights().task().isEmpty()) o.put("task_weights", new ArrayList<>(m.weights().task().keySet()));
            List<Object> blocks = new ArrayList<>();
            for (int k = 0; k < c.depth(); k++) {
                Map<String, Object> b = new LinkedHashMap<>();
                b.put("block", k);
                b.put("attn_tokens", t.attnTokens(0, k));
                b.put("mlp_tokens", t.mlpTokens(0, k));
                b.put("gmacs", Macs.block(c, t.attnTokens(0, k), t.mlpTokens(0, k)) / 1e9);
                if (t.decision(0, k) != null) b.put("decision", t.decision(0, k));
                blocks.add(b);
            }
            if (explain || json) o.put("blocks", blocks);
            if (json) {
                out.println(Json.write(o));
            } else {
                for (Map.Entry<String, Object> e : o.entrySet()) {
                    if (e.getKey().equals("blocks")) continue;
                    Object v = e.getValue();
                    String s = v instanceof Double ? String.format(Locale.ROOT, "%.3f", (Double) v) : String.valueOf(v);
                    if (e.getKey().equals("parameters")) s = String.format(Locale.ROOT, "%,d (%.1f M)", (Long) v, (Long) v / 1e6);
                    out.printf(Locale.ROOT, "%-14s %s%n", e.getKey(), s);
                }
                out.printf(Locale.ROOT, "%-14s %.2fx%n", "mac_ratio", dense / reduced);
                if (explain) {
                    Explain e = new Explain(c);
                    e.add(t);
                    e.print(out);
                    out.println("(token counts from one forward pass on a noise image)");
                }
            }
        }
        out.flush();
        return 0;
    }
}
