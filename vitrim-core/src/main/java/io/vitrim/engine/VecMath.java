package io.vitrim.engine;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vectorised transcendental functions with scalar twins that compute the same formula, so a
 * result never depends on whether an element went through the vector body or the scalar tail.
 *
 * <p>exp: Cody–Waite range reduction and the Cephes {@code expf} polynomial (≈1 ulp).
 * erf: the rational minimax approximation used by Eigen/XLA for float (≈ a few ulp on [-4, 4],
 * ±1 outside). GELU is the exact erf form {@code 0.5·x·(1 + erf(x/√2))}.
 */
public final class VecMath {
    private VecMath() {}

    public static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    public static final int VLEN = F.length();

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float EXP_HI = 88.3762626647949f;
    private static final float EXP_LO = -87.3365478515625f;
    private static final float MAGIC = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    private static final int MAGIC_BITS = Float.floatToRawIntBits(MAGIC);
    private static final float P0 = 1.9875691500E-4f;
    private static final float P1 = 1.3981999507E-3f;
    private static final float P2 = 8.3334519073E-3f;
    private static final float P3 = 4.1665795894E-2f;
    private static final float P4 = 1.6666665459E-1f;
    private static final float P5 = 5.0000001201E-1f;

    private static FloatVector bc(float v) {
        return FloatVector.broadcast(F, v);
    }

    // Constants as vectors once: broadcasting them inside every call was measurable. The vector
    // code below calls only Vector-argument operations, and the rarely used ones (max, min,
    // compare, blend, div, shifts) as lanewise/compare on our own call site: their convenience
    // forms (max(float), lt, ...) reach the abstract lanewise through a JDK helper whose type
    // profile may be empty when C2 compiles the caller, and then C2 leaves a virtual call that
    // boxes every vector (softmax measured 34 → 74 µs per head in 4 of 10 JVMs on JDK 17).
    private static final FloatVector V_LN2_HI = bc(-LN2_HI), V_LN2_LO = bc(-LN2_LO);
    private static final FloatVector V_EXP_LO = bc(EXP_LO), V_EXP_HI = bc(EXP_HI), V_LOG2E = bc(LOG2E), V_MAGIC = bc(MAGIC);
    private static final FloatVector V_P0 = bc(P0), V_P1 = bc(P1), V_ZERO = bc(0f), V_ONE = bc(1f), V_HALF = bc(0.5f);
    private static final IntVector V_EXP_BIAS = IntVector.broadcast(VectorSpecies.of(int.class, F.vectorShape()), MAGIC_BITS - 127);
    private static final IntVector V_23 = IntVector.broadcast(V_EXP_BIAS.species(), 23);

    /** e^x for a vector; exactly 0 below the float range (so -inf logits vanish). */
    public static FloatVector exp(FloatVector x) {
        VectorMask<Float> under = x.compare(VectorOperators.LT, V_EXP_LO);
        FloatVector xc = x.lanewise(VectorOperators.MAX, V_EXP_LO).lanewise(VectorOperators.MIN, V_EXP_HI);
        FloatVector t = xc.fma(V_LOG2E, V_MAGIC);
        FloatVector n = t.sub(V_MAGIC);
        FloatVector r = n.fma(V_LN2_HI, xc);
        r = n.fma(V_LN2_LO, r);
        FloatVector r2 = r.mul(r);
        FloatVector p = r.fma(V_P0, V_P1);
        p = p.fma(r, V_P2);
        p = p.fma(r, V_P3);
        p = p.fma(r, V_P4);
        p = p.fma(r, V_P5);
        p = p.fma(r2, r).add(V_ONE);
        IntVector bits = t.reinterpretAsInts().lanewise(VectorOperators.SUB, V_EXP_BIAS).lanewise(VectorOperators.LSHL, V_23);
        FloatVector scale = bits.reinterpretAsFloats();
        return p.mul(scale).blend(V_ZERO, under);
    }

    /** Scalar twin of {@link #exp(FloatVector)}. */
    public static float exp(float x) {
        if (x < EXP_LO) return 0f;
        float xc = Math.min(x, EXP_HI);
        float t = Math.fma(xc, LOG2E, MAGIC);
        float n = t - MAGIC;
        float r = Math.fma(n, -LN2_HI, xc);
        r = Math.fma(n, -LN2_LO, r);
        float r2 = r * r;
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        p = Math.fma(p, r2, r) + 1f;
        float scale = Float.intBitsToFloat((Float.floatToRawIntBits(t) - (MAGIC_BITS - 127)) << 23);
        return p * scale;
    }

    private static final float A1 = -1.60960333262415e-02f;
    private static final float A3 = -2.95459980854025e-03f;
    private static final float A5 = -7.34990630326855e-04f;
    private static final float A7 = -5.69250639462346e-05f;
    private static final float A9 = -2.10102402082508e-06f;
    private static final float A11 = 2.77068142495902e-08f;
    private static final float A13 = -2.72614225801306e-10f;
    private static final float B0 = -1.42647390514189e-02f;
    private static final float B2 = -7.37332916720468e-03f;
    private static final float B4 = -1.68282697438203e-03f;
    private static final float B6 = -2.13374055278905e-04f;
    private static final float B8 = -1.45660718464996e-05f;
    private static final FloatVector V_A1 = bc(A1), V_A3 = bc(A3), V_A5 = bc(A5), V_A7 = bc(A7), V_A9 = bc(A9), V_B0 = bc(B0), V_B2 = bc(B2), V_B4 = bc(B4), V_P2 = bc(P2), V_P3 = bc(P3), V_P4 = bc(P4), V_P5 = bc(P5);
    private static final FloatVector V_A11 = bc(A11), V_A13 = bc(A13), V_B6 = bc(B6), V_B8 = bc(B8), V_M4 = bc(-4f), V_4 = bc(4f);

    /** erf(x) for a vector. */
    public static FloatVector erf(FloatVector a) {
        FloatVector x = a.lanewise(VectorOperators.MAX, V_M4).lanewise(VectorOperators.MIN, V_4);
        FloatVector x2 = x.mul(x);
        FloatVector p = x2.fma(V_A13, V_A11);
        p = p.fma(x2, V_A9);
        p = p.fma(x2, V_A7);
        p = p.fma(x2, V_A5);
        p = p.fma(x2, V_A3);
        p = p.fma(x2, V_A1);
        p = p.mul(x);
        FloatVector q = x2.fma(V_B8, V_B6);
        q = q.fma(x2, V_B4);
        q = q.fma(x2, V_B2);
        q = q.fma(x2, V_B0);
        return p.lanewise(VectorOperators.DIV, q);
    }

    /** Scalar twin of {@link #erf(FloatVector)}. */
    public static float erf(float a) {
        float x = Math.min(Math.max(a, -4f), 4f);
        float x2 = x * x;
        float p = Math.fma(x2, A13, A11);
        p = Math.fma(p, x2, A9);
        p = Math.fma(p, x2, A7);
        p = Math.fma(p, x2, A5);
        p = Math.fma(p, x2, A3);
        p = Math.fma(p, x2, A1);
        p = p * x;
        float q = Math.fma(x2, B8, B6);
        q = Math.fma(q, x2, B4);
        q = Math.fma(q, x2, B2);
        q = Math.fma(q, x2, B0);
        return p / q;
    }

    private static final float INV_SQRT2 = 0.70710678118654752f;
    private static final FloatVector V_INV_SQRT2 = bc(INV_SQRT2);

    /** Exact-erf GELU of a vector. */
    public static FloatVector gelu(FloatVector x) {
        return x.mul(V_HALF).mul(erf(x.mul(V_INV_SQRT2)).add(V_ONE));
    }

    /** Scalar twin of {@link #gelu(FloatVector)}. */
    public static float gelu(float x) {
        return (x * 0.5f) * (erf(x * INV_SQRT2) + 1f);
    }

    private static final float INV_SQRT_2PI = 0.3989422804014327f;
    private static final FloatVector V_INV_SQRT_2PI = bc(INV_SQRT_2PI), V_MINUS_HALF = bc(-0.5f);

    /** d GELU / dx = Φ(x) + x·φ(x), with the same erf and exp. */
    public static float geluGrad(float x) {
        float cdf = 0.5f * (1f + erf(x * INV_SQRT2));
        float pdf = exp(-0.5f * x * x) * INV_SQRT_2PI;
        return cdf + x * pdf;
    }

    /** {@code dy[i] *= GELU'(x[i])} over {@code [off, off+n)} (the GELU backward). */
    public static void geluBackwardInPlace(float[] dy, float[] x, int off, int n) {
        int i = 0;
        for (int end = F.loopBound(n); i < end; i += VLEN) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            FloatVector cdf = erf(v.mul(V_INV_SQRT2)).add(V_ONE).mul(V_HALF);
            FloatVector pdf = exp(v.mul(v).mul(V_MINUS_HALF)).mul(V_INV_SQRT_2PI);
            FloatVector g = v.fma(pdf, cdf);
            FloatVector.fromArray(F, dy, off + i).mul(g).intoArray(dy, off + i);
        }
        for (; i < n; i++) dy[off + i] *= geluGrad(x[off + i]);
    }

    /** Applies GELU in place to {@code a[off, off+n)}. */
    public static void geluInPlace(float[] a, int off, int n) {
        int i = 0;
        for (int end = F.loopBound(n); i < end; i += VLEN) {
            gelu(FloatVector.fromArray(F, a, off + i)).intoArray(a, off + i);
        }
        for (; i < n; i++) a[off + i] = gelu(a[off + i]);
    }

    private static final FloatVector V_MINUS_QUICK = bc(-1.702f);

    /** CLIP's QuickGELU {@code x·σ(1.702·x) = x / (1 + e^(−1.702·x))} for a vector. */
    public static FloatVector quickGelu(FloatVector x) {
        return x.lanewise(VectorOperators.DIV, exp(x.mul(V_MINUS_QUICK)).add(V_ONE));
    }

    /** Scalar twin of {@link #quickGelu(FloatVector)}. */
    public static float quickGelu(float x) {
        return x / (exp(x * -1.702f) + 1f);
    }

    public static void quickGeluInPlace(float[] a, int off, int n) {
        int i = 0;
        for (int end = F.loopBound(n); i < end; i += VLEN) {
            quickGelu(FloatVector.fromArray(F, a, off + i)).intoArray(a, off + i);
        }
        for (; i < n; i++) a[off + i] = quickGelu(a[off + i]);
    }

    /** SiLU {@code g·σ(g) = g / (1 + e^(−g))} of a vector. */
    public static FloatVector silu(FloatVector g) {
        return g.lanewise(VectorOperators.DIV, exp(V_ZERO.sub(g)).add(V_ONE)); // 0 − g: sub is a profiled call site, neg() a helper
    }

    /** Scalar twin of {@link #silu(FloatVector)}. */
    public static float silu(float g) {
        return g / (exp(-g) + 1f);
    }

    /**
     * SwiGLU of one row: {@code out[j] = SiLU(in[j]) · in[h + j]} for {@code j < h}, where
     * {@code in} holds the gate and then the value half (timm's packed {@code fc1}, or
     * {@code fc1_g} and {@code fc1_x} side by side).
     */
    public static void swiglu(float[] in, int inOff, float[] out, int outOff, int h) {
        int j = 0;
        for (int end = F.loopBound(h); j < end; j += VLEN) {
            FloatVector g = FloatVector.fromArray(F, in, inOff + j), v = FloatVector.fromArray(F, in, inOff + h + j);
            silu(g).mul(v).intoArray(out, outOff + j);
        }
        for (; j < h; j++) out[outOff + j] = silu(in[inOff + j]) * in[inOff + h + j];
    }
}
