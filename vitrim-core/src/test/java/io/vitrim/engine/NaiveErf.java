package io.vitrim.engine;

/** Public access to the double-precision erf of the kernel tests' references. */
public final class NaiveErf {
    private NaiveErf() {}

    public static double erf(double x) {
        return Naive.erf(x);
    }
}
