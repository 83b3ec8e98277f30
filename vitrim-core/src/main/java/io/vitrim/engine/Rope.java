package io.vitrim.engine;

/**
 * Rotary position embedding as timm's {@code RotaryEmbeddingCat} with EVA02's settings
 * ({@code in_pixels=False}, grid offset 0, {@code 'ij'} indexing, interleaved pairs). For a head
 * width {@code D} there are {@code D/4} frequencies {@code f_k = 1 / T^(k / (D/4))}; a token at grid
 * row {@code y}, column {@code x} has coordinates {@code t_y = y / H · refH}, {@code t_x = x / W · refW}
 * (the indices themselves without a {@code ref_feat_shape}), and pair {@code p} of every head's q
 * and k, {@code (v[2p], v[2p+1])}, turns by {@code t_y·f_p} for {@code p < D/4} and by
 * {@code t_x·f_{p−D/4}} after:
 * <pre>  v'[2p] = v[2p]·cos − v[2p+1]·sin,   v'[2p+1] = v[2p+1]·cos + v[2p]·sin</pre>
 * Positions need not be whole: a merged token's is the mean of its patches' (its angles are then
 * computed on the spot; grid positions read a table made once). Coordinates, angles and
 * frequencies are rounded to float at the same steps as timm's float32 tensors.
 */
public final class Rope {
    private final int headDim, bands, gridH, gridW, refH, refW;
    private final float[] freq;                   // [bands]
    private final float[] cosY, sinY, cosX, sinX; // [gridH · bands], [gridW · bands]

    /**
     * @param refH {@code ref_feat_shape} rows (0 = none: coordinates are the indices)
     */
    public Rope(int headDim, int gridH, int gridW, int refH, int refW, float temperature) {
        if (headDim % 4 != 0) throw new IllegalArgumentException("head width " + headDim + " is not divisible by 4");
        this.headDim = headDim;
        this.bands = headDim / 4;
        this.gridH = gridH;
        this.gridW = gridW;
        this.refH = refH;
        this.refW = refW;
        freq = new float[bands];
        for (int k = 0; k < bands; k++) {
            float e = (float) k / bands;
            freq[k] = 1f / (float) Math.pow(temperature, e);
        }
        cosY = new float[gridH * bands];
        sinY = new float[gridH * bands];
        cosX = new float[gridW * bands];
        sinX = new float[gridW * bands];
        for (int i = 0; i < gridH; i++) angles(coord(i, gridH, refH), cosY, sinY, i * bands);
        for (int j = 0; j < gridW; j++) angles(coord(j, gridW, refW), cosX, sinX, j * bands);
    }

    /** RoPE's coordinate of grid position {@code p} on an axis of {@code n} cells: {@code p / n · ref} in float, as timm. */
    static float coord(float p, int n, int ref) {
        return ref > 0 ? p / n * ref : p;
    }

    private void angles(float t, float[] cos, float[] sin, int off) {
        for (int k = 0; k < bands; k++) {
            float a = t * freq[k];
            cos[off + k] = (float) Math.cos(a);
            sin[off + k] = (float) Math.sin(a);
        }
    }

    /**
     * Rotates q and k (columns {@code [0, 2C)} of {@code qkv [rows, 3C]}) of every row whose
     * position {@code pos[2r], pos[2r+1]} is not NaN, in place; rows without one (prefix tokens)
     * are left as they are.
     */
    public void apply(Parallel par, float[] qkv, int rows, int c, int heads, float[] pos) {
        if (c != heads * headDim) throw new IllegalArgumentException("width " + c + " is not " + heads + " heads of " + headDim);
        par.forRange(rows, 32, (r0, r1) -> {
            float[] cy = new float[bands], sy = new float[bands], cx = new float[bands], sx = new float[bands];
            for (int r = r0; r < r1; r++) {
                float y = pos[2 * r], x = pos[2 * r + 1];
                if (Float.isNaN(y)) continue;
                float[] cY = cosY, sY = sinY, cX = cosX, sX = sinX;
                int oy = gridIndex(y, gridH), ox = gridIndex(x, gridW);
                if (oy < 0) {
                    angles(coord(y, gridH, refH), cy, sy, 0);
                    cY = cy;
                    sY = sy;
                    oy = 0;
                } else {
                    oy *= bands;
                }
                if (ox < 0) {
                    angles(coord(x, gridW, refW), cx, sx, 0);
                    cX = cx;
                    sX = sx;
                    ox = 0;
                } else {
                    ox *= bands;
                }
                int row = r * 3 * c;
                for (int part = 0; part < 2; part++) { // q, then k
                    for (int h = 0; h < heads; h++) {
                        int o = row + part * c + h * headDim;
                        rotate(qkv, o, cY, sY, oy);
                        rotate(qkv, o + 2 * bands, cX, sX, ox);
                    }
                }
            }
        });
    }

    /** Turns the {@code bands} pairs at {@code v[o …]} by the angles whose cos/sin start at {@code t}. */
    private void rotate(float[] v, int o, float[] cos, float[] sin, int t) {
        for (int k = 0; k < bands; k++) {
            float a = v[o + 2 * k], b = v[o + 2 * k + 1], cs = cos[t + k], sn = sin[t + k];
            v[o + 2 * k] = a * cs + -b * sn;
            v[o + 2 * k + 1] = b * cs + a * sn;
        }
    }

    /** The table row of a whole grid position, or −1 for a fractional one (a merged token). */
    private static int gridIndex(float p, int n) {
        int i = (int) p;
        return i == p && i >= 0 && i < n ? i : -1;
    }
}
