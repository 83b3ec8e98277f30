package io.vitrim.reduce;

import io.vitrim.engine.Attention;
import io.vitrim.engine.Parallel;

import java.util.Set;

/** Turns the attention layer's raw outputs into the {@link BlockProbes} a reducer asked for. */
public final class ProbeCollector {
    private ProbeCollector() {}

    /**
     * @param qkv [T, 3C] the block's projected tokens
     * @param ap  per-head attention rows filled by {@link Attention#forward} (may be null)
     */
    public static BlockProbes collect(Parallel par, Set<Probe> wanted, TokenState s, float[] qkv,
                                      Attention.Probes ap, int heads) {
        final int t = s.total(), c = s.dim(), hd = c / heads, ld = 3 * c;
        BlockProbes p = new BlockProbes();
        p.headDim = hd;
        if (wanted.contains(Probe.MEAN_KEY)) {
            p.qkv = qkv;
            p.heads = heads;
        }
        if (wanted.contains(Probe.VALUE_NORM)) {
            float[] vn = new float[t];
            for (int r = 0; r < t; r++) {
                double acc = 0;
                for (int j = 0; j < c; j++) {
                    float v = qkv[r * ld + 2 * c + j];
                    acc += v * v;
                }
                vn[r] = (float) Math.sqrt(acc);
            }
            p.valueNorm = vn;
        }
        if (wanted.contains(Probe.CLS_ATTENTION)) {
            float[] ca = new float[t];
            for (int r = 0; r < t; r++) {
                float acc = 0f;
                for (int h = 0; h < heads; h++) acc += ap.clsRow[r * heads + h];
                ca[r] = acc;
            }
            p.clsAttention = ca;
        }
        if (wanted.contains(Probe.ATTENTION_RECEIVED)) {
            float[] ar = new float[t];
            for (int b = 0; b < s.batch(); b++) {
                int o = s.offset(b), n = s.count(b);
                for (int j = o; j < o + n; j++) {
                    float acc = 0f;
                    for (int h = 0; h < heads; h++) acc += ap.received[j * heads + h];
                    ar[j] = acc / ((float) heads * n);
                }
            }
            p.attentionReceived = ar;
        }
        return p;
    }
}
