package io.vitrim.reduce;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What happened in one forward pass, per image: tokens entering attention and the MLP of every
 * block, and the decisions reducers recorded (e.g. PPT's prune/pool per block).
 */
public final class Trace {
    private final int batch;
    private final int depth;
    final int[][] attnTokens;
    final int[][] mlpTokens;
    private final String[][] decisions;
    private int[][] finalSource;
    private int[][][] blockSources; // [block][image][original token]
    private long forwardNanos;
    private final long[] phaseNanos = new long[Phase.values().length];

    /**
     * The parts of a forward pass, timed separately (wall time on the calling thread; each part is
     * one or more parallel kernel calls that end in a barrier, so the parts add up to the pass).
     */
    public enum Phase {
        EMBED("patch embedding"), NORM("LayerNorm"), QKV("qkv GEMM"), ATTENTION("attention"), PROJ("proj GEMM"),
        REDUCE("reduction"), FC1("fc1 GEMM + GELU"), FC2("fc2 GEMM"), HEAD("norm, pool, head");

        private final String label;

        Phase(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    public Trace(int batch, int depth) {
        this.batch = batch;
        this.depth = depth;
        this.attnTokens = new int[batch][depth];
        this.mlpTokens = new int[batch][depth];
        this.decisions = new String[batch][depth];
    }

    public int batch() {
        return batch;
    }

    public int depth() {
        return depth;
    }

    /** Tokens entering block {@code blk}'s attention for image {@code b}. */
    public int attnTokens(int b, int blk) {
        return attnTokens[b][blk];
    }

    /** Tokens entering block {@code blk}'s MLP for image {@code b}. */
    public int mlpTokens(int b, int blk) {
        return mlpTokens[b][blk];
    }

    /** Tokens entering each block (attention side), for image {@code b}. */
    public int[] tokensEnteringBlocks(int b) {
        return attnTokens[b].clone();
    }

    public void recordCounts(int blk, TokenState s, boolean mlp) {
        for (int b = 0; b < batch; b++) (mlp ? mlpTokens : attnTokens)[b][blk] = s.count(b);
    }

    /** Records a reducer's decision for image {@code b} at block {@code blk} (e.g. "prune"). */
    public void decide(int b, int blk, String decision) {
        decisions[b][blk] = decision;
    }

    /** The decision recorded for image b at block blk, or null. */
    public String decision(int b, int blk) {
        return decisions[b][blk];
    }

    /** Blocks with a recorded decision for image b, as "block:decision" strings. */
    public List<String> decisions(int b) {
        List<String> l = new ArrayList<>();
        for (int k = 0; k < depth; k++) if (decisions[b][k] != null) l.add(k + ":" + decisions[b][k]);
        return l;
    }

    /** Time spent deciding and applying reductions (probes, matching, merging), in this forward pass. */
    public long reductionNanos() {
        return phaseNanos(Phase.REDUCE);
    }

    /** Adds wall time to a phase. */
    public void addPhaseNanos(Phase p, long n) {
        phaseNanos[p.ordinal()] += n;
    }

    /** Wall time of one phase in this forward pass. */
    public long phaseNanos(Phase p) {
        return phaseNanos[p.ordinal()];
    }

    /** Wall time of the whole forward pass. */
    public long forwardNanos() {
        return forwardNanos;
    }

    public void setForwardNanos(long n) {
        forwardNanos = n;
    }

    /** Called by the model after every block when sources are tracked: keeps a snapshot. */
    public void recordSource(int blk, TokenState s) {
        if (s.source() == null) return;
        if (blockSources == null) blockSources = new int[depth][][];
        blockSources[blk] = Arrays.stream(s.source()).map(int[]::clone).toArray(int[][]::new);
    }

    /** Per image, original token → local token index after block {@code blk} (−1 = pruned); null unless the forward pass was asked to track sources. */
    public int[][] sourceAfter(int blk) {
        return blockSources == null ? null : blockSources[blk];
    }

    /** Called by the model once the last block ran: keeps the final source map. */
    public void finish(TokenState s) {
        int[][] src = s.source();
        finalSource = src == null ? null : Arrays.stream(src).map(int[]::clone).toArray(int[][]::new);
    }

    /** Per image, original token → final local token index (−1 = pruned); null unless the forward pass was asked to track sources. */
    public int[][] finalSource() {
        return finalSource;
    }
}
