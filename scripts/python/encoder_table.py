#!/usr/bin/env python3
"""Tables and a plot of scripts/encoders-results.sh's output (docs/encoders.md): per encoder the
measured speed-up of every method at batch 32 and 1 on the first photos, beside the MAC ratio of
that batch (`vitrim bench --images --json`),
and how far each method moves the pooled embedding from the dense one on the ImageNet sample
photos (`vitrim embed --compare --json`); drift.svg plots 1 - mean cosine similarity against the
MAC ratio, one panel per encoder. Standard library only.

    python3 scripts/python/encoder_table.py docs/results/encoders > docs/results/encoders/tables.md
"""
import glob
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svgplot  # noqa: E402

d = sys.argv[1]
archs = []
for f in sorted(glob.glob(d + "/drift-*.json")):
    archs.append(os.path.basename(f)[len("drift-"):-len(".json")])


def bench(arch, b):
    f = "%s/bench-%s-b%d.json" % (d, arch, b)
    return {r["spec"]: r for r in json.load(open(f))["results"]} if os.path.exists(f) else {}


print("Machine: " + " · ".join(l.strip().replace("\t", "") for l in open(d + "/machine.txt") if l.strip()))
print()
for a in archs:
    drift = json.load(open("%s/drift-%s.json" % (d, a)))
    b32, b1 = bench(a, 32), bench(a, 1)
    dense = b32.get("none", {})
    print("### %s (%s GMACs dense, %d photos)" % (a, "%.2f" % drift["gmacs"], drift["images"]))
    print()
    if dense:
        print("Dense: %.1f img/s at batch 32, %.1f at batch 1." % (dense["images_per_s"], b1["none"]["images_per_s"]))
        print()
    print("| method | MAC ratio (all photos) | batch 32: speed-up (MAC ratio) | ÷ MAC ratio | batch 1: speed-up (MAC ratio) | cos mean | cos p05 | cos min |")
    print("|---|---|---|---|---|---|---|---|")

    def cell(x):
        return "%.2f× (%.2f)" % (x["speedup"], x["mac_ratio"]) if x else "—"

    for r in drift["compare"]:
        s = r["reduce"]
        x, y = b32.get(s), b1.get(s)
        print("| `%s` | %.2f | %s | %s | %s | %.4f | %.4f | %.4f |" % (
            s, r["mac_ratio"], cell(x), "%.2f" % (x["speedup"] / x["mac_ratio"]) if x else "—", cell(y),
            r["cosine_mean"], r["cosine_p05"], r["cosine_min"]))
    print()

# drift.svg: one panel per encoder, x = MAC ratio, y = 1 - mean cosine (log scale), a colour per method
# size-weighted pooling (pool=wavg) in the lighter shade of its method's colour
COLORS = {"tome": "#1f77b4", "tome wavg": "#17becf", "random": "#d62728", "lgtm": "#2ca02c", "lgtm wavg": "#98df8a",
          "ltmp": "#9467bd", "ltmp wavg": "#c5b0d5", "ppt": "#ff7f0e", "ppt wavg": "#ffbb78", "topk": "#8c564b"}
W, H, M = 300, 260, 50
svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">'
       % (W * len(archs), H + 40), '<rect width="100%" height="100%" fill="white"/>']
for i, a in enumerate(archs):
    rows = json.load(open("%s/drift-%s.json" % (d, a)))["compare"]
    pts = [(r["mac_ratio"], max(1e-6, 1 - r["cosine_mean"]), r["reduce"]) for r in rows]
    xmax = max(2.0, max(p[0] for p in pts) * 1.05)
    ylo = math.floor(math.log10(min(p[1] for p in pts)))
    yhi = math.ceil(math.log10(max(p[1] for p in pts)))
    yhi = max(yhi, ylo + 1)
    ox = i * W

    def X(v):
        return ox + M + (v - 1) / (xmax - 1) * (W - M - 15)

    def Y(v):
        return 20 + (yhi - math.log10(v)) / (yhi - ylo) * (H - 60)

    svgplot.frame(svg, ox, a, W, H, M, 15, X, xmax, [(Y(10 ** e), "1e%d" % e) for e in range(ylo, yhi + 1)],
                  "MAC ratio (dense / reduced)", "1 − cos(dense, reduced), mean" if i == 0 else None)
    for x, y, s in pts:
        m = s.split(":")[0] + (" wavg" if "pool=wavg" in s else "")
        svg.append('<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s</title></circle>' % (X(x), Y(y), COLORS.get(m, "black"), s))
legend = ['<g transform="translate(%d,%d)">' % (M, H + 18)]
for k, (m, c) in enumerate(COLORS.items()):
    legend.append('<circle cx="%d" cy="0" r="4" fill="%s"/><text x="%d" y="4">%s</text>' % (k * 100, c, k * 100 + 8, m))
legend.append('</g>')
svg += legend + ['</svg>']
with open(d + "/drift.svg", "w") as f:
    f.write("\n".join(svg) + "\n")
