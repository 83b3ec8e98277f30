#!/usr/bin/env python3
"""Markdown tables of scripts/camvid-results.sh's output (docs/segmentation.md): per target
speed-up the val-chosen point of every method with its test mIoU (and Token Cropr's fine-tuned
models, when camvid-cropr.sh has run), the per-class IoU of the dense model and the ~2x points,
and every swept point's measured speed-up (timed against `none` beside it in one process)
against its MAC ratio. Standard library only.

    python3 scripts/python/seg_table.py docs/results/camvid
"""
import csv
import glob
import json
import os
import sys

d = sys.argv[1]
dense = json.load(open(d + "/test-dense.json"))["results"][0]
test = {}
for restore in ("llf", "output"):
    if not os.path.exists("%s/test-%s.json" % (d, restore)):
        continue
    for r in json.load(open("%s/test-%s.json" % (d, restore)))["results"]:
        test[(restore, r["spec"])] = r
picks = [l.split() for l in open(d + "/picks.txt") if l.strip()]

print("| dense model on | mIoU | pixel acc |")
print("|---|---|---|")
print("| test (%d images) | %.1f | %.1f |" % (dense["images"], 100 * dense["miou"], 100 * dense["pixel_acc"]))
for f in sorted(glob.glob(d + "/test-dense-*.json")):
    r = json.load(open(f))["results"][0]
    print("| test, sequence %s (%d images) | %.1f | %.1f |" % (f[:-5].split("test-dense-")[1], r["images"], 100 * r["miou"], 100 * r["pixel_acc"]))
print()

print("| target | method | point (chosen on val) | restore | val mIoU | measured speed-up (val) | MAC ratio (val) | **test mIoU** | Δ vs dense | pixel acc |")
print("|---|---|---|---|---|---|---|---|---|---|")
for t, restore, m, spec, vm, sp, mr in picks:
    r = test.get(("llf" if restore == "-" else restore, spec))
    if r is None:
        sys.exit("no test result for the pick %s (%s): rerun scripts/camvid-results.sh" % (spec, restore))
    print("| ≥ %s× | %s | `%s` | %s | %.1f | %.2f× | %.2f | **%.1f** | %+.1f | %.1f |" % (
        t.rstrip("0").rstrip("."), m, spec, "either" if restore == "-" else restore, 100 * float(vm), float(sp), float(mr),
        100 * r["miou"], 100 * (r["miou"] - dense["miou"]), 100 * r["pixel_acc"]))
for f in sorted(glob.glob(d + "/test-cropr-r*.json"), key=lambda f: -int(f.split("-r")[-1][:-5])):
    rate = f.split("-r")[-1][:-5]
    res = {r["spec"]: r for r in json.load(open(f))["results"]}
    val = {r["method"]: r for r in csv.DictReader(open("%s/val-cropr-r%s/results.csv" % (d, rate)))}
    r, own = next(v for k, v in res.items() if k.startswith("cropr")), res["none"]
    print("| (fine-tuned) | cropr | `cropr` rate %s, LLF | llf | %.1f | %.2f× | %.2f | **%.1f** | %+.1f (own dense %.1f) | %.1f |" % (
        rate, 100 * float(val["cropr"]["miou"]), float(val["cropr"]["speedup"]), r["mac_ratio"], 100 * r["miou"],
        100 * (r["miou"] - dense["miou"]), 100 * own["miou"], 100 * r["pixel_acc"]))
print()
names = list(dense["per_class_iou"].keys())
cols = [("dense", dense)]
for t, restore, m, spec, vm, sp, mr in picks:
    if t.startswith("2") and restore in ("llf", "-") and ("llf", spec) in test:
        cols.append(("%s (%.2f×)" % (spec, float(sp)), test[("llf", spec)]))
print("| class | " + " | ".join(c[0] for c in cols) + " |")
print("|---" * (len(cols) + 1) + "|")
for n in names:
    cells = []
    for _, r in cols:
        v = r["per_class_iou"].get(n)
        cells.append("—" if v is None else "%.1f" % (100 * v))
    print("| %s | %s |" % (n, " | ".join(cells)))
print("| **mIoU** | " + " | ".join("**%.1f**" % (100 * r["miou"]) for _, r in cols) + " |")
print()
print("| method | point | MAC ratio | measured speed-up | speed-up / MAC ratio |")
print("|---|---|---|---|---|")
for restore in ("llf", "output"):
    rows = list(csv.DictReader(open("%s/val-%s/results.csv" % (d, restore))))
    for r in sorted(rows, key=lambda r: (r["method"] != "none", r["method"], float(r["mac_ratio"]))):
        if restore == "output" and r["method"] == "none":
            continue
        print("| %s%s | `%s` | %.2f | %.2f× | %.2f |" % (
            r["method"], "" if restore == "llf" else " (output)", r["spec"], float(r["mac_ratio"]),
            float(r["speedup"]), float(r["speedup"]) / float(r["mac_ratio"])))
