package io.vitrim.testing;

import io.vitrim.model.RandomInit;
import io.vitrim.model.StateDict;
import io.vitrim.config.ViTConfig;
import io.vitrim.model.WeightBinder;

import java.util.Map;

/**
 * Java twin of {@code scripts/python/hashinit.py}: element i of tensor {@code name} is
 * {@code float((2u − 1)·a + center)} with {@code u = (splitmix64(seed·φ ^ fnv1a(name) + i) >>> 40) / 2²⁴},
 * computed in double and rounded once, so both sides produce identical bits.
 */
public final class HashInit {
    private HashInit() {}

    static long splitmix64(long x) {
        long z = x + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public static float[] uniform(long seed, String name, int n, double a, double center) {
        long base = (seed * 0x9E3779B97F4A7C15L) ^ RandomInit.fnv1a(name);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            long h = splitmix64(base + i);
            double u = (double) (h >>> 40) / (double) (1 << 24);
            v[i] = (float) (center + (2.0 * u - 1.0) * a);
        }
        return v;
    }

    /** {center, half-width} per timm key, as {@code hashinit.scale_for}. */
    static double[] scaleFor(String name, int[] shape, double qkGain) {
        if (name.endsWith("norm1.weight") || name.endsWith("norm2.weight") || name.equals("norm.weight") || name.equals("fc_norm.weight")) {
            return new double[] {1.0, 0.2};
        }
        if (name.equals("norm_pre.weight") || name.equals("attn_pool.norm.weight")) return new double[] {1.0, 0.2};
        if (name.endsWith("attn.norm.weight") || name.endsWith("mlp.norm.weight")) return new double[] {1.0, 0.2}; // EVA's sub-LNs
        if (name.endsWith("q_bias") || name.endsWith("v_bias")) return new double[] {0.0, 0.1};             // EVA's fused qkv
        if (name.equals("attn_pool.latent")) return new double[] {0.0, 0.5};
        if (name.endsWith(".gamma")) return new double[] {0.7, 0.3}; // LayerScale
        if (name.endsWith(".bias")) return new double[] {0.0, 0.1};
        if (name.equals("cls_token") || name.equals("dist_token") || name.equals("reg_token") || name.equals("pos_embed")) return new double[] {0.0, 0.5};
        if (name.endsWith(".weight")) {
            int fanIn = 1;
            for (int i = 1; i < shape.length; i++) fanIn *= shape[i];
            double gain = name.endsWith("attn.qkv.weight") ? qkGain : 1.0;
            return new double[] {0.0, gain * Math.sqrt(3.0 / fanIn)};
        }
        throw new IllegalArgumentException(name);
    }

    public static StateDict stateDict(ViTConfig c, long seed, double qkGain) {
        StateDict sd = new StateDict();
        for (Map.Entry<String, int[]> e : WeightBinder.vitKeys(c).entrySet()) {
            int n = 1;
            for (int d : e.getValue()) n *= d;
            double[] s = scaleFor(e.getKey(), e.getValue(), qkGain);
            sd.put(e.getKey(), uniform(seed, e.getKey(), n, s[1], s[0]), e.getValue());
        }
        return sd;
    }

    public static float[] pixels(ViTConfig c, int batch, long seed) {
        return uniform(seed, "pixels", batch * 3 * c.imgHeight() * c.imgWidth(), 2.0, 0.0);
    }
}
