package io.vitrim.reduce;

import java.util.Arrays;
import java.util.List;

/**
 * Tokens to remove per block, as ToMe's {@code parse_r(num_layers, r)} (docs/methods.md, ToMe):
 * a constant {@code r}; {@code (r, inflect)} with {@code min = int(r·(1−inflect))},
 * {@code max = 2r − min}, {@code r_l = int(min + (max−min)/(L−1)·l)} (truncation toward zero);
 * or an explicit list, right-padded with zeros. The per-block clamp to what the sequence allows
 * is applied by each method.
 */
public final class RSchedule {
    private final int[] perBlock;
    private final String text;

    private RSchedule(int[] perBlock, String text) {
        this.perBlock = perBlock;
        this.text = text;
    }

    /** Knobs shared by the methods that remove r tokens per block. */
    static final List<Method.Knob> KNOBS = List.of(
            new Method.Knob("r", "(required)", "tokens removed per block (before the per-block cap)"),
            new Method.Knob("schedule", "constant", "constant | decreasing (2r→0) | increasing (0→2r) | an explicit list r0/r1/..."),
            new Method.Knob("inflect", "0", "ToMe's (r, inflect) schedule, inflect in [-1, 1]; decreasing = -1"));

    /** Reads r, schedule and inflect from {@code s} for a model of {@code depth} blocks. */
    static RSchedule parse(Spec s, int depth) {
        String sched = s.string("schedule", "constant");
        boolean hasR = s.has("r");
        if (!hasR && !sched.contains("/") && !sched.matches("\\d+")) {
            throw s.error(s.method() + " needs r=N (tokens per block) or an explicit schedule=r0/r1/...");
        }
        int r = s.integer("r", 0);
        double inflect = s.number("inflect", 0);
        if (r < 0) throw s.error("r must be >= 0, got " + r);
        if (sched.contains("/") || sched.matches("\\d+")) {
            if (hasR || s.has("inflect")) throw s.error("give either r (with schedule=constant|decreasing|increasing) or an explicit schedule list, not both");
            String[] parts = sched.split("/", -1);
            if (parts.length > depth) {
                throw s.error("schedule has " + parts.length + " entries but the model has " + depth + " blocks");
            }
            int[] list = new int[depth];
            for (int i = 0; i < parts.length; i++) {
                try {
                    list[i] = Integer.parseInt(parts[i].trim());
                } catch (NumberFormatException e) {
                    throw s.error("schedule entries must be integers separated by '/', got \"" + parts[i] + "\"");
                }
                if (list[i] < 0) throw s.error("schedule entries must be >= 0, got " + list[i]);
            }
            return new RSchedule(list, sched);
        }
        switch (sched) {
            case "constant": break;
            case "decreasing": inflect = -1; break;
            case "increasing": inflect = 1; break;
            default: throw s.error("schedule must be constant, decreasing, increasing or a list like 8/8/4/0, got \"" + sched + "\"");
        }
        if (inflect < -1 || inflect > 1) throw s.error("inflect must be in [-1, 1], got " + inflect);
        return new RSchedule(parseR(depth, r, inflect), sched);
    }

    /** ToMe's parse_r for {@code (r, inflect)}. */
    public static int[] parseR(int depth, int r, double inflect) {
        int minVal = (int) (r * (1.0 - inflect));
        int maxVal = 2 * r - minVal;
        double step = depth > 1 ? (double) (maxVal - minVal) / (depth - 1) : 0;
        int[] out = new int[depth];
        for (int i = 0; i < depth; i++) out[i] = (int) (minVal + step * i);
        return out;
    }

    public int at(int block) {
        return block < perBlock.length ? perBlock[block] : 0;
    }

    public int[] values() {
        return perBlock.clone();
    }

    /** Canonical spec fragment, e.g. {@code r=13} or {@code schedule=8/8/0}. */
    String describe(int r) {
        return text;
    }

    @Override
    public String toString() {
        return Arrays.toString(perBlock);
    }
}
