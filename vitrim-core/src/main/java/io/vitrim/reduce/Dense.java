package io.vitrim.reduce;

import java.util.Set;

/**
 * Any reducer made fit for dense outputs (segmentation): every token it would drop is parked
 * instead — set aside with its representation at that moment — and restored, either before the
 * last block (last-layer fusion, {@link Restore#LLF}) or after it ({@link Restore#OUTPUT}).
 * Merged tokens need nothing here: the model tracks the source map, and each patch reads the
 * final token it went into (ToMe's unmerge). docs/methods.md, "Dense outputs".
 */
public final class Dense implements TokenReducer {
    /** When parked tokens come back. */
    public enum Restore { LLF, OUTPUT }

    private final TokenReducer inner;
    private final Restore restore;
    private final int depth;

    private Dense(TokenReducer inner, Restore restore, int depth) {
        this.inner = inner;
        this.restore = restore;
        this.depth = depth;
    }

    /** {@code inner} with drops turned into parks, for a model of {@code depth} blocks. */
    public static TokenReducer of(TokenReducer inner, Restore restore, int depth) {
        if (inner instanceof Dense d) inner = d.inner;
        return new Dense(inner, restore, depth);
    }

    public TokenReducer inner() {
        return inner;
    }

    public Restore restore() {
        return restore;
    }

    @Override
    public String spec() {
        return inner.spec();
    }

    @Override
    public Set<Probe> probes(int block) {
        return inner.probes(block);
    }

    @Override
    public boolean proportionalAttention() {
        return inner.proportionalAttention();
    }

    @Override
    public boolean needsSource() {
        return true;
    }

    @Override
    public boolean sizeWeightedPool() {
        return inner.sizeWeightedPool();
    }

    @Override
    public boolean poolIncludesPrefix() {
        return inner.poolIncludesPrefix();
    }

    @Override
    public Plan inBlock(int block, TokenState tokens, BlockProbes probes, Trace trace) {
        return parkDrops(inner.inBlock(block, tokens, probes, trace));
    }

    @Override
    public Plan afterBlock(int block, TokenState tokens, Trace trace) {
        return parkDrops(inner.afterBlock(block, tokens, trace));
    }

    @Override
    public boolean restoreBefore(int block) {
        return inner.restoreBefore(block) || (restore == Restore.LLF && block == depth - 1);
    }

    @Override
    public boolean restoreAtOutput() {
        return true;
    }

    private static Plan parkDrops(Plan p) {
        if (p == null) return null;
        for (int t = 0; t < p.assign.length; t++) if (p.assign[t] == -1) p.assign[t] = Plan.PARK;
        return p;
    }
}
