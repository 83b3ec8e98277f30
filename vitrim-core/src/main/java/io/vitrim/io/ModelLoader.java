package io.vitrim.io;

import io.vitrim.VitrimException;
import io.vitrim.model.Architectures;
import io.vitrim.config.PreprocessConfig;
import io.vitrim.config.PreprocessConfig.Interpolation;
import io.vitrim.config.PreprocessConfig.Resize;
import io.vitrim.model.PosEmbed;
import io.vitrim.model.StateDict;
import io.vitrim.config.SegmentationConfig;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.VisionTransformer;
import io.vitrim.model.WeightMemory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Loads a model from what users have on disk:
 * <ul>
 *   <li>a timm model folder as published on the Hugging Face hub ({@code config.json} with
 *       {@code architecture}, {@code num_classes}, {@code global_pool}, optional {@code model_args},
 *       {@code pretrained_cfg}, {@code label_names}; plus {@code model.safetensors});</li>
 *   <li>a bare {@code .safetensors} in timm layout, with the architecture named separately;</li>
 *   <li>a Hugging Face transformers ViT folder ({@code model_type: vit}), mapped onto timm keys.</li>
 * </ul>
 */
public final class ModelLoader {
    private ModelLoader() {}

    /** A checkpoint read into memory, ready to build a model from. */
    /**
     * @param resample  how this checkpoint's position embedding is resampled to another grid
     * @param storedPos the position embedding as the file holds it when the loader resampled it
     *                  (so a later {@link #atImageSize} resamples from the original), else null
     */
    public record Checkpoint(ViTConfig config, PreprocessConfig preprocess, List<String> labels, StateDict weights, Path source,
                             PosEmbed.Kernel resample, StateDict.Tensor storedPos, Map<String, String> methodDefaults,
                             SegmentationConfig segmentation) {
        /** A checkpoint whose position embedding is resampled as timm does, without method settings. */
        public Checkpoint(ViTConfig config, PreprocessConfig preprocess, List<String> labels, StateDict weights, Path source) {
            this(config, preprocess, labels, weights, source, PosEmbed.Kernel.ANTIALIAS, null, Map.of(), null);
        }

        /** A classifier or encoder (no segmentation task). */
        public Checkpoint(ViTConfig config, PreprocessConfig preprocess, List<String> labels, StateDict weights, Path source,
                          PosEmbed.Kernel resample, StateDict.Tensor storedPos, Map<String, String> methodDefaults) {
            this(config, preprocess, labels, weights, source, resample, storedPos, methodDefaults, null);
        }

        public VisionTransformer build(int threads) {
            VisionTransformer m = segmentation == null ? VisionTransformer.create(config, preprocess, labels, weights, threads, source)
                    : VisionTransformer.createSegmenter(config, preprocess, segmentation, labels, weights, threads, source);
            return m.methodDefaults(methodDefaults);
        }
    }

    /**
     * The {@code "segmentation"} entry of a config.json ({@code num_classes}, {@code ignore_index},
     * optional {@code colors}), or null when there is none (a classifier or encoder).
     */
    static SegmentationConfig segmentation(Path cfgPath, Json.Obj cfg) {
        if (!cfg.has("segmentation")) return null;
        Json.Obj s = cfg.obj("segmentation");
        int k = s.intValue("num_classes", 0);
        int[][] colors = null;
        List<Object> c = s.list("colors");
        if (c != null) {
            colors = new int[c.size()][];
            for (int i = 0; i < colors.length; i++) {
                if (!(c.get(i) instanceof List<?> rgb)) throw VitrimException.of(cfgPath, "segmentation.colors[" + i + "] is not a list of 3 numbers");
                colors[i] = new int[rgb.size()];
                for (int j = 0; j < rgb.size(); j++) {
                    if (!(rgb.get(j) instanceof Number n)) throw VitrimException.of(cfgPath, "segmentation.colors[" + i + "] is not a list of 3 numbers");
                    colors[i][j] = n.intValue();
                }
            }
        }
        try {
            return new SegmentationConfig(k, s.intValue("ignore_index", -1), colors);
        } catch (VitrimException e) {
            throw VitrimException.of(cfgPath, e.getMessage());
        }
    }

    /** {@link #methodDefaults(Path, Json.Obj)} of a model folder's config.json, without reading its weights. */
    public static Map<String, String> methodDefaults(Path folder) {
        Path cfgPath = folder.resolve("config.json");
        return methodDefaults(cfgPath, readJson(cfgPath));
    }

    /**
     * A method's settings stored in the model folder, as spec knobs by method name: Cropr's
     * {@code cropr_cfg} (the reference's dict: {@code pruning_rate}, {@code llf}) becomes
     * {@code cropr → rate=R,llf=0|1}, so {@code --reduce cropr} runs the model as it was trained.
     */
    static Map<String, String> methodDefaults(Path cfgPath, Json.Obj cfg) {
        if (!cfg.has("cropr_cfg")) return Map.of();
        Json.Obj c = cfg.obj("cropr_cfg");
        if (!c.bool("use_cropr", true)) return Map.of();
        if (!c.has("pruning_rate")) throw VitrimException.of(cfgPath, "cropr_cfg has no pruning_rate");
        int rate = c.intValue("pruning_rate", 0);
        if (rate < 0) throw VitrimException.of(cfgPath, "cropr_cfg.pruning_rate must be >= 0, got " + rate);
        return Map.of("cropr", "rate=" + rate + ",llf=" + (c.bool("llf", false) ? 1 : 0));
    }

    /** Model args that change nothing at inference; anything else unknown is refused. */
    private static final Set<String> IGNORED_ARGS = Set.of("drop_rate", "drop_path_rate", "attn_drop_rate", "pos_drop_rate",
            "proj_drop_rate", "patch_drop_rate", "weight_init", "pretrained_strict", "fix_init");

    public static VisionTransformer load(Path path, String arch, int threads) {
        return read(path, arch).build(threads);
    }

    /**
     * @param path a model folder or a {@code .safetensors} file
     * @param arch architecture for a bare safetensors file (ignored for folders with a config)
     */
    public static Checkpoint read(Path path, String arch) {
        if (!Files.exists(path)) throw VitrimException.of(path, "no such file or folder");
        if (Files.isDirectory(path)) return readFolder(path);
        String name = path.getFileName().toString();
        if (name.endsWith(".bin") || name.endsWith(".pth") || name.endsWith(".pt") || name.endsWith(".ckpt")) {
            throw VitrimException.of(path, "PyTorch pickle checkpoints are not supported; convert to safetensors "
                    + "(see docs/models.md: safetensors.torch.save_file(torch.load(f), 'model.safetensors'))");
        }
        if (name.equals("config.json")) return readFolder(path.toAbsolutePath().getParent());
        if (arch == null) {
            Path cfg = path.toAbsolutePath().getParent().resolve("config.json");
            if (Files.exists(cfg)) return readFolder(path.toAbsolutePath().getParent(), path);
            throw VitrimException.of(path, "a bare safetensors file needs --arch NAME (e.g. deit_small_patch16_224)");
        }
        Architectures.Arch a = Architectures.get(arch);
        StateDict sd = readTensors(path);
        ViTConfig c = a.config();
        // fine-tuned checkpoints often change the class count: take it from the head
        StateDict.Tensor head = sd.get("head.weight");
        if (head != null && head.shape().length == 2 && head.shape()[0] != c.numClasses()) c = c.withNumClasses(head.shape()[0]);
        return new Checkpoint(c, a.preprocess(), null, sd, path);
    }

    private static Checkpoint readFolder(Path dir) {
        return readFolder(dir, null);
    }

    private static Checkpoint readFolder(Path dir, Path weightsFile) {
        Path cfgPath = dir.resolve("config.json");
        if (!Files.exists(cfgPath)) {
            throw VitrimException.of(dir, "no config.json (a model folder needs config.json and model.safetensors)");
        }
        Json.Obj cfg = readJson(cfgPath);
        Path weights = weightsFile != null ? weightsFile : dir.resolve("model.safetensors");
        if (!Files.exists(weights)) {
            for (String other : List.of("pytorch_model.bin", "open_clip_pytorch_model.bin", "model.pth")) {
                if (Files.exists(dir.resolve(other))) {
                    throw VitrimException.of(dir.resolve(other), "PyTorch pickle checkpoints are not supported; convert to "
                            + "model.safetensors (see docs/models.md)");
                }
            }
            throw VitrimException.of(dir, "no model.safetensors");
        }
        try {
            if (cfg.has("model_type")) return readHuggingFace(dir, cfgPath, cfg, weights);
            return readTimm(cfgPath, cfg, weights);
        } catch (Json.ParseException e) {
            throw VitrimException.of(cfgPath, e.getMessage());
        }
    }

    static Json.Obj readJson(Path p) {
        try {
            return new Json.Obj(Json.parseObject(Files.readString(p, StandardCharsets.UTF_8)), p.getFileName().toString());
        } catch (Json.ParseException e) {
            throw VitrimException.of(p, "not valid JSON: " + e.getMessage());
        } catch (java.nio.charset.MalformedInputException e) {
            throw VitrimException.of(p, "not UTF-8 text");
        } catch (IOException e) {
            throw VitrimException.of(p, "cannot read: " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------ timm

    private static Checkpoint readTimm(Path cfgPath, Json.Obj cfg, Path weights) {
        String arch = cfg.str("architecture", null);
        if (arch == null) throw VitrimException.of(cfgPath, "no \"architecture\" (timm) or \"model_type\" (Hugging Face)");
        Architectures.Arch a = Architectures.get(arch);
        if (a.config().eva() != null) return readTimmEva(cfgPath, cfg, weights, arch, a);
        ViTConfig c = a.config();
        Json.Obj args = cfg.obj("model_args");
        int imgH = c.imgHeight(), imgW = c.imgWidth(), patch = c.patchSize(), dim = c.embedDim(), depth = c.depth(), heads = c.numHeads();
        // timm's mlp_ratio: fc1's width over C (for SwiGLUPacked, gate and value together)
        double mlpRatio = c.act() == ViTConfig.Act.SWIGLU ? Architectures.SWIGLU_PACKED_RATIO : (double) c.mlpHidden() / c.embedDim();
        boolean qkvBias = c.qkvBias(), clsTok = c.classToken();
        String actLayer = null, mlpLayer = null; // combined after the loop: SiLU is only SwiGLUPacked's gate
        int regs = c.regTokens();
        boolean noEmbedClass = c.noEmbedClass(), layerScale = c.layerScale(), preNorm = c.preNorm();
        ViTConfig.Act act = c.act();
        String pool = cfg.str("global_pool", c.globalPool().timmName());
        Boolean fcNorm = null;
        if (args != null) {
            for (String k : args.raw().keySet()) {
                switch (k) {
                    case "img_size": {
                        Object v = args.get(k);
                        if (v instanceof List) {
                            double[] hw = args.numbers(k);
                            if (hw.length != 2) throw VitrimException.of(cfgPath, "model_args.img_size must be an int or [h, w]");
                            imgH = (int) hw[0];
                            imgW = (int) hw[1];
                        } else {
                            imgH = imgW = args.intValue(k, imgH);
                        }
                        break;
                    }
                    case "patch_size": patch = args.intValue(k, patch); break;
                    case "embed_dim": dim = args.intValue(k, dim); break;
                    case "depth": depth = args.intValue(k, depth); break;
                    case "num_heads": heads = args.intValue(k, heads); break;
                    case "mlp_ratio": mlpRatio = args.number(k, mlpRatio); break;
                    case "qkv_bias": qkvBias = args.bool(k, qkvBias); break;
                    case "class_token": clsTok = args.bool(k, clsTok); break;
                    case "global_pool": pool = args.str(k, pool); break;
                    case "fc_norm": if (args.has(k)) fcNorm = args.bool(k, false); break;
                    case "num_classes": break; // top-level num_classes wins
                    case "reg_tokens": regs = args.intValue(k, regs); break;
                    case "no_embed_class": noEmbedClass = args.bool(k, noEmbedClass); break;
                    case "pre_norm": preNorm = args.bool(k, preNorm); break;
                    case "init_values": layerScale = args.get(k) != null; break; // LayerScale's initial value: present or not
                    case "act_layer": actLayer = args.str(k, ""); break;
                    // only as a name: timm's own config.json never carries one (the class is not JSON)
                    case "mlp_layer": mlpLayer = args.str(k, ""); break;
                    case "dynamic_img_size": break; // vitrim runs at the configured size; the embedding is resampled at load
                    case "in_chans":
                        if (args.intValue(k, 3) != 3) throw VitrimException.of(cfgPath, "only in_chans=3 is supported");
                        break;
                    default:
                        if (!IGNORED_ARGS.contains(k)) {
                            throw VitrimException.of(cfgPath, "model_args." + k + " is not supported by vitrim's ViT");
                        }
                }
            }
        }
        ViTConfig.Pool gp = ViTConfig.Pool.parse(pool.isEmpty() ? "token" : pool, cfgPath);
        boolean useFcNorm = fcNorm != null ? fcNorm : gp == ViTConfig.Pool.AVG;
        int classes = cfg.intValue("num_classes", c.numClasses());
        if (mlpLayer != null) {
            String n = mlpLayer.toLowerCase(java.util.Locale.ROOT).replace("_", "");
            if (n.equals("swiglupacked")) act = ViTConfig.Act.SWIGLU;
            else if (n.equals("mlp")) act = act == ViTConfig.Act.SWIGLU ? ViTConfig.Act.GELU : act;
            else throw VitrimException.of(cfgPath, "model_args.mlp_layer \"" + mlpLayer + "\" is not supported (mlp, swiglu_packed)");
        }
        boolean silu = actLayer != null && (actLayer.equals("silu") || actLayer.equals("swish"));
        if (actLayer != null && !silu) {
            if (act == ViTConfig.Act.SWIGLU) throw VitrimException.of(cfgPath, "SwiGLUPacked's gate is SiLU; act_layer must be silu, got \"" + actLayer + "\"");
            act = ViTConfig.Act.parse(actLayer, cfgPath);
        }
        int mlpHidden = (int) Math.round(dim * mlpRatio);
        if (act == ViTConfig.Act.SWIGLU) {
            // timm: fc1 = int(C * mlp_ratio) outputs, split in two halves (gate, value)
            int fc1 = (int) (dim * mlpRatio);
            if (fc1 % 2 != 0) throw VitrimException.of(cfgPath, "SwiGLUPacked needs an even fc1 width, got int(" + dim + " * " + mlpRatio + ") = " + fc1);
            mlpHidden = fc1 / 2;
        } else if (silu) {
            throw VitrimException.of(cfgPath, "act_layer \"" + actLayer + "\" is supported only as the gate of mlp_layer swiglu_packed");
        }
        ViTConfig config = new ViTConfig(arch, imgH, imgW, patch, 3, dim, depth, heads, mlpHidden, qkvBias, clsTok,
                c.distToken(), gp, useFcNorm, classes, c.normEps(), regs, noEmbedClass, layerScale, preNorm, act).validate(cfgPath);
        PreprocessConfig pre = timmPreprocess(cfgPath, cfg.obj("pretrained_cfg"), a.preprocess(), config);
        SegmentationConfig seg = segmentation(cfgPath, cfg);
        // a segmentation model sees the whole photo, resized to its input (no crop), as it was trained
        if (seg != null) pre = new PreprocessConfig(pre.inputHeight(), pre.inputWidth(), 1.0, pre.interpolation(), PreprocessConfig.Resize.EXACT,
                pre.mean(), pre.std());
        List<String> labels = labels(cfgPath, cfg, seg != null ? seg.numClasses() : classes);
        StateDict sd = readTensors(weights);
        resamplePosEmbed(sd, config, PosEmbed.Kernel.ANTIALIAS);
        return new Checkpoint(config, pre, labels, sd, weights, PosEmbed.Kernel.ANTIALIAS, null, methodDefaults(cfgPath, cfg), seg);
    }

    /**
     * A timm {@code Eva} folder (EVA02): the model args timm's {@code Eva} takes, as far as EVA02
     * uses them; options that select another block, position embedding or pooling are refused
     * by name rather than run wrongly.
     */
    private static Checkpoint readTimmEva(Path cfgPath, Json.Obj cfg, Path weights, String arch, Architectures.Arch a) {
        ViTConfig c = a.config();
        ViTConfig.Eva e = c.eva();
        Json.Obj args = cfg.obj("model_args");
        int imgH = c.imgHeight(), imgW = c.imgWidth(), patch = c.patchSize(), dim = c.embedDim(), depth = c.depth(), heads = c.numHeads();
        double mlpRatio = Architectures.evaMlpRatio(arch); // as timm writes it (4 * 2 / 3, or 15360 / 1792)
        boolean qkvBias = c.qkvBias(), clsTok = c.classToken(), qkvFused = e.qkvFused(), scaleMlp = e.scaleMlp();
        boolean swiglu = e.swiglu(), postNorm = e.postNorm();
        boolean scaleAttn = e.scaleAttnInner(), rope = e.rope();
        int refH = e.ropeRefH(), refW = e.ropeRefW();
        double temperature = e.ropeTemperature();
        String pool = cfg.str("global_pool", c.globalPool().timmName());
        Boolean fcNorm = null, finalNorm = null;
        boolean initValues = false;
        if (args != null) {
            for (String k : args.raw().keySet()) {
                Object v = args.get(k);
                switch (k) {
                    case "img_size": {
                        int[] hw = pair(cfgPath, args, k, imgH);
                        imgH = hw[0];
                        imgW = hw[1];
                        break;
                    }
                    case "ref_feat_shape": {
                        int[] hw = v == null ? new int[] {0, 0} : pair(cfgPath, args, k, 0);
                        refH = hw[0];
                        refW = hw[1];
                        break;
                    }
                    case "patch_size": patch = args.intValue(k, patch); break;
                    case "embed_dim": dim = args.intValue(k, dim); break;
                    case "depth": depth = args.intValue(k, depth); break;
                    case "num_heads": heads = args.intValue(k, heads); break;
                    case "mlp_ratio": mlpRatio = args.number(k, mlpRatio); break;
                    case "qkv_bias": qkvBias = args.bool(k, qkvBias); break;
                    case "qkv_fused": qkvFused = args.bool(k, qkvFused); break;
                    case "scale_mlp": scaleMlp = args.bool(k, scaleMlp); break;
                    case "scale_attn_inner": scaleAttn = args.bool(k, scaleAttn); break;
                    case "use_rot_pos_emb": rope = args.bool(k, rope); break;
                    case "rope_temperature": temperature = args.number(k, temperature); break;
                    case "class_token": clsTok = args.bool(k, clsTok); break;
                    case "global_pool": pool = args.str(k, pool); break;
                    case "use_fc_norm": if (v != null) fcNorm = args.bool(k, false); break;
                    case "use_post_transformer_norm": if (v != null) finalNorm = args.bool(k, false); break;
                    case "num_classes": break; // top-level num_classes wins
                    case "dynamic_img_size": break; // vitrim runs at the configured size; embeddings are resampled at load
                    case "in_chans": if (args.intValue(k, 3) != 3) throw VitrimException.of(cfgPath, "only in_chans=3 is supported"); break;
                    // EVA02's values only: anything else is another model
                    case "swiglu_mlp": swiglu = args.bool(k, swiglu); break;
                    case "use_post_norm": postNorm = args.bool(k, postNorm); break;
                    case "rope_type": requireArg(cfgPath, k, v, "cat"); break;
                    case "rope_rotate_half": requireArg(cfgPath, k, v, false); break;
                    case "rope_grid_indexing": requireArg(cfgPath, k, v, "ij"); break;
                    case "rope_grid_offset": requireArg(cfgPath, k, v, 0.0); break;
                    case "use_abs_pos_emb": requireArg(cfgPath, k, v, true); break;
                    case "use_pre_transformer_norm": requireArg(cfgPath, k, v, false); break;
                    case "attn_type": requireArg(cfgPath, k, v, "eva"); break;
                    case "init_values": if (v != null) initValues = true; break; // LayerScale: refused below unless post-norm ignores it
                    case "num_reg_tokens": requireArg(cfgPath, k, v, 0.0); break;
                    case "no_embed_class": requireArg(cfgPath, k, v, false); break;
                    case "swiglu_align_to": requireArg(cfgPath, k, v, 0.0); break;
                    case "dynamic_img_pad": requireArg(cfgPath, k, v, false); break;
                    case "head_init_scale": case "attn_pool_num_heads": case "attn_pool_mlp_ratio": break; // init / unused without map
                    default:
                        if (!IGNORED_ARGS.contains(k)) throw VitrimException.of(cfgPath, "model_args." + k + " is not supported by vitrim's EVA");
                }
            }
        }
        if (!pool.equals("avg") && !pool.equals("token")) {
            throw VitrimException.of(cfgPath, "global_pool \"" + pool + "\" is not supported for EVA (avg, token)");
        }
        ViTConfig.Pool gp = ViTConfig.Pool.parse(pool, cfgPath);
        // timm's Eva: fc_norm defaults on for avg pooling, the final norm to the opposite
        boolean useFc = fcNorm != null ? fcNorm : gp == ViTConfig.Pool.AVG;
        boolean usePost = finalNorm != null ? finalNorm : !useFc;
        if (useFc == usePost) {
            throw VitrimException.of(cfgPath, "an EVA model with " + (useFc ? "both norm and fc_norm" : "neither norm nor fc_norm") + " is not supported");
        }
        int classes = cfg.intValue("num_classes", c.numClasses());
        // timm: int(dim * mlp_ratio), truncated (EVA02-L: 2730)
        int mlpHidden = (int) (dim * mlpRatio);
        // timm's post-norm block ignores init_values; the pre-norm EvaBlock would add LayerScale, which EVA02 has not
        if (initValues && !postNorm) throw VitrimException.of(cfgPath, "model_args.init_values (LayerScale in an EVA block) is not supported");
        ViTConfig.Eva eva = new ViTConfig.Eva(qkvFused, scaleMlp, scaleAttn, rope, refH, refW, (float) temperature, swiglu, postNorm);
        ViTConfig config = new ViTConfig(arch, imgH, imgW, patch, 3, dim, depth, heads, mlpHidden, qkvBias, clsTok, false, gp, useFc,
                classes, c.normEps(), 0, false, false, false, ViTConfig.Act.GELU, eva).validate(cfgPath);
        PreprocessConfig pre = timmPreprocess(cfgPath, cfg.obj("pretrained_cfg"), a.preprocess(), config);
        List<String> labels = labels(cfgPath, cfg, classes);
        StateDict sd = readTensors(weights);
        resamplePosEmbed(sd, config, PosEmbed.Kernel.ANTIALIAS);
        return new Checkpoint(config, pre, labels, sd, weights, PosEmbed.Kernel.ANTIALIAS, null, methodDefaults(cfgPath, cfg), null);
    }

    /** An int or {@code [h, w]} model arg. */
    private static int[] pair(Path cfgPath, Json.Obj args, String k, int def) {
        if (args.get(k) instanceof List) {
            double[] hw = args.numbers(k);
            if (hw.length != 2 || hw[0] != Math.rint(hw[0]) || hw[1] != Math.rint(hw[1]) || Math.abs(hw[0]) > 1e6 || Math.abs(hw[1]) > 1e6) {
                throw VitrimException.of(cfgPath, "model_args." + k + " must be an int or [h, w]");
            }
            return new int[] {(int) hw[0], (int) hw[1]};
        }
        int v = args.intValue(k, def);
        return new int[] {v, v};
    }

    /** A model arg that vitrim supports at one value only (EVA02's). */
    private static void requireArg(Path cfgPath, String k, Object v, Object want) {
        boolean ok = want == null ? v == null
                : want instanceof Double ? v instanceof Number && ((Number) v).doubleValue() == (Double) want : want.equals(v);
        if (!ok) {
            throw VitrimException.of(cfgPath, "model_args." + k + " = " + Json.write(v) + " is not supported for EVA (only "
                    + Json.write(want) + ", as EVA02)");
        }
    }

    /**
     * As timm's checkpoint filter: a {@code pos_embed} made for another square patch grid is
     * resampled to the config's ({@link PosEmbed}); other sizes are left for the
     * binder to report.
     */
    /** As below, from a known (possibly non-square) grid {@code fromH × fromW}: a model trained at a non-square size. */
    static void resamplePosEmbed(StateDict sd, ViTConfig c, PosEmbed.Kernel kernel, int fromH, int fromW) {
        StateDict.Tensor t = sd.get("pos_embed");
        if (t == null || t.shape().length == 0) return;
        int d = c.embedDim(), prefix = c.noEmbedClass() ? 0 : c.numPrefix();
        if (t.data().length != (long) (fromH * fromW + prefix) * d) {
            resamplePosEmbed(sd, c, kernel);
            return;
        }
        if (fromH == c.gridH() && fromW == c.gridW()) return;
        float[] v = PosEmbed.resample(t.data(), prefix, fromH, fromW, c.gridH(), c.gridW(), d, kernel);
        sd.put("pos_embed", v, new int[] {1, c.posEmbedTokens(), d});
    }

    static void resamplePosEmbed(StateDict sd, ViTConfig c, PosEmbed.Kernel kernel) {
        StateDict.Tensor t = sd.get("pos_embed");
        if (t == null || t.shape().length == 0) return;
        int d = c.embedDim(), prefix = c.noEmbedClass() ? 0 : c.numPrefix();
        if (t.data().length % d != 0) return;
        int rows = t.data().length / d, grid = rows - prefix;
        if (rows == c.posEmbedTokens() || grid <= 0) return;
        int side = (int) Math.round(Math.sqrt(grid));
        if (side * side != grid) return;
        float[] v = PosEmbed.resample(t.data(), prefix, side, side, c.gridH(), c.gridW(), d, kernel);
        sd.put("pos_embed", v, new int[] {1, c.posEmbedTokens(), d});
    }

    /**
     * The checkpoint at another input size (e.g. a DINOv2 made at 518 run at 224): the position
     * embedding resampled as timm does, the preprocessing's size changed with it.
     */
    public static Checkpoint atImageSize(Checkpoint ck, int h, int w) {
        ViTConfig c = ck.config().withImageSize(h, w).validate(ck.source());
        if (c.equals(ck.config())) return ck;
        StateDict sd = ck.weights().copy();
        // from the checkpoint's own grid if it was resampled at load (each resampling is from the original)
        StateDict.Tensor stored = ck.storedPos() != null ? ck.storedPos() : sd.get("pos_embed");
        if (ck.storedPos() != null) sd.put("pos_embed", stored.data(), stored.shape());
        // the file's grid is the config's unless the loader resampled it (then timm's square rule applies)
        if (ck.storedPos() == null) resamplePosEmbed(sd, c, ck.resample(), ck.config().gridH(), ck.config().gridW());
        else resamplePosEmbed(sd, c, ck.resample());
        PreprocessConfig pre = ck.preprocess() == null ? null : ck.preprocess().withInputSize(h, w);
        boolean changed = stored != null && sd.get("pos_embed").data() != stored.data();
        return new Checkpoint(c, pre, ck.labels(), sd, ck.source(), ck.resample(), changed ? stored : null, ck.methodDefaults(), ck.segmentation());
    }

    private static PreprocessConfig timmPreprocess(Path where, Json.Obj pc, PreprocessConfig def, ViTConfig c) {
        int h = c.imgHeight(), w = c.imgWidth();
        double crop = def.cropPct();
        Interpolation interp = def.interpolation();
        Resize resize = def.resize();
        float[] mean = def.mean(), std = def.std();
        if (pc != null) {
            double[] in = pc.numbers("input_size");
            if (in != null) {
                if (in.length != 3) throw VitrimException.of(where, "pretrained_cfg.input_size must be [3, H, W]");
                h = (int) in[1];
                w = (int) in[2];
            }
            crop = pc.number("crop_pct", crop);
            if (!(crop > 0 && crop <= 4)) throw VitrimException.of(where, "pretrained_cfg.crop_pct " + crop + " is out of range");
            String ip = pc.str("interpolation", null);
            if (ip != null) {
                interp = Interpolation.parse(ip);
                if (interp == null) throw VitrimException.of(where, "pretrained_cfg.interpolation \"" + ip + "\" is not supported (bicubic, bilinear)");
            }
            String mode = pc.str("crop_mode", def.resize() == Resize.EXACT ? "squash" : "center");
            if (!mode.equals("center") && !mode.equals("squash")) {
                throw VitrimException.of(where, "pretrained_cfg.crop_mode \"" + mode + "\" is not supported (center, squash)");
            }
            // squash: timm stretches to ⌊size / crop_pct⌋ square, then crops the centre
            resize = mode.equals("squash") ? Resize.EXACT : Resize.SHORTER_SIDE;
            mean = triple(where, "mean", pc.numbers("mean"), mean);
            std = triple(where, "std", pc.numbers("std"), std);
        }
        if (h != c.imgHeight() || w != c.imgWidth()) {
            throw VitrimException.of(where, "pretrained_cfg.input_size " + h + "x" + w + " differs from the model's image size "
                    + c.imgHeight() + "x" + c.imgWidth());
        }
        return new PreprocessConfig(h, w, crop, interp, resize, mean, std);
    }

    private static float[] triple(Path where, String key, double[] v, float[] def) {
        if (v == null) return def;
        if (v.length != 3) throw VitrimException.of(where, key + " must have 3 values");
        for (double d : v) if (key.equals("std") && !(d > 0)) throw VitrimException.of(where, "std must be positive");
        return new float[] {(float) v[0], (float) v[1], (float) v[2]};
    }

    private static List<String> labels(Path where, Json.Obj cfg, int classes) {
        List<Object> l = cfg.list("label_names");
        if (l == null) return null;
        List<String> out = new ArrayList<>();
        for (Object o : l) out.add(String.valueOf(o));
        if (out.size() != classes) throw VitrimException.of(where, out.size() + " label_names for num_classes " + classes);
        return out;
    }

    // ------------------------------------------------------------------ Hugging Face transformers

    private static Checkpoint readHuggingFace(Path dir, Path cfgPath, Json.Obj cfg, Path weights) {
        String type = cfg.str("model_type", "");
        switch (type) {
            case "vit": return readHfVit(dir, cfgPath, cfg, weights);
            case "dinov2": case "dinov2_with_registers": return readHfDinov2(dir, cfgPath, cfg, weights);
            case "clip": case "clip_vision_model": return readHfClip(dir, cfgPath, cfg, weights);
            default:
                throw VitrimException.of(cfgPath, "model_type \"" + type + "\" is not supported (vit, dinov2, dinov2_with_registers, clip, clip_vision_model)");
        }
    }

    private static Checkpoint readHfVit(Path dir, Path cfgPath, Json.Obj cfg, Path weights) {
        String act = cfg.str("hidden_act", "gelu");
        if (!act.equals("gelu")) throw VitrimException.of(cfgPath, "hidden_act \"" + act + "\" is not supported (gelu)");
        int dim = cfg.intValue("hidden_size", 768), depth = cfg.intValue("num_hidden_layers", 12);
        int heads = cfg.intValue("num_attention_heads", 12), hidden = cfg.intValue("intermediate_size", 3072);
        int img = cfg.intValue("image_size", 224), patch = cfg.intValue("patch_size", 16);
        if (cfg.intValue("num_channels", 3) != 3) throw VitrimException.of(cfgPath, "only num_channels=3 is supported");
        float eps = (float) cfg.number("layer_norm_eps", 1e-12);
        List<String> labels = hfLabels(cfgPath, cfg);
        StateDict hf = readTensors(weights);
        StateDict.Tensor cls = hf.get("classifier.weight");
        if (cls == null) throw VitrimException.of(weights, "no classifier.weight: only ViTForImageClassification checkpoints can classify");
        int classes = cls.shape()[0];
        if (labels != null && labels.size() != classes) labels = null; // HF configs often carry stale id2label
        ViTConfig config = new ViTConfig("hf-vit", img, img, patch, 3, dim, depth, heads, hidden,
                cfg.bool("qkv_bias", true), true, false, ViTConfig.Pool.TOKEN, false, classes, eps).validate(cfgPath);
        StateDict sd = HfVitKeys.toTimm(hf, config, weights);
        PreprocessConfig pre = hfPreprocess(dir.resolve("preprocessor_config.json"), config, PreprocessConfig.INCEPTION_MEAN, PreprocessConfig.INCEPTION_STD);
        return new Checkpoint(config.withImageSize(pre.inputHeight(), pre.inputWidth()).validate(cfgPath), pre, labels, sd, weights);
    }

    private static List<String> hfLabels(Path cfgPath, Json.Obj cfg) {
        Json.Obj id2label = cfg.obj("id2label");
        if (id2label == null) return null;
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < id2label.raw().size(); i++) {
            String l = id2label.str(String.valueOf(i), null);
            if (l == null) throw VitrimException.of(cfgPath, "id2label is missing id " + i);
            labels.add(l);
        }
        return labels;
    }

    /** Dinov2Model / Dinov2WithRegistersModel: features (the normalised class token), no head. */
    private static Checkpoint readHfDinov2(Path dir, Path cfgPath, Json.Obj cfg, Path weights) {
        String act = cfg.str("hidden_act", "gelu");
        if (!act.equals("gelu")) throw VitrimException.of(cfgPath, "hidden_act \"" + act + "\" is not supported (gelu)");
        boolean swiglu = cfg.bool("use_swiglu_ffn", false);
        int dim = cfg.intValue("hidden_size", 768), depth = cfg.intValue("num_hidden_layers", 12);
        int heads = cfg.intValue("num_attention_heads", 12);
        int hidden = (int) Math.round(dim * cfg.number("mlp_ratio", 4));
        // transformers' Dinov2SwiGLUFFN: two thirds of the MLP width, rounded up to a multiple of 8 (4096 for the giant)
        if (swiglu) hidden = ((int) (((int) (dim * cfg.number("mlp_ratio", 4))) * 2 / 3.0) + 7) / 8 * 8;
        int img = cfg.intValue("image_size", 518), patch = cfg.intValue("patch_size", 14);
        int regs = cfg.str("model_type", "").equals("dinov2_with_registers") ? cfg.intValue("num_register_tokens", 4) : 0;
        float eps = (float) cfg.number("layer_norm_eps", 1e-6);
        StateDict hf = readTensors(weights);
        if (hf.has("classifier.weight")) {
            throw VitrimException.of(weights, "Dinov2ForImageClassification's head (class token and mean patch token) is not supported; "
                    + "the Dinov2Model backbone is (its features)");
        }
        ViTConfig config = new ViTConfig("hf-dinov2", img, img, patch, 3, dim, depth, heads, hidden, cfg.bool("qkv_bias", true),
                true, false, ViTConfig.Pool.TOKEN, false, 0, eps, regs, regs > 0, true, false,
                swiglu ? ViTConfig.Act.SWIGLU : ViTConfig.Act.GELU).validate(cfgPath);
        StateDict sd = HfEncoderKeys.dinov2(hf, config, weights);
        PreprocessConfig pre = hfPreprocess(dir.resolve("preprocessor_config.json"), config, PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD);
        // the processor's crop is the size the model runs at; transformers interpolates the position
        // embedding of Dinov2Model without antialiasing, that of Dinov2WithRegistersModel with it
        ViTConfig run = config.withImageSize(pre.inputHeight(), pre.inputWidth()).validate(cfgPath);
        PosEmbed.Kernel kernel = regs > 0 ? PosEmbed.Kernel.ANTIALIAS : PosEmbed.Kernel.PLAIN;
        return atImageSize(new Checkpoint(config, pre.withInputSize(config.imgHeight(), config.imgWidth()), null, sd, weights, kernel, null, Map.of()),
                run.imgHeight(), run.imgWidth());
    }

    /** CLIPVisionModel[WithProjection], or a full CLIP checkpoint (its text tower is dropped). */
    private static Checkpoint readHfClip(Path dir, Path cfgPath, Json.Obj cfg, Path weights) {
        Json.Obj v = cfg.str("model_type", "").equals("clip") ? cfg.obj("vision_config") : cfg;
        if (v == null) throw VitrimException.of(cfgPath, "a model_type clip config needs vision_config");
        String act = v.str("hidden_act", "quick_gelu");
        ViTConfig.Act a = ViTConfig.Act.parse(act.equals("gelu") ? "gelu" : act, cfgPath);
        int dim = v.intValue("hidden_size", 768), depth = v.intValue("num_hidden_layers", 12);
        int heads = v.intValue("num_attention_heads", 12), hidden = v.intValue("intermediate_size", 3072);
        int img = v.intValue("image_size", 224), patch = v.intValue("patch_size", 32);
        float eps = (float) v.number("layer_norm_eps", 1e-5);
        StateDict hf = readTensors(weights);
        StateDict.Tensor proj = hf.get("visual_projection.weight");
        int classes = proj == null ? 0 : proj.shape()[0];
        ViTConfig config = new ViTConfig("hf-clip", img, img, patch, 3, dim, depth, heads, hidden, true, true, false,
                ViTConfig.Pool.TOKEN, false, classes, eps, 0, false, false, true, a).validate(cfgPath);
        StateDict sd = HfEncoderKeys.clipVision(hf, config, weights);
        PreprocessConfig pre = hfPreprocess(dir.resolve("preprocessor_config.json"), config, PreprocessConfig.CLIP_MEAN, PreprocessConfig.CLIP_STD);
        ViTConfig run = config.withImageSize(pre.inputHeight(), pre.inputWidth()).validate(cfgPath);
        return atImageSize(new Checkpoint(config, pre.withInputSize(config.imgHeight(), config.imgWidth()), null, sd, weights),
                run.imgHeight(), run.imgWidth());
    }

    /**
     * A transformers image processor's config: {@code size.height/width} (a direct resize), or
     * {@code size.shortest_edge} + {@code crop_size} (shorter side to S, centre crop: timm's
     * crop_pct = crop / S); the crop is the input size.
     */
    private static PreprocessConfig hfPreprocess(Path p, ViTConfig c, float[] defMean, float[] defStd) {
        PreprocessConfig def = new PreprocessConfig(c.imgHeight(), c.imgWidth(), 1.0, Interpolation.BILINEAR, Resize.EXACT, defMean, defStd);
        if (!Files.exists(p)) return def;
        Json.Obj o = readJson(p);
        try {
            int h = c.imgHeight(), w = c.imgWidth();
            double crop = 1.0;
            Resize mode = Resize.EXACT;
            Json.Obj size = o.obj("size");
            if (size != null && size.has("shortest_edge")) {
                int edge = size.intValue("shortest_edge", h);
                mode = Resize.SHORTER_SIDE;
                h = w = edge;
                Json.Obj cs = o.obj("crop_size");
                if (o.bool("do_center_crop", cs != null) && cs != null) {
                    h = cs.intValue("height", edge);
                    w = cs.intValue("width", edge);
                    if (h > edge || w > edge || h < 1 || w < 1) throw VitrimException.of(p, "crop_size " + h + "x" + w + " does not fit shortest_edge " + edge);
                    crop = (double) Math.min(h, w) / edge;
                }
            } else if (size != null) {
                h = size.intValue("height", h);
                w = size.intValue("width", w);
                if (h != c.imgHeight() || w != c.imgWidth()) {
                    throw VitrimException.of(p, "size " + h + "x" + w + " differs from the model's image size " + c.imgHeight());
                }
            }
            int resample = o.intValue("resample", 2);
            Interpolation ip = resample == 3 ? Interpolation.BICUBIC : resample == 2 ? Interpolation.BILINEAR : null;
            if (ip == null) throw VitrimException.of(p, "resample " + resample + " is not supported (2 bilinear, 3 bicubic)");
            boolean norm = o.bool("do_normalize", true);
            float[] mean = norm ? triple(p, "image_mean", o.numbers("image_mean"), def.mean()) : new float[] {0, 0, 0};
            float[] std = norm ? triple(p, "image_std", o.numbers("image_std"), def.std()) : new float[] {1, 1, 1};
            return new PreprocessConfig(h, w, crop, ip, mode, mean, std);
        } catch (Json.ParseException e) {
            throw VitrimException.of(p, e.getMessage());
        }
    }

    // ------------------------------------------------------------------ tensors

    /** Every tensor of a safetensors file as float, in timm's key space as stored. */
    public static StateDict readTensors(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            long floats = 0;
            for (SafeTensors.Entry e : st.entries().values()) floats += e.elements();
            WeightMemory.require(floats, file);
            StateDict sd = new StateDict();
            for (Map.Entry<String, SafeTensors.Entry> e : st.entries().entrySet()) {
                long[] shape = e.getValue().shape();
                int[] s = new int[shape.length];
                for (int i = 0; i < s.length; i++) s[i] = (int) shape[i];
                sd.put(e.getKey(), st.floats(e.getKey()), s);
            }
            return sd;
        }
    }
}
