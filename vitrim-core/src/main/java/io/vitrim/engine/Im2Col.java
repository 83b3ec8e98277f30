package io.vitrim.engine;

/**
 * Patch extraction for the patch-embedding convolution (kernel = stride = P): image pixels
 * {@code [B, 3, H, W]} → rows {@code [B·G², 3·P·P]} in (channel, ky, kx) order, matching a conv
 * weight {@code [C, 3, P, P]} flattened, patches in row-major grid order.
 */
public final class Im2Col {
    private Im2Col() {}

    public static void patches(Parallel par, float[] pixels, int batch, int h, int w, int p, float[] cols) {
        final int gw = w / p, np = (h / p) * gw, kd = 3 * p * p;
        par.forRange(batch * np, 64, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int b = r / np, q = r % np, gy = q / gw, gx = q % gw;
                int dst = r * kd;
                for (int ch = 0; ch < 3; ch++) {
                    for (int ky = 0; ky < p; ky++) {
                        System.arraycopy(pixels, ((b * 3 + ch) * h + gy * p + ky) * w + gx * p, cols, dst, p);
                        dst += p;
                    }
                }
            }
        });
    }
}
