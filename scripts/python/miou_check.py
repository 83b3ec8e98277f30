#!/usr/bin/env python3
"""Independent mIoU of saved masks: `vitrim segment --ids` writes <id>.ids.png (class per pixel);
this script compares them with a segmentation set's labels/<id>.png using numpy and PIL only,
for checking `vitrim eval` on a segmentation model (docs/segmentation.md).

    vitrim segment --model M --ids --out /tmp/masks IMAGES...
    python3 scripts/python/miou_check.py /tmp/masks ../shared/data/camvid/test.zip --classes 11 --ignore 11
"""
import argparse
import io
import json
import os
import zipfile

import numpy as np
from PIL import Image

ap = argparse.ArgumentParser()
ap.add_argument("masks")
ap.add_argument("data", help="zip or folder with labels/<id>.png")
ap.add_argument("--classes", type=int, required=True)
ap.add_argument("--ignore", type=int, default=255)
a = ap.parse_args()

ids = sorted(f[:-len(".ids.png")] for f in os.listdir(a.masks) if f.endswith(".ids.png"))
zf = zipfile.ZipFile(a.data) if a.data.endswith(".zip") else None


def label(i):
    if zf:
        return np.asarray(Image.open(io.BytesIO(zf.read("labels/%s.png" % i))))
    return np.asarray(Image.open(os.path.join(a.data, "labels", i + ".png")))


k = a.classes
conf = np.zeros((k, k), dtype=np.int64)
for i in ids:
    pred = np.asarray(Image.open(os.path.join(a.masks, i + ".ids.png"))).astype(np.int64)
    lab = label(i).astype(np.int64)
    assert pred.shape == lab.shape, (i, pred.shape, lab.shape)
    keep = lab != a.ignore
    conf += np.bincount(lab[keep] * k + pred[keep], minlength=k * k).reshape(k, k)
tp = np.diag(conf).astype(np.float64)
union = conf.sum(0) + conf.sum(1) - np.diag(conf)
with np.errstate(invalid="ignore", divide="ignore"):
    iou = np.where(union > 0, tp / union, np.nan)
print(json.dumps({"images": len(ids), "miou": float(np.nanmean(iou)), "pixel_acc": float(tp.sum() / conf.sum()),
                  "per_class_iou": [None if np.isnan(v) else float(v) for v in iou]}))
