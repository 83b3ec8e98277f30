#!/usr/bin/env python3
"""Exports one ViT with seeded random weights twice — as timm-layout model.safetensors for vitrim
and as model.onnx for ONNX Runtime — so both engines are measured on the same weights.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/python/export_onnx.py --arch deit_small_patch16_224 --out bench-out
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import vit_ref  # noqa: E402

ARCHS = {
    "deit_tiny_patch16_224": dict(dim=192, heads=3),
    "deit_small_patch16_224": dict(dim=384, heads=6),
    "deit_base_patch16_224": dict(dim=768, heads=12),
}


class Wrapped(torch.nn.Module):
    def __init__(self, sd, cfg):
        super().__init__()
        self.cfg = cfg
        self.names = list(sd.keys())
        for i, (k, v) in enumerate(sd.items()):
            self.register_buffer(f"p{i}", v)

    def forward(self, pixels):
        sd = {k: getattr(self, f"p{i}") for i, k in enumerate(self.names)}
        return vit_ref.forward(pixels, sd, self.cfg)[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="deit_small_patch16_224", choices=sorted(ARCHS))
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    spec = ARCHS[a.arch]
    cfg = vit_ref.Cfg(img=224, patch=16, dim=spec["dim"], depth=12, heads=spec["heads"], classes=1000)
    g = torch.Generator().manual_seed(a.seed)
    sd = {}
    for name, shape in cfg.keys().items():
        if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
            t = torch.ones(shape)
        elif name.endswith(".bias"):
            t = torch.zeros(shape)
        else:
            t = torch.randn(shape, generator=g) * 0.02
        sd[name] = t.float()
    os.makedirs(a.out, exist_ok=True)
    safetensors_io.save(os.path.join(a.out, "model.safetensors"), sd)
    model = Wrapped(sd, cfg).eval()
    x = torch.randn(2, 3, 224, 224, generator=g)
    with torch.no_grad():
        torch.onnx.export(model, (x,), os.path.join(a.out, "model.onnx"), input_names=["pixel_values"],
                          output_names=["logits"], dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=17, do_constant_folding=True)
        ref = model(x)
    safetensors_io.save(os.path.join(a.out, "check.safetensors"), {"pixel_values": x, "logits": ref})
    print("wrote", a.out, "(model.safetensors, model.onnx, check.safetensors)")


if __name__ == "__main__":
    main()
