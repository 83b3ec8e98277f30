package io.vitrim.reduce;

/**
 * The tokens flowing between blocks for a packed batch: image {@code b} owns rows
 * {@code [offset(b), offset(b+1))} of {@code x [T, C]}, so images may hold different numbers
 * of tokens. Per token: {@code size} (original patches it stands for; null = all ones) and, when
 * tracked, a per-image {@code source} map from original token index to current local index
 * (−1 once pruned). The first {@link #prefix()} tokens of each image (class, distillation) are
 * protected. A model with rotary position embedding (EVA02) also gives every token a position
 * ({@link #pos()}: patch-grid row and column; NaN for prefix tokens, which are not rotated) that
 * travels with it: plans average it with the weights they average the token with.
 *
 * <p>Reducers read it; only the model changes it, by applying a {@link Plan}.
 */
public final class TokenState {
    private final int batch;
    private final int dim;
    private final int prefix;
    private final int originalTokens;
    private final int gridW;
    private final io.vitrim.engine.Parallel parallel;
    float[] x;
    int[] offsets;
    float[] size;
    int[][] source;
    float[] pos;
    // park slots: rows [slot, C], sizes, positions, owning image; slots [restored, parked) wait for a restore
    float[] parkX = new float[0], parkSize = new float[0], parkPos = new float[0];
    int[] parkImage = new int[0];
    int parked, restored;

    public TokenState(int batch, int dim, int prefix, int originalTokens, int gridW, float[] x, int[] offsets,
                      boolean trackSource, io.vitrim.engine.Parallel parallel) {
        this(batch, dim, prefix, originalTokens, gridW, x, offsets, trackSource, null, parallel);
    }

    /** @param pos [T, 2] each token's (row, column) on the patch grid, NaN for prefix tokens; null without RoPE */
    public TokenState(int batch, int dim, int prefix, int originalTokens, int gridW, float[] x, int[] offsets,
                      boolean trackSource, float[] pos, io.vitrim.engine.Parallel parallel) {
        if (pos != null && pos.length < 2 * offsets[batch]) throw new IllegalArgumentException("pos needs 2 values per token");
        this.pos = pos;
        this.parallel = parallel;
        this.batch = batch;
        this.dim = dim;
        this.prefix = prefix;
        this.originalTokens = originalTokens;
        this.gridW = gridW;
        this.x = x;
        this.offsets = offsets;
        if (trackSource) {
            source = new int[batch][originalTokens];
            for (int b = 0; b < batch; b++) for (int t = 0; t < originalTokens; t++) source[b][t] = t;
        }
    }

    /** The model's thread pool, for reducers that work per image in parallel. */
    public io.vitrim.engine.Parallel parallel() {
        return parallel;
    }

    public int batch() {
        return batch;
    }

    /** Embedding width C. */
    public int dim() {
        return dim;
    }

    /** Protected tokens at the front of every image (class, distillation). */
    public int prefix() {
        return prefix;
    }

    /** Tokens per image before any reduction (prefix + patches). */
    public int originalTokens() {
        return originalTokens;
    }

    /** Width of the patch grid (original patch {@code p} sits at row {@code p / gridW}). */
    public int gridW() {
        return gridW;
    }

    public int offset(int b) {
        return offsets[b];
    }

    public int count(int b) {
        return offsets[b + 1] - offsets[b];
    }

    /** Total rows T over the batch. */
    public int total() {
        return offsets[batch];
    }

    /** [T, C] token rows (read only). */
    public float[] x() {
        return x;
    }

    /** [B+1] row offsets (read only). */
    public int[] offsets() {
        return offsets;
    }

    /** [T] sizes, or null while every token still stands for one patch. */
    public float[] size() {
        return size;
    }

    /** Size of row {@code t}. */
    public float size(int t) {
        return size == null ? 1f : size[t];
    }

    /**
     * [T, 2] each token's position (grid row, grid column; a merged token's is the weighted mean of
     * its members', NaN for prefix tokens), or null when the model has no rotary position embedding.
     */
    public float[] pos() {
        return pos;
    }

    /** Per image: original token → current local index (−1 = pruned); null if not tracked. */
    public int[][] source() {
        return source;
    }

    public boolean tracksSource() {
        return source != null;
    }

    /** Tokens parked and not yet restored, over the batch. */
    public int waiting() {
        return parked - restored;
    }

    /** Appends a parked row; returns its slot. */
    int park(int image, float[] from, int row, float sz) {
        if (parked == parkImage.length) {
            int cap = Math.max(16, 2 * parked);
            parkX = java.util.Arrays.copyOf(parkX, cap * dim);
            parkSize = java.util.Arrays.copyOf(parkSize, cap);
            parkImage = java.util.Arrays.copyOf(parkImage, cap);
            if (pos != null) parkPos = java.util.Arrays.copyOf(parkPos, 2 * cap);
        }
        if (pos != null) {
            parkPos[2 * parked] = pos[2 * row];
            parkPos[2 * parked + 1] = pos[2 * row + 1];
        }
        System.arraycopy(from, row * dim, parkX, parked * dim, dim);
        parkSize[parked] = sz;
        parkImage[parked] = image;
        return parked++;
    }
}
