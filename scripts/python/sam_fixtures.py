#!/usr/bin/env python3
"""Golden fixtures for vitrim's sharpness-aware training step (SAM, ASAM), made with Debian's PyTorch.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/python/sam_fixtures.py

A tiny ViT (vit_ref's forward, hashinit's weights and pixels, so the Java test regenerates them)
first takes one plain AdamW step on given gradients, all in [0.03, 0.07], so that AdamW's moments
are not zero and its next update is a smooth function of the gradient (a first Adam step is ±lr
per coordinate, whose sign on near-zero gradients — the key bias — is rounding noise, and a second
one still divides by √v, which is tiny where both gradients are). Then one SAM step on a batch:

    g  = ∇L(w)                          autograd
    e  = ρ·T²g / (‖T g‖ + 1e-12)        T = 1 (SAM); ASAM: |w| + η on parameters named *weight
                                        (Kwon et al.'s code), 1 elsewhere; with skip_1d, e = 0 on
                                        1-D parameters, which also leave the norm
    g2 = ∇L(w + e)                      autograd, same batch
    w restored; clip_grad_norm_(g2, clip); torch.optim.AdamW.step()

Written: vitrim-core/src/test/resources/fixtures/train/sam_cases.json and, per case,
train/sam_<name>.safetensors holding e.<key>, g2.<key> (before clipping) and w.<key> (after
the update).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hashinit  # noqa: E402
import safetensors_io  # noqa: E402
import vit_ref  # noqa: E402
from make_fixtures import RES, hash_pixels, hash_state_dict, write_json  # noqa: E402

torch.set_num_threads(2)

CFG = vit_ref.Cfg(img=16, patch=4, dim=16, depth=2, heads=2, mlp=32, classes=5)
SEED, QK_GAIN, BATCH, SMOOTHING, LABELS = 654, 2.0, 3, 0.1, [1, 4, 0]
LR, WD, CLIP, G0_CENTER, G0_SCALE, G0_SEED = 1e-2, 0.05, 0.5, 0.05, 0.02, 11
# (name, rho, adaptive, eta, skip_1d)
CASES = [
    ("sam", 0.05, False, 0.01, False),
    ("asam", 0.5, True, 0.01, False),
    ("sam_skip1d", 0.05, False, 0.01, True),
]


def decays(key, p):
    return p.ndim > 1 and key not in ("pos_embed", "cls_token", "dist_token")


def ascent(params, rho, adaptive, eta, skip_1d):
    """SAM's / ASAM's e for the current gradients, and the norm it divides by."""
    def t_of(key, p):
        return p.detach().abs() + eta if adaptive and key.endswith("weight") else None

    norms = []
    for key, p in params.items():
        if skip_1d and p.ndim == 1:
            continue
        t = t_of(key, p)
        norms.append((p.grad * t if t is not None else p.grad).norm(p=2))
    norm = torch.norm(torch.stack(norms), p=2)
    scale = rho / (norm + 1e-12)
    e = {}
    for key, p in params.items():
        if skip_1d and p.ndim == 1:
            e[key] = torch.zeros_like(p)
            continue
        t = t_of(key, p)
        e[key] = (t * t * p.grad if t is not None else p.grad) * scale
    return e, float(norm)


def run_case(name, rho, adaptive, eta, skip_1d):
    sd = hash_state_dict(CFG, SEED, QK_GAIN)
    params = {k: v.clone().requires_grad_(True) for k, v in sd.items()}
    opt = torch.optim.AdamW([{"params": [v for k, v in params.items() if decays(k, v)], "weight_decay": WD},
                             {"params": [v for k, v in params.items() if not decays(k, v)], "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.999), eps=1e-8)
    # step 1: AdamW on given gradients (moments become non-zero)
    for k, p in params.items():
        p.grad = torch.from_numpy(hashinit.uniform(G0_SEED, "g0." + k, tuple(p.shape), G0_SCALE, G0_CENTER))
    opt.step()
    opt.zero_grad(set_to_none=False)
    px = hash_pixels(CFG, BATCH, SEED + 1)
    labels = torch.tensor(LABELS)

    def loss_of():
        logits, _ = vit_ref.forward(px, params, CFG)
        return torch.nn.functional.cross_entropy(logits, labels, label_smoothing=SMOOTHING)

    # step 2: SAM
    loss1 = loss_of()
    loss1.backward()
    e, tg_norm = ascent(params, rho, adaptive, eta, skip_1d)
    w = {k: p.detach().clone() for k, p in params.items()}
    with torch.no_grad():
        for k, p in params.items():
            p.add_(e[k])
    opt.zero_grad(set_to_none=False)
    loss2 = loss_of()
    loss2.backward()
    g2 = {k: p.grad.detach().clone() for k, p in params.items()}
    with torch.no_grad():
        for k, p in params.items():
            p.copy_(w[k])
    clip_norm = float(torch.nn.utils.clip_grad_norm_(list(params.values()), CLIP))
    opt.step()
    tensors = {}
    for k, p in params.items():
        tensors["e." + k] = e[k].detach()
        tensors["g2." + k] = g2[k]
        tensors["w." + k] = p.detach()
    out = os.path.join(RES, "train", "sam_%s.safetensors" % name)
    safetensors_io.save(out, tensors)
    print("wrote", os.path.relpath(out), os.path.getsize(out), "bytes")
    return {"name": name, "rho": rho, "adaptive": adaptive, "eta": eta, "skip_1d": skip_1d,
            "loss": float(loss1), "loss_perturbed": float(loss2), "ascent_norm": tg_norm, "grad_norm": clip_norm,
            "tensors": "sam_%s.safetensors" % name}


def main():
    cases = [run_case(*c) for c in CASES]
    write_json(os.path.join(RES, "train", "sam_cases.json"), {
        "config": CFG.to_json(), "seed": SEED, "qk_gain": QK_GAIN, "batch": BATCH, "label_smoothing": SMOOTHING,
        "pixel_seed": SEED + 1, "labels": LABELS, "lr": LR, "weight_decay": WD, "clip": CLIP,
        "g0_seed": G0_SEED, "g0_center": G0_CENTER, "g0_scale": G0_SCALE, "cases": cases})


if __name__ == "__main__":
    main()
