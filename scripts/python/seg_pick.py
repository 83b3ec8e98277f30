#!/usr/bin/env python3
"""Picks, per method and restore mode, the point of a `vitrim pareto` sweep on a segmentation
model's *validation* set with the best mIoU at a measured speed-up of at least ~1.5x and ~2x
(0.97 x the target: the machine's run-to-run noise), so the test set is evaluated only at
points chosen without it (docs/segmentation.md). Standard library only.

    python3 scripts/python/seg_pick.py llf=DIR output=DIR [--targets 1.5,2]

prints one line per pick: target restore method spec val_miou speedup mac_ratio
"""
import csv
import sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
targets = [1.5, 2.0]
if "--targets" in sys.argv:
    targets = [float(t) for t in sys.argv[sys.argv.index("--targets") + 1].split(",")]
    args = [a for a in args if a != sys.argv[sys.argv.index("--targets") + 1]]
seen = set()
for arg in args:
    restore, folder = arg.split("=", 1)
    rows = list(csv.DictReader(open(folder + "/results.csv")))
    for t in targets:
        best = {}
        for r in rows:
            if r["method"] == "none" or float(r["speedup"]) < 0.97 * t:
                continue
            m = r["method"]
            if m not in best or float(r["miou"]) > float(best[m]["miou"]):
                best[m] = r
        for m, r in sorted(best.items()):
            # merging methods never park a token: their points are the same in both modes
            merge_only = m in ("tome", "lgtm") or (m == "ltmp" and "prune=off" in r["spec"])
            key = (t, m) if merge_only else (t, restore, m, r["spec"])
            if key in seen:
                continue
            seen.add(key)
            print(t, "-" if merge_only else restore, m, r["spec"], r["miou"], r["speedup"], r["mac_ratio"])
