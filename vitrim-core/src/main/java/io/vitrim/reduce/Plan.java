package io.vitrim.reduce;

import java.util.Arrays;

/**
 * What a reducer decided for one block: for every current token row {@code t}, the local index
 * of the token it becomes in its image ({@code assign[t]}), or −1 to drop it. Rows sent to the
 * same index are merged by a size-weighted average (ToMe's {@code merge_wavg}, destination
 * included); a lone row is copied unchanged. A row may instead be parked ({@link #park}): set
 * aside as it is, to be restored later. Applied to tokens, sizes and sources alike.
 */
public final class Plan {
    final int[] assign;
    final int[] newCounts;
    private boolean merges;
    private float[] weights;
    private boolean resetSizes;

    private Plan(int[] assign, int[] newCounts) {
        this.assign = assign;
        this.newCounts = newCounts;
    }

    /** A plan for {@code state}, initially dropping every token. */
    public static Plan forState(TokenState state) {
        int[] a = new int[state.total()];
        Arrays.fill(a, -1);
        return new Plan(a, new int[state.batch()]);
    }

    /** {@link #assign} value of a parked row. */
    public static final int PARK = -2;

    /** Parks row {@code t} (global row index): it leaves the sequence with its representation kept. */
    public void park(int t) {
        assign[t] = PARK;
    }

    /** Sends row {@code t} (global row index) to local index {@code to} of its image. */
    public void send(int t, int to) {
        assign[t] = to;
    }

    /** Declares that image {@code b} keeps {@code n} tokens after the plan. */
    public void count(int b, int n) {
        newCounts[b] = n;
    }

    /** Marks that some rows share a destination (sizes become tracked). */
    public void markMerges() {
        merges = true;
    }

    public boolean merges() {
        return merges;
    }

    /**
     * Optional averaging weights per row ([T]): merged rows are averaged with
     * {@code weight · size} instead of {@code size} (sizes are still summed).
     */
    public void weights(float[] w) {
        this.weights = w;
    }

    public float[] weights() {
        return weights;
    }

    /** Treat every incoming token as size 1 (sizes restart at ones, as PPT without prop_attn). */
    public void resetSizes() {
        resetSizes = true;
    }

    public boolean resetsSizes() {
        return resetSizes;
    }

    public int assign(int t) {
        return assign[t];
    }

    public int newCount(int b) {
        return newCounts[b];
    }

    /** Keeps image {@code b}'s rows unchanged (identity for that image). */
    public void keepAll(TokenState s, int b) {
        int o = s.offset(b), n = s.count(b);
        for (int i = 0; i < n; i++) assign[o + i] = i;
        newCounts[b] = n;
    }
}
