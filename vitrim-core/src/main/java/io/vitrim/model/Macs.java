package io.vitrim.model;

import io.vitrim.config.ViTConfig;
import io.vitrim.reduce.Trace;

/**
 * Multiply-accumulates per image from the token counts each block actually saw
 * (design.md §6): per block {@code 4·n_a·C² + 2·n_a²·C + 2·n_m·C·hidden}, plus the patch
 * embedding {@code G²·3P²·C} and the head(s) {@code K·C}. A SwiGLU MLP (EVA02, the DINOv2 giant)
 * has three matrices ({@code 3·n_m·C·hidden}, hidden being the gated width); rotations, SiLU and
 * sub-LNs multiply-accumulate nothing worth counting, as the norms and GELU.
 */
public final class Macs {
    private Macs() {}

    /** MACs of one block with {@code na} tokens in attention and {@code nm} in the MLP. */
    public static double block(ViTConfig c, double na, double nm) {
        double d = c.embedDim();
        return 4 * na * d * d + 2 * na * na * d + nm * d * (c.fc1Width() + c.mlpHidden());
    }

    /** Patch embedding and head(s). */
    public static double fixed(ViTConfig c) {
        return embed(c) + head(c);
    }

    private static double embed(ViTConfig c) {
        return (double) c.numPatches() * c.inChans() * c.patchSize() * c.patchSize() * c.embedDim();
    }

    private static double head(ViTConfig c) {
        return (double) c.numClasses() * c.embedDim() * (c.distToken() ? 2 : 1);
    }

    /** MACs of the unreduced model. */
    public static double dense(ViTConfig c) {
        return fixed(c) + c.depth() * block(c, c.numTokens(), c.numTokens());
    }

    /** MACs of image {@code b} in a traced forward pass. */
    public static double of(ViTConfig c, Trace t, int b) {
        double m = fixed(c);
        for (int k = 0; k < t.depth(); k++) m += block(c, t.attnTokens(b, k), t.mlpTokens(b, k));
        return m;
    }

    /**
     * Mean MACs per image of each {@link Trace.Phase} of a traced forward pass (0 for the phases
     * without multiply-accumulates: norms, reduction); they sum to {@link #mean}.
     */
    public static double[] byPhase(ViTConfig c, Trace t) {
        double d = c.embedDim(), hidden = c.mlpHidden();
        double[] m = new double[Trace.Phase.values().length];
        m[Trace.Phase.EMBED.ordinal()] = embed(c);
        m[Trace.Phase.HEAD.ordinal()] = head(c);
        for (int b = 0; b < t.batch(); b++) {
            for (int k = 0; k < t.depth(); k++) {
                double na = t.attnTokens(b, k), nm = t.mlpTokens(b, k);
                m[Trace.Phase.QKV.ordinal()] += 3 * na * d * d / t.batch();
                m[Trace.Phase.ATTENTION.ordinal()] += 2 * na * na * d / t.batch();
                m[Trace.Phase.PROJ.ordinal()] += na * d * d / t.batch();
                m[Trace.Phase.FC1.ordinal()] += nm * d * c.fc1Width() / t.batch();
                m[Trace.Phase.FC2.ordinal()] += nm * d * hidden / t.batch();
            }
        }
        return m;
    }

    /** Mean MACs per image over the batch of a traced forward pass. */
    public static double mean(ViTConfig c, Trace t) {
        double s = 0;
        for (int b = 0; b < t.batch(); b++) s += of(c, t, b);
        return s / t.batch();
    }
}
