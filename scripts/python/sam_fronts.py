#!/usr/bin/env python3
"""Issue 23: the accuracy drop of each method from each model's own dense accuracy, AdamW and SAM
fine-tunes side by side, at matched MACs (docs/training.md, "The experiment").

    python3 scripts/python/sam_fronts.py ADAMW_DIR SAM_DIR OUT_DIR

ADAMW_DIR and SAM_DIR are `vitrim pareto --out` folders (results.json). Writes OUT_DIR/drops.md
(a table per method: spec, MAC ratio on each model, top-1 and drop on each, SAM's drop minus
AdamW's) and OUT_DIR/drops.svg (drop against MAC ratio, one panel per method, both models).
Specs with a fixed token schedule (ToMe, LGTM, DFE only, random) have the same MACs on both
models and pair spec by spec; PPT decides per image, so a PPT point pairs with the other model's
PPT point nearest in MAC ratio. Standard library only.
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svgplot  # noqa: E402

METHODS = [("tome", "ToMe"), ("lgtm", "LGTM"), ("dfe", "DFE only"), ("ppt", "PPT"), ("random", "random")]
COLORS = {"adamw": "#1f77b4", "sam": "#d62728"}


def family(p):
    """The issue's method of a point: DFE only is LGTM whose local phase ends where it starts."""
    s = p["spec"]
    if s.startswith("lgtm") and "dense=1" in s and "switch=1" in s:
        return "dfe"
    return p["method"]


def load(d):
    pts = json.load(open(os.path.join(d, "results.json")))["points"]
    dense = [p for p in pts if p["spec"] == "none"]
    if not dense:
        sys.exit("%s: no dense (none) point" % d)
    return dense[0]["top1"], [p for p in pts if p["spec"] != "none"]


def pairs(fam, a_pts, s_pts):
    """(AdamW point, SAM point) of one method: same spec, or (PPT) nearest MAC ratio."""
    a = [p for p in a_pts if family(p) == fam]
    s = [p for p in s_pts if family(p) == fam]
    if fam == "ppt":
        return [(p, min(s, key=lambda q: abs(q["mac_ratio"] - p["mac_ratio"]))) for p in a] if s else []
    by_spec = {q["spec"]: q for q in s}
    return [(p, by_spec[p["spec"]]) for p in a if p["spec"] in by_spec]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    adamw_dir, sam_dir, out = sys.argv[1:]
    a_dense, a_pts = load(adamw_dir)
    s_dense, s_pts = load(sam_dir)
    os.makedirs(out, exist_ok=True)
    lines = ["Dense top-1: AdamW %.2f %%, SAM %.2f %%. Drop = the model's own dense top-1 minus the point's, in points;"
             " Δ = SAM's drop − AdamW's (negative: SAM loses less)." % (100 * a_dense, 100 * s_dense), ""]
    table = {}
    for fam, name in METHODS:
        rows = sorted(pairs(fam, a_pts, s_pts), key=lambda t: t[0]["mac_ratio"])
        if not rows:
            continue
        table[fam] = rows
        lines += ["### " + name, "", "| spec | MAC ratio AdamW / SAM | top-1 AdamW | drop | top-1 SAM | drop | Δ |", "|---|---|---|---|---|---|---|"]
        deltas = []
        for a, s in rows:
            da, ds = 100 * (a_dense - a["top1"]), 100 * (s_dense - s["top1"])
            deltas.append(ds - da)
            spec = a["spec"] if a["spec"] == s["spec"] else "%s / %s" % (a["spec"], s["spec"])
            lines.append("| `%s` | %.2f / %.2f | %.2f | %.2f | %.2f | %.2f | %+.2f |" % (
                spec, a["mac_ratio"], s["mac_ratio"], 100 * a["top1"], da, 100 * s["top1"], ds, ds - da))
        lines += ["", "mean Δ %+.2f points over %d points" % (sum(deltas) / len(deltas), len(deltas)), ""]
    with open(os.path.join(out, "drops.md"), "w") as f:
        f.write("\n".join(lines) + "\n")

    # drops.svg: a panel per method, x = MAC ratio, y = drop in points, AdamW and SAM
    W, H, M = 260, 240, 45
    fams = list(table)
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">'
           % (W * len(fams), H + 30), '<rect width="100%" height="100%" fill="white"/>']
    for i, fam in enumerate(fams):
        rows = table[fam]
        pts = [(a["mac_ratio"], 100 * (a_dense - a["top1"]), "adamw", a["spec"]) for a, _ in rows]
        pts += [(s["mac_ratio"], 100 * (s_dense - s["top1"]), "sam", s["spec"]) for _, s in rows]
        xmax = max(1.5, max(p[0] for p in pts) * 1.05)
        ylo, yhi = min(0.0, min(p[1] for p in pts)), max(1.0, max(p[1] for p in pts))
        yhi = math.ceil(yhi)
        ox = i * W

        def X(v):
            return ox + M + (v - 1) / (xmax - 1) * (W - M - 10)

        def Y(v):
            return 20 + (yhi - v) / (yhi - ylo) * (H - 60)

        step = max(1, int(math.ceil((yhi - ylo) / 6)))
        ticks = [(Y(v), "%g" % v) for v in range(int(math.floor(ylo)), int(yhi) + 1, step)]
        svgplot.frame(svg, ox, dict(METHODS)[fam], W, H, M, 10, X, xmax, ticks, "MAC ratio",
                      "drop from own dense (points)" if i == 0 else None)
        for opt in ("adamw", "sam"):
            line = sorted((p for p in pts if p[2] == opt), key=lambda p: p[0])
            svg.append('<polyline fill="none" stroke="%s" points="%s"/>' % (COLORS[opt], " ".join("%.1f,%.1f" % (X(x), Y(y)) for x, y, _, _ in line)))
            for x, y, _, s in line:
                svg.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s %s</title></circle>' % (X(x), Y(y), COLORS[opt], opt, s))
    svg.append('<g transform="translate(%d,%d)"><circle cx="0" cy="0" r="4" fill="%s"/><text x="8" y="4">AdamW fine-tune</text>'
               '<circle cx="130" cy="0" r="4" fill="%s"/><text x="138" y="4">SAM fine-tune (rho 0.05)</text></g>'
               % (M, H + 12, COLORS["adamw"], COLORS["sam"]))
    svg.append("</svg>")
    with open(os.path.join(out, "drops.svg"), "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
