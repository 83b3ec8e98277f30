package io.vitrim.train;

/**
 * Settings of sharpness-aware minimisation around AdamW ({@link Sam}; docs/training.md,
 * "Sharpness-aware minimisation"). Part of a run's {@link TrainConfig}, so a checkpoint
 * resumes with them.
 *
 * @param rho      ascent radius ρ (0: the ascent vanishes and the step is plain AdamW's)
 * @param adaptive ASAM: the ascent is scaled element-wise by {@code T = |w| + eta} on weights
 * @param eta      ASAM's η, keeping the scale of weights near 0 from vanishing
 * @param skip1d   no ascent on one-dimensional parameters (LayerNorm scales and shifts, biases)
 */
public record SamConfig(double rho, boolean adaptive, double eta, boolean skip1d) {
    /** Foret et al.'s ρ for SAM. */
    public static final double RHO = 0.05;
    /** Kwon et al.'s ρ for ASAM (its radius is measured after scaling by 1/T, so it is larger). */
    public static final double ASAM_RHO = 0.5;
    /** Kwon et al.'s η. */
    public static final double ETA = 0.01;

    public SamConfig {
        if (!(rho >= 0) || Double.isInfinite(rho)) throw new IllegalArgumentException("--rho must be a number >= 0, got " + rho);
        if (!(eta >= 0) || Double.isInfinite(eta)) throw new IllegalArgumentException("--asam-eta must be a number >= 0, got " + eta);
    }

    /** Plain SAM with radius {@code rho}, every trained parameter perturbed. */
    public static SamConfig sam(double rho) {
        return new SamConfig(rho, false, ETA, false);
    }

    /** ASAM with radius {@code rho} and Kwon et al.'s η. */
    public static SamConfig asam(double rho) {
        return new SamConfig(rho, true, ETA, false);
    }

    /** A short description for logs: {@code SAM rho=0.05} or {@code ASAM rho=0.5 eta=0.01}, plus {@code no ascent on 1-D}. */
    public String describe() {
        String s = adaptive ? "ASAM rho=" + rho + " eta=" + eta : "SAM rho=" + rho;
        return skip1d ? s + ", no ascent on norms and biases" : s;
    }
}
