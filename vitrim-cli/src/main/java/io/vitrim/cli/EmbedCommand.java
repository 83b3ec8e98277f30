package io.vitrim.cli;

import io.vitrim.VitrimException;
import io.vitrim.image.Preprocessor;
import io.vitrim.io.Json;
import io.vitrim.io.SafeTensors;
import io.vitrim.model.Macs;
import io.vitrim.model.VisionTransformer;
import io.vitrim.reduce.TokenReducer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "embed", sortOptions = false, mixinStandardHelpOptions = true,
        header = "Embed images with an encoder (DINOv2, CLIP, any ViT), optionally with token reduction.",
        description = {"Writes one pooled embedding per image: the head's output (CLIP's projection into the joint space) "
                + "or, for a model without a head (num_classes 0, as DINOv2), its pooled and normalised features. "
                + "With --tokens also the final tokens (as timm's forward_features) and, per image, the map from "
                + "original tokens to final ones.",
            "",
            "Output: .safetensors with 'embeddings' [N, D] (and 'tokens' [T, C], 'token_offsets' [N+1], 'source' "
                + "[N, N0] as integer-valued F32; metadata: inputs, model, reduce), or .npy with the embeddings only. "
                + "Written atomically: on any error there is no output file."},
        footer = {"", "Examples:",
            "  vitrim embed --model models/dinov2-s photos/ --out emb.safetensors",
            "  vitrim embed --model models/dinov2-s --img-size 224 --reduce tome:r=8 photos/ --out emb.npy",
            "  vitrim embed --model models/clip-b16 --tokens cat.jpg --out cat.safetensors",
            "  vitrim embed --model models/clip-b16 --zero-shot prompts.safetensors photos/ --out emb.npy",
            "  vitrim embed --model models/dinov2-s --img-size 224 photos/ --out emb.npy --compare tome:r=8 --compare ppt",
            "  vitrim embed --arch vit_small_patch14_reg4_dinov2 --img-size 224 photos.zip --out emb.safetensors",
            "", "Exit codes: 0 ok, 1 internal error, 2 bad input (one line on stderr)."})
final class EmbedCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    ThreadOption threads;

    @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", completionCandidates = ReduceCandidates.class, defaultValue = "none",
            description = "Token reduction, e.g. tome:r=8 (default: ${DEFAULT-VALUE}). See 'vitrim info --methods'.")
    String reduce;

    @Option(names = {"-o", "--out"}, paramLabel = "FILE", required = true, description = "Output file: .safetensors or .npy.")
    Path out;

    @Option(names = "--compare", paramLabel = "SPEC", completionCandidates = ReduceCandidates.class,
            description = "Also embed every image with this reduction (repeatable) and report how far its embeddings move from --reduce's: "
                    + "cosine similarity (mean, 5th percentile, min) and MACs, on stdout (JSON with --json).")
    List<String> compare = new ArrayList<>();

    @Option(names = "--zero-shot", paramLabel = "FILE",
            description = "Zero-shot labels (CLIP, SigLIP): a .safetensors with 'embeddings' [K, D] of your text prompts and "
                    + "metadata 'labels' (a JSON list of K names); prints each image's closest labels by cosine similarity.")
    Path zeroShot;

    @Option(names = {"-k", "--topk"}, paramLabel = "K", defaultValue = "3", description = "Labels per image with --zero-shot (default: ${DEFAULT-VALUE}).")
    int topk;

    @Option(names = "--json", description = "The --zero-shot labels as one JSON object per image, the --compare report as one JSON object.")
    boolean json;

    @Option(names = "--tokens", description = "Also write the final tokens and their source map (.safetensors only).")
    boolean tokens;

    @Option(names = {"-b", "--batch"}, paramLabel = "N", defaultValue = "16", description = "Images per forward pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Parameters(paramLabel = "INPUT", arity = "1..*", description = "Image files, folders or zips of images.")
    List<Path> inputs = new ArrayList<>();

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (batch < 1) throw new VitrimException("--batch " + batch + ": must be at least 1");
        if (topk < 1) throw new VitrimException("--topk " + topk + ": must be at least 1");
        String name = out.getFileName() == null ? "" : out.getFileName().toString();
        boolean npy = name.endsWith(".npy");
        if (!npy && !name.endsWith(".safetensors")) throw VitrimException.of(out, "the output must end in .safetensors or .npy");
        if (npy && tokens) throw VitrimException.of(out, "--tokens needs a .safetensors output (an .npy holds one array)");
        Path dir = out.toAbsolutePath().getParent();
        if (dir != null && !java.nio.file.Files.isDirectory(dir)) throw VitrimException.of(out, "the output's folder does not exist");
        PrintWriter err = spec.commandLine().getErr();
        int nThreads = threads.get();
        try (Inputs in = Inputs.collect(inputs); VisionTransformer m = model.load(nThreads)) {
            if (in.items.isEmpty()) throw new VitrimException("no images in " + inputs);
            if (m.preprocess() == null) throw new VitrimException("this model has no preprocessing config");
            TokenReducer reducer = io.vitrim.io.SideWeights.reducer(m, reduce);
            ZeroShot labels = zeroShot == null ? null : ZeroShot.read(zeroShot, m.config().numOutputs());
            List<TokenReducer> others = new ArrayList<>();
            for (String c : compare) others.add(io.vitrim.io.SideWeights.reducer(m, c));
            double[][] cosines = new double[others.size()][in.items.size()];
            double[] otherMacs = new double[others.size()];
            Preprocessor pre = new Preprocessor(m.preprocess());
            int per = 3 * m.config().imgHeight() * m.config().imgWidth(), total = in.items.size();
            int dim = m.config().numOutputs(), c = m.config().embedDim(), n0 = m.config().numTokens();
            float[] emb = new float[total * dim];
            List<float[]> tokenRows = new ArrayList<>();
            long tokenCount = 0;
            int[] offsets = new int[total + 1];
            float[] source = tokens ? new float[total * n0] : null;
            double macs = 0;
            Progress progress = new Progress(err, true);
            long t0 = System.nanoTime();
            try (BatchDecoder decoder = new BatchDecoder(pre, per, nThreads)) {
                for (int s = 0; s < total; s += batch) {
                    int n = Math.min(batch, total - s);
                    float[] px = decoder.decode(in.items, s, n);
                    VisionTransformer.Encoding e = m.encode(px, n, reducer, tokens);
                    System.arraycopy(e.embeddings(), 0, emb, s * dim, n * dim);
                    for (int b = 0; b < n; b++) macs += Macs.of(m.config(), e.trace(), b);
                    for (int k = 0; k < others.size(); k++) {
                        VisionTransformer.Encoding o = m.encode(px, n, others.get(k), false);
                        for (int b = 0; b < n; b++) {
                            cosines[k][s + b] = cosine(e.embeddings(), o.embeddings(), b * dim, dim);
                            otherMacs[k] += Macs.of(m.config(), o.trace(), b);
                        }
                    }
                    if (tokens) {
                        int[] off = e.tokenOffsets();
                        for (int b = 0; b < n; b++) {
                            offsets[s + b + 1] = offsets[s + b] + (off[b + 1] - off[b]);
                            for (int q = 0; q < n0; q++) source[(s + b) * n0 + q] = e.source()[b][q];
                        }
                        tokenRows.add(java.util.Arrays.copyOf(e.tokens(), off[n] * c));
                        tokenCount += off[n];
                        if (tokenCount * c > Integer.MAX_VALUE - 16) {
                            throw new VitrimException("--tokens: more than 2^31 values in all; embed fewer images per file");
                        }
                    }
                    progress.status(String.format(Locale.ROOT, "embedded %d/%d images", s + n, total));
                }
            } finally {
                progress.done();
            }
            double sec = (System.nanoTime() - t0) / 1e9;
            List<String> names = new ArrayList<>();
            for (Inputs.Item it : in.items) names.add(it.name());
            if (npy) {
                io.vitrim.io.Npy.write(out, emb, total, dim);
            } else {
                Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
                t.put("embeddings", new SafeTensors.Tensor(emb, total, dim));
                if (tokens) {
                    float[] all = new float[(int) (tokenCount * c)];
                    int p = 0;
                    for (float[] rows : tokenRows) {
                        System.arraycopy(rows, 0, all, p, rows.length);
                        p += rows.length;
                    }
                    float[] offF = new float[total + 1];
                    for (int i = 0; i <= total; i++) offF[i] = offsets[i];
                    t.put("tokens", new SafeTensors.Tensor(all, tokenCount, c));
                    t.put("token_offsets", new SafeTensors.Tensor(offF, total + 1));
                    t.put("source", new SafeTensors.Tensor(source, total, n0));
                }
                Map<String, String> meta = new LinkedHashMap<>();
                meta.put("inputs", Json.write(names));
                meta.put("model", model.describe());
                meta.put("reduce", reducer.spec());
                SafeTensors.write(out, t, meta);
            }
            err.printf(Locale.ROOT, "vitrim embed: %d images -> %s [%d x %d], %s, %.3f GMACs per image, %.1f images/s%n",
                    total, out, total, dim, reducer.spec(), macs / total / 1e9, total / sec);
            if (labels != null) {
                PrintWriter o = spec.commandLine().getOut();
                for (int i = 0; i < total; i++) labels.print(o, names.get(i), emb, i * dim, topk, json);
                o.flush();
            }
            if (!others.isEmpty()) report(spec.commandLine().getOut(), reducer.spec(), macs / total, others, cosines, otherMacs, total);
        }
        return 0;
    }

    static double cosine(float[] a, float[] b, int off, int n) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = off; i < off + n; i++) {
            ab += (double) a[i] * b[i];
            aa += (double) a[i] * a[i];
            bb += (double) b[i] * b[i];
        }
        return aa == 0 || bb == 0 ? (aa == bb ? 1 : 0) : ab / Math.sqrt(aa * bb);
    }

    private void report(PrintWriter o, String base, double baseMacs, List<TokenReducer> others, double[][] cos, double[] macs, int n) {
        List<Object> rows = new ArrayList<>();
        if (!json) o.printf(Locale.ROOT, "%-28s %9s %9s %9s %9s %10s%n", "vs " + base, "cos mean", "cos p05", "cos min", "GMACs", "MAC ratio");
        for (int k = 0; k < others.size(); k++) {
            double[] c = cos[k].clone();
            java.util.Arrays.sort(c);
            double mean = 0;
            for (double v : c) mean += v;
            mean /= n;
            double p05 = c[(int) Math.floor(0.05 * (n - 1))], min = c[0], g = macs[k] / n;
            if (json) {
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("reduce", others.get(k).spec());
                r.put("cosine_mean", mean);
                r.put("cosine_p05", p05);
                r.put("cosine_min", min);
                r.put("gmacs", g / 1e9);
                r.put("mac_ratio", baseMacs / g);    // dense / reduced, as everywhere in vitrim
                rows.add(r);
            } else {
                o.printf(Locale.ROOT, "%-28s %9.4f %9.4f %9.4f %9.3f %10.3f%n", others.get(k).spec(), mean, p05, min, g / 1e9, baseMacs / g);
            }
        }
        if (json) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("images", n);
            r.put("model", model.describe());
            r.put("reduce", base);
            r.put("gmacs", baseMacs / 1e9);
            r.put("compare", rows);
            o.println(Json.write(r));
        }
        o.flush();
    }
}
