package io.vitrim.model;

import io.vitrim.config.ViTConfig;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Seeded random weights in timm's layout and with timm's default initialisation: Linear weights
 * and {@code pos_embed} ~ N(0, 0.02) (timm's {@code trunc_normal_} cuts at ±2, far outside),
 * {@code cls_token} ~ N(0, 1e-6), biases 0, LayerNorm γ = 1, β = 0, patch-embedding conv
 * U(±1/√fan_in) as PyTorch's default. Each tensor draws from its own stream (seed and name), so
 * values do not depend on the order tensors are created in.
 */
public final class RandomInit {
    private RandomInit() {}

    public static StateDict create(ViTConfig config, long seed) {
        WeightMemory.require(config.parameterCount(), config.architecture());
        StateDict sd = new StateDict();
        for (Map.Entry<String, int[]> e : WeightBinder.vitKeys(config).entrySet()) {
            String name = e.getKey();
            int[] shape = e.getValue();
            int n = 1;
            for (int d : shape) n *= d;
            float[] v = new float[n];
            SplittableRandom rnd = new SplittableRandom(seed ^ fnv1a(name));
            // every LayerNorm γ: norm1/2, norm, fc_norm, norm_pre, attn_pool.norm, EVA's attn.norm and mlp.norm
            if (name.endsWith("norm1.weight") || name.endsWith("norm2.weight") || name.endsWith("norm.weight") || name.equals("norm_pre.weight")) {
                java.util.Arrays.fill(v, 1f);
            } else if (name.endsWith(".gamma")) {
                // LayerScale at 1, not timm's 1e-5: random blocks that contribute next to nothing would make
                // every measurement on seeded weights (how far a reduction moves the output) trivially small
                java.util.Arrays.fill(v, 1f);
            } else if (name.startsWith("patch_embed.proj")) {
                double bound = 1.0 / Math.sqrt(config.inChans() * config.patchSize() * config.patchSize());
                for (int i = 0; i < n; i++) v[i] = (float) ((rnd.nextDouble() * 2 - 1) * bound);
            } else if (name.equals("cls_token")) {
                for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * 1e-6);
            } else if (name.endsWith(".weight") && !name.contains("norm") || name.equals("pos_embed") || name.equals("dist_token")
                    || name.equals("reg_token") || name.equals("attn_pool.latent")) {
                for (int i = 0; i < n; i++) v[i] = (float) Math.max(-2, Math.min(2, rnd.nextGaussian() * 0.02));
            }
            if (config.eva() == null && config.gated() && name.contains(".mlp.fc1.")) {
                // timm's GluMlp.init_weights (the DINOv2 giant's SwiGLUPacked): the value half starts near
                // weight 0, bias 1, so the MLP begins as fc2(SiLU(gate)); EVA's Eva init does not call it
                int half = n / 2;
                if (name.endsWith(".bias")) java.util.Arrays.fill(v, half, n, 1f);
                else for (int i = half; i < n; i++) v[i] = (float) (rnd.nextGaussian() * 1e-6);
            }
            if (config.eva() != null && (name.endsWith("attn.proj.weight") || name.endsWith("mlp.fc2.weight"))) {
                // timm's Eva.fix_init_weight: block i's output layers divided by √(2(i + 1))
                int i = Integer.parseInt(name.substring("blocks.".length(), name.indexOf('.', "blocks.".length())));
                float s = (float) Math.sqrt(2.0 * (i + 1));
                for (int k = 0; k < n; k++) v[k] /= s;
            }
            sd.put(name, v, shape);
        }
        return sd;
    }

    /**
     * Replaces {@code pos_embed} by the fixed 2-D sine-cosine embedding of MAE
     * ({@code get_2d_sincos_pos_embed}; prefix tokens get zeros) — an initialisation that helps a
     * ViT trained from scratch on little data find spatial structure early.
     */
    public static void sinCosPosEmbed(StateDict sd, ViTConfig c) {
        int d = c.embedDim(), gh = c.gridH(), gw = c.gridW(), prefix = c.noEmbedClass() ? 0 : c.numPrefix();
        if (d % 4 != 0) throw new IllegalArgumentException("sine-cosine position embedding needs an embedding width divisible by 4, got " + d);
        float[] pe = sd.get("pos_embed").data();
        java.util.Arrays.fill(pe, 0f);
        int half = d / 2, quarter = half / 2;
        for (int y = 0; y < gh; y++) {
            for (int x = 0; x < gw; x++) {
                int row = (prefix + y * gw + x) * d;
                // first half encodes the column (MAE's grid[0] is w), second half the row
                for (int i = 0; i < quarter; i++) {
                    double omega = 1.0 / Math.pow(10000, (double) i / quarter);
                    pe[row + i] = (float) Math.sin(x * omega);
                    pe[row + quarter + i] = (float) Math.cos(x * omega);
                    pe[row + half + i] = (float) Math.sin(y * omega);
                    pe[row + half + quarter + i] = (float) Math.cos(y * omega);
                }
            }
        }
    }

    /** 64-bit FNV-1a of a UTF-8 string. */
    public static long fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }
}
