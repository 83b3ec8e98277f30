#!/usr/bin/env python3
"""Golden fixtures for vitrim's tests, made with Debian's PyTorch.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/python/make_fixtures.py [core|loader|all]

Weights and pixels come from hashinit (regenerated bit-for-bit by the Java tests), so the JSON
fixtures hold only configurations and expected outputs. The loader fixtures are real
safetensors files (small) in timm and Hugging Face layouts.
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hashinit  # noqa: E402
import safetensors_io  # noqa: E402
import tome_ref  # noqa: E402
import vit_ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RES = os.path.join(ROOT, "vitrim-core", "src", "test", "resources", "fixtures")

torch.set_num_threads(2)


def hash_state_dict(cfg, seed, qk_gain=1.0):
    sd = {}
    for name, shape in cfg.keys().items():
        c, a = hashinit.scale_for(name, shape, qk_gain)
        sd[name] = torch.from_numpy(hashinit.uniform(seed, name, shape, a, c))
    return sd


def hash_pixels(cfg, batch, seed):
    return torch.from_numpy(hashinit.uniform(seed, "pixels", (batch, 3, cfg.img[0], cfg.img[1]), 2.0))


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.relpath(path, ROOT), os.path.getsize(path), "bytes")


def f32list(t):
    return [float(v) for v in t.detach().float().reshape(-1).tolist()]


CORE_CASES = {
    "tiny_token": dict(cfg=vit_ref.Cfg(img=32, patch=4, dim=64, depth=6, heads=4, classes=10), batch=3, qk_gain=2.0),
    "tiny_distilled": dict(cfg=vit_ref.Cfg(img=32, patch=4, dim=64, depth=6, heads=4, classes=10, dist=True), batch=2, qk_gain=2.0),
    "tiny_avg": dict(cfg=vit_ref.Cfg(img=32, patch=4, dim=64, depth=6, heads=4, classes=10, pool="avg"), batch=2, qk_gain=2.0),
    "tiny_avg_nocls": dict(cfg=vit_ref.Cfg(img=32, patch=4, dim=64, depth=4, heads=4, classes=10, pool="avg", cls=False), batch=2, qk_gain=2.0),
    "tiny_avg_norm": dict(cfg=vit_ref.Cfg(img=32, patch=4, dim=64, depth=3, heads=4, classes=10, pool="avg", fc_norm=False), batch=2, qk_gain=2.0),
    "odd_nonsquare": dict(cfg=vit_ref.Cfg(img=(40, 56), patch=8, dim=48, depth=3, heads=3, classes=7, qkv_bias=False, mlp=100), batch=3, qk_gain=1.5),
    # timm's patch conv ignores the rows and columns past the last whole patch (grid = ⌊size / patch⌋)
    "not_multiple": dict(cfg=vit_ref.Cfg(img=(38, 45), patch=8, dim=48, depth=2, heads=3, classes=7), batch=2, qk_gain=1.5),
    "deit_s_sized": dict(cfg=vit_ref.Cfg(img=224, patch=16, dim=384, depth=12, heads=6, classes=1000), batch=2, qk_gain=1.0),
}


def core(only=None):
    for name, case in CORE_CASES.items():
        if only and name not in only:
            continue
        cfg, batch = case["cfg"], case["batch"]
        seed = 1000 + sum(map(ord, name))
        sd = hash_state_dict(cfg, seed, case["qk_gain"])
        px = hash_pixels(cfg, batch, seed + 1)
        with torch.no_grad():
            logits, trace = vit_ref.forward(px, sd, cfg)
        write_json(os.path.join(RES, "core", name + ".json"), {
            "name": name, "config": cfg.to_json(), "seed": seed, "qk_gain": case["qk_gain"],
            "batch": batch, "pixel_seed": seed + 1, "logits": f32list(logits),
            "logit_scale": float(logits.abs().max()),
        })


def to_hf(sd, cfg):
    """timm keys -> Hugging Face transformers ViTForImageClassification keys."""
    d = cfg.dim
    hf = {
        "vit.embeddings.cls_token": sd["cls_token"],
        "vit.embeddings.position_embeddings": sd["pos_embed"],
        "vit.embeddings.patch_embeddings.projection.weight": sd["patch_embed.proj.weight"],
        "vit.embeddings.patch_embeddings.projection.bias": sd["patch_embed.proj.bias"],
        "vit.layernorm.weight": sd["norm.weight"],
        "vit.layernorm.bias": sd["norm.bias"],
        "classifier.weight": sd["head.weight"],
        "classifier.bias": sd["head.bias"],
    }
    for i in range(cfg.depth):
        t, h = f"blocks.{i}.", f"vit.encoder.layer.{i}."
        qkv_w, qkv_b = sd[t + "attn.qkv.weight"], sd[t + "attn.qkv.bias"]
        for j, part in enumerate(("query", "key", "value")):
            hf[h + f"attention.attention.{part}.weight"] = qkv_w[j * d:(j + 1) * d]
            hf[h + f"attention.attention.{part}.bias"] = qkv_b[j * d:(j + 1) * d]
        hf[h + "attention.output.dense.weight"] = sd[t + "attn.proj.weight"]
        hf[h + "attention.output.dense.bias"] = sd[t + "attn.proj.bias"]
        hf[h + "intermediate.dense.weight"] = sd[t + "mlp.fc1.weight"]
        hf[h + "intermediate.dense.bias"] = sd[t + "mlp.fc1.bias"]
        hf[h + "output.dense.weight"] = sd[t + "mlp.fc2.weight"]
        hf[h + "output.dense.bias"] = sd[t + "mlp.fc2.bias"]
        hf[h + "layernorm_before.weight"] = sd[t + "norm1.weight"]
        hf[h + "layernorm_before.bias"] = sd[t + "norm1.bias"]
        hf[h + "layernorm_after.weight"] = sd[t + "norm2.weight"]
        hf[h + "layernorm_after.bias"] = sd[t + "norm2.bias"]
    return hf


def loader():
    """A small model as files: timm folder (F32), bare F16/BF16 safetensors, Hugging Face folder."""
    cfg = vit_ref.Cfg(img=32, patch=8, dim=32, depth=2, heads=2, classes=5)
    seed = 77
    sd = hash_state_dict(cfg, seed, 2.0)
    out = os.path.join(RES, "loader")
    os.makedirs(out, exist_ok=True)
    labels = ["ant", "bee", "cat", "dog", "eel"]
    px = hash_pixels(cfg, 2, seed + 1)
    expected = {}
    for dtype in ("F32", "F16", "BF16"):
        # the expected logits use the weights as rounded to this dtype
        if dtype == "F32":
            sdq = sd
        elif dtype == "F16":
            sdq = {k: v.half().float() for k, v in sd.items()}
        else:
            sdq = {k: v.bfloat16().float() for k, v in sd.items()}
        with torch.no_grad():
            logits, _ = vit_ref.forward(px, sdq, cfg)
        expected[dtype] = f32list(logits)
    timm_dir = os.path.join(out, "timm_model")
    os.makedirs(timm_dir, exist_ok=True)
    safetensors_io.save(os.path.join(timm_dir, "model.safetensors"), sd)
    with open(os.path.join(timm_dir, "config.json"), "w") as f:
        json.dump({
            "architecture": "vit_tiny_patch16_224", "num_classes": 5, "num_features": 32, "global_pool": "token",
            "model_args": {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 2, "num_heads": 2},
            "pretrained_cfg": {"input_size": [3, 32, 32], "interpolation": "bicubic", "crop_pct": 0.9,
                               "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "num_classes": 5},
            "label_names": labels,
        }, f, indent=2)
    safetensors_io.save(os.path.join(out, "bare_f16.safetensors"), sd, dtype="F16")
    safetensors_io.save(os.path.join(out, "bare_bf16.safetensors"), sd, dtype="BF16")
    hf_dir = os.path.join(out, "hf_model")
    os.makedirs(hf_dir, exist_ok=True)
    safetensors_io.save(os.path.join(hf_dir, "model.safetensors"), to_hf(sd, cfg))
    with open(os.path.join(hf_dir, "config.json"), "w") as f:
        json.dump({
            "architectures": ["ViTForImageClassification"], "model_type": "vit", "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128, "hidden_act": "gelu",
            "image_size": 32, "patch_size": 8, "num_channels": 3, "qkv_bias": True, "layer_norm_eps": 1e-6,
            "id2label": {str(i): l for i, l in enumerate(labels)}, "label2id": {l: i for i, l in enumerate(labels)},
        }, f, indent=2)
    with open(os.path.join(hf_dir, "preprocessor_config.json"), "w") as f:
        json.dump({"do_resize": True, "size": {"height": 32, "width": 32}, "resample": 2, "do_rescale": True,
                   "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
                   "image_std": [0.5, 0.5, 0.5], "image_processor_type": "ViTImageProcessor"}, f, indent=2)
    write_json(os.path.join(out, "expected.json"), {
        "config": cfg.to_json(), "seed": seed, "pixel_seed": seed + 1, "batch": 2, "labels": labels,
        "logits": expected})


# ToMe cases: (name, core case, spec for Java, r for parse_r, prop_attn, pool_wavg)
TOME_CASES = [
    ("token_r4", "tiny_token", "tome:r=4", 4, True, False),
    ("token_decreasing", "tiny_token", "tome:r=6,schedule=decreasing", (6, -1.0), True, False),
    ("token_list_noprop", "tiny_token", "tome:schedule=10/0/7/3,prop_attn=false", [10, 0, 7, 3], False, False),
    ("distilled_r5", "tiny_distilled", "tome:r=5", 5, True, False),
    ("avg_wavg", "tiny_avg", "tome:r=5,pool=wavg", 5, True, True),
    ("avg_mean", "tiny_avg", "tome:r=5", 5, True, False),
    ("nocls_r6", "tiny_avg_nocls", "tome:r=6", 6, True, False),
    ("odd_capped", "odd_nonsquare", "tome:r=20", 20, True, False),
    ("deit_s_r13", "deit_s_sized", "tome:r=13", 13, True, False),
]


def tome():
    import tome_ref
    out = []
    for name, base, spec, r, prop, wavg in TOME_CASES:
        case = CORE_CASES[base]
        cfg, batch = case["cfg"], case["batch"]
        # pick the first seed whose merge decisions are clear of near-ties (float32 reorderings
        # between engines cannot flip them)
        for attempt in range(50):
            seed = 5000 + attempt * 17 + sum(map(ord, name))
            sd = hash_state_dict(cfg, seed, case["qk_gain"])
            px = hash_pixels(cfg, batch, seed + 1)
            red = tome_ref.ToMe(cfg, r, prop, wavg)
            with torch.no_grad():
                logits, trace = vit_ref.forward(px, sd, cfg, red)
            margin = min(red.margins) if red.margins else float("inf")
            if margin > 2e-4:
                break
        else:
            raise RuntimeError("no seed without near-ties for " + name)
        src = trace["state"]["source"]
        n0 = cfg.tokens
        sources = [[int(src[b, :, p].argmax()) for p in range(n0)] for b in range(batch)]
        out.append({"name": name, "base": base, "spec": spec, "config": cfg.to_json(), "seed": seed,
                    "qk_gain": case["qk_gain"], "batch": batch, "pixel_seed": seed + 1,
                    "logits": f32list(logits), "logit_scale": float(logits.abs().max()),
                    "tokens": trace["tokens"][0], "final_tokens": int(src.shape[1]),
                    "sources": sources, "min_margin": margin})
    write_json(os.path.join(RES, "tome", "cases.json"), {"cases": out})


# PPT / LGTM cases: (name, core case, batch, kind, params). PPT thresholds are chosen per case so
# that images of one batch take different decisions in the same block.
ADAPTIVE_CASES = [
    ("ppt_tiny_mixed", "tiny_token", 4, "ppt", dict(r=10, layers=(1, 3, 4), prop_attn=True)),
    ("ppt_tiny_noprop", "tiny_token", 4, "ppt", dict(r=8, layers=(0, 2, 5), prop_attn=False)),
    ("ppt_distilled", "tiny_distilled", 3, "ppt", dict(r=9, layers=(1, 3), prop_attn=True)),
    ("ppt_deit_s_default", "deit_s_sized", 3, "ppt", dict(r=50, layers=(3, 6, 9), prop_attn=True)),
    ("lgtm_tiny", "tiny_token", 2, "lgtm", dict(r=6, dense=1, switch=4, windows=(2, 2))),
    ("lgtm_tiny_4x2", "tiny_token", 2, "lgtm", dict(r=9, dense=2, switch=5, windows=(4, 2))),
    ("lgtm_odd_dfe_only", "odd_nonsquare", 2, "lgtm", dict(r=5, dense=1, switch=1, windows=(5, 7))),
    ("lgtm_deit_s", "deit_s_sized", 2, "lgtm", dict(r=13, dense=2, switch=7, windows=(2, 2))),
]


def java_spec(kind, p, threshold=None):
    if kind == "ppt":
        return "ppt:r=%d,layers=%s,threshold=%r,prop_attn=%s" % (p["r"], "/".join(map(str, p["layers"])), threshold,
                                                             str(p["prop_attn"]).lower())
    return "lgtm:r=%d,dense=%d,switch=%d,windows=%dx%d" % (p["r"], p["dense"], p["switch"], p["windows"][0], p["windows"][1])


def adaptive():
    import adaptive_ref
    out = []
    for name, base, batch, kind, p in ADAPTIVE_CASES:
        case = CORE_CASES[base]
        cfg = case["cfg"]
        for attempt in range(80):
            seed = 9000 + attempt * 31 + sum(map(ord, name))
            sd = hash_state_dict(cfg, seed, case["qk_gain"])
            px = hash_pixels(cfg, batch, seed + 1)
            threshold = None
            if kind == "ppt":
                # dry run: variances at the first PP layer decide a threshold that splits the batch
                probe = adaptive_ref.PPT(cfg, threshold=0.0, **p)
                with torch.no_grad():
                    vit_ref.forward(px, sd, cfg, probe)
                v = sorted(probe.variances[min(p["layers"])])
                threshold = float("%.6g" % math.sqrt(v[len(v) // 2 - 1] * v[len(v) // 2]))
                red = adaptive_ref.PPT(cfg, threshold=threshold, **p)
            else:
                red = adaptive_ref.Lgtm(cfg, **p)
            with torch.no_grad():
                logits, trace = vit_ref.forward(px, sd, cfg, red)
            margin = min(red.margins) if red.margins else math.inf
            ok = margin > (5e-5 if kind == "lgtm" else 1e-8)
            if kind == "ppt":
                mixed = any(len(set(d)) > 1 for d in red.decisions.values())
                ok = ok and mixed and min(red.decision_margins) > 1e-3
            if ok:
                break
        else:
            raise RuntimeError("no clean seed for " + name)
        src = trace["state"]["source"]
        sources = [[int(src[b, :, q].argmax()) if float(src[b, :, q].max()) > 0 else -1 for q in range(cfg.tokens)]
                   for b in range(batch)]
        rec = {"name": name, "base": base, "spec": java_spec(kind, p, threshold), "config": cfg.to_json(), "seed": seed,
               "qk_gain": case["qk_gain"], "batch": batch, "pixel_seed": seed + 1, "logits": f32list(logits),
               "logit_scale": float(logits.abs().max()), "tokens": trace["tokens"][0], "final_tokens": int(src.shape[1]),
               "sources": sources, "min_margin": margin}
        if kind == "ppt":
            rec["decisions"] = [[f"{blk}:{red.decisions[blk][b]}" for blk in sorted(red.decisions)] for b in range(batch)]
        out.append(rec)
        print(name, rec["spec"], rec["tokens"], rec.get("decisions", ""))
    write_json(os.path.join(RES, "adaptive", "cases.json"), {"cases": out})


def train():
    """One training step of a tiny model (loss, every gradient), then two AdamW steps with
    gradient clipping, as torch computes them."""
    cfg = vit_ref.Cfg(img=16, patch=4, dim=32, depth=2, heads=2, classes=5)
    seed, batch, eps_ls = 321, 3, 0.1
    sd = hash_state_dict(cfg, seed, 2.0)
    params = {k: v.clone().requires_grad_(True) for k, v in sd.items()}
    px1 = hash_pixels(cfg, batch, seed + 1)
    px2 = hash_pixels(cfg, batch, seed + 2)
    labels1, labels2 = [1, 4, 0], [3, 3, 2]

    def loss_of(px, labels):
        logits, _ = vit_ref.forward(px, params, cfg)
        return torch.nn.functional.cross_entropy(logits, torch.tensor(labels), label_smoothing=eps_ls)

    loss1 = loss_of(px1, labels1)
    loss1.backward()
    grads = {k: v.grad.detach().clone() for k, v in params.items()}
    decay = [v for k, v in params.items() if v.ndim > 1 and k not in ("pos_embed", "cls_token", "dist_token")]
    no_decay = [v for k, v in params.items() if not (v.ndim > 1 and k not in ("pos_embed", "cls_token", "dist_token"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=2e-3, betas=(0.9, 0.999), eps=1e-8)
    norm1 = float(torch.nn.utils.clip_grad_norm_(list(params.values()), 0.5))
    opt.step()
    opt.zero_grad()
    loss2 = loss_of(px2, labels2)
    loss2.backward()
    norm2 = float(torch.nn.utils.clip_grad_norm_(list(params.values()), 0.5))
    for g in opt.param_groups:
        g["lr"] = 1e-3
    opt.step()
    out = os.path.join(RES, "train")
    os.makedirs(out, exist_ok=True)
    # AdamW alone, on given gradients: a weight (decayed) and a bias (not), two steps
    w = torch.from_numpy(hashinit.uniform(7, "w", (7, 5), 0.5)).requires_grad_(True)
    b = torch.from_numpy(hashinit.uniform(7, "b", (5,), 0.5)).requires_grad_(True)
    adam = torch.optim.AdamW([{"params": [w], "weight_decay": 0.05}, {"params": [b], "weight_decay": 0.0}],
                             lr=2e-3, betas=(0.9, 0.999), eps=1e-8)
    for step, lr in enumerate((2e-3, 1e-3)):
        for g in adam.param_groups:
            g["lr"] = lr
        w.grad = torch.from_numpy(hashinit.uniform(8 + step, "gw", (7, 5), 1e-3))
        b.grad = torch.from_numpy(hashinit.uniform(8 + step, "gb", (5,), 1.0))
        adam.step()
    safetensors_io.save(os.path.join(out, "adamw.safetensors"), {"w": w.detach(), "b": b.detach()})
    safetensors_io.save(os.path.join(out, "grads.safetensors"), grads)
    # (not the weights after the two steps: Adam turns the rounding noise of ~0 gradients into full
    # steps of either sign, see TrainStepGoldenTest; the steps' losses and clipped norms are compared)
    write_json(os.path.join(out, "step.json"), {
        "config": cfg.to_json(), "seed": seed, "qk_gain": 2.0, "batch": batch, "label_smoothing": eps_ls,
        "pixel_seeds": [seed + 1, seed + 2], "labels": [labels1, labels2], "loss": [float(loss1), float(loss2)],
        "grad_norm": [norm1, norm2], "clip": 0.5, "lr": [2e-3, 1e-3], "weight_decay": 0.05})


# LTMP inference cases: (name, core case, merge, prune) with thresholds as one value or per block.
# Thresholds are chosen so that images of one batch end with different token counts.
LTMP_CASES = [
    ("merge_prune", "tiny_token", 0.55, 0.012),
    ("per_block", "tiny_token", [0.7, 0.6, 0.5, 0.45, 0.4, 0.35], [0.01, 0.012, 0.014, 0.016, 0.018, 0.02]),
    ("merge_only", "tiny_token", 0.45, None),
    ("prune_only", "tiny_token", None, 0.013),
    ("nocls_avg", "tiny_avg_nocls", 0.5, 0.012),
]


def spec_value(v, depth):
    if v is None:
        return "off"
    if isinstance(v, list):
        return "/".join(repr(float(t)) for t in v)
    return repr(float(v))


def ltmp():
    import ltmp_ref
    out = []
    for name, base, merge, prune in LTMP_CASES:
        case = CORE_CASES[base]
        cfg, batch = case["cfg"], case["batch"]
        depth = cfg.depth
        m = None if merge is None else (merge if isinstance(merge, list) else [merge] * depth)
        p = None if prune is None else (prune if isinstance(prune, list) else [prune] * depth)
        for attempt in range(80):
            seed = 7000 + attempt * 13 + sum(map(ord, name))
            sd = hash_state_dict(cfg, seed, case["qk_gain"])
            px = hash_pixels(cfg, batch, seed + 1)
            red = ltmp_ref.LTMP(cfg, m, p)
            logits, tokens, finals = [], [], []
            with torch.no_grad():
                for b in range(batch):
                    lg, trace = vit_ref.forward(px[b:b + 1], sd, cfg, red)
                    logits.append(lg[0])
                    tokens.append(trace["tokens"][0])
            margin = min(red.margins) if red.margins else float("inf")
            distinct = len({tuple(t) for t in tokens}) > 1
            if margin > 2e-5 and distinct:
                break
        else:
            raise RuntimeError("no seed with clear decisions and different counts for " + name)
        logits = torch.stack(logits)
        out.append({"name": name, "base": base, "config": cfg.to_json(), "seed": seed, "qk_gain": case["qk_gain"],
                    "batch": batch, "pixel_seed": seed + 1, "merge": m, "prune": p,
                    "spec": "ltmp:merge=" + spec_value(merge, depth) + ",prune=" + spec_value(prune, depth),
                    "logits": f32list(logits), "logit_scale": float(logits.abs().max()),
                    "tokens": tokens, "min_margin": margin})
        print(name, out[-1]["spec"], "tokens", tokens, "margin %.2e" % margin)
    write_json(os.path.join(RES, "ltmp", "cases.json"), {"cases": out})


# Training with ToMe inside the graph: (name, config, spec for Java, r, pool_wavg). Matching runs
# under no_grad in the reference, so decisions are constants and gradients flow through the
# size-weighted merges (and proportional attention's ln size, itself a constant).
TRAIN_REDUCE_CASES = [
    ("tome_token", vit_ref.Cfg(img=16, patch=4, dim=32, depth=3, heads=2, classes=5), "tome:r=2", 2, False),
    ("tome_avg_wavg", vit_ref.Cfg(img=16, patch=4, dim=32, depth=3, heads=2, classes=5, pool="avg"), "tome:r=3,pool=wavg", 3, True),
]


def train_reduce():
    """One training step (loss, every parameter gradient) with token merging in the graph."""
    out_dir = os.path.join(RES, "train")
    cases = []
    for name, cfg, spec, r, wavg in TRAIN_REDUCE_CASES:
        for seed in range(400, 440):
            batch = 3
            sd = hash_state_dict(cfg, seed, 2.0)
            params = {k: v.clone().requires_grad_(True) for k, v in sd.items()}
            px = hash_pixels(cfg, batch, seed + 1)
            labels = [seed % 5, (seed + 2) % 5, (seed + 4) % 5]
            red = tome_ref.ToMe(cfg, r, prop_attn=True, pool_wavg=wavg)
            logits, trace = vit_ref.forward(px, params, cfg, red)
            if min(red.margins) < 1e-4:
                continue
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor(labels), label_smoothing=0.1)
            loss.backward()
            grads = {k: v.grad.detach().clone() for k, v in params.items()}
            safetensors_io.save(os.path.join(out_dir, name + "_grads.safetensors"), grads)
            cases.append({"name": name, "config": cfg.to_json(), "spec": spec, "seed": seed, "qk_gain": 2.0,
                          "batch": batch, "pixel_seed": seed + 1, "labels": labels, "label_smoothing": 0.1,
                          "loss": float(loss), "tokens": trace["tokens"], "min_margin": min(red.margins)})
            print(name, "seed", seed, "tokens", trace["tokens"][0], "margin %.2e" % min(red.margins), "loss", float(loss))
            break
        else:
            raise SystemExit(name + ": no seed without near-ties")
    write_json(os.path.join(out_dir, "reduce_cases.json"), {"cases": cases})


# (name, resize size or (h, w), crop (h, w), interpolation, photos) — the torchvision/timm eval
# pipeline: Resize(S) keeps the aspect ratio; a (h, w) tuple stretches (Hugging Face style).
IMAGE_CONFIGS = [
    ("timm224", 248, (224, 224), "bicubic", ["rocket_640x427.jpg", "chelsea_451x300.jpg", "coffee_300x400.jpg", "camera_grey_256x256.jpg"]),
    ("deit256", 256, (224, 224), "bicubic", ["astronaut_320x320.png"]),
    ("hf96", (96, 96), (96, 96), "bilinear", None),
    ("cifar32", 32, (32, 32), "bicubic", None),
    ("up64", 71, (64, 64), "bicubic", ["coffee_tiny_24x17.png", "chelsea_palette_60x40.png", "astronaut_rgba_97x131.png"]),
]


def images():
    from PIL import Image
    import torchvision.transforms as T
    src = os.path.join(RES, "images", "src")
    dst = os.path.join(RES, "images", "expected")
    os.makedirs(dst, exist_ok=True)
    photos = sorted(f for f in os.listdir(src) if f.endswith((".jpg", ".png")))
    index = []
    for name, size, crop, interp, which in IMAGE_CONFIGS:
        mode = T.InterpolationMode.BICUBIC if interp == "bicubic" else T.InterpolationMode.BILINEAR
        tf = T.Compose([T.Resize(size, interpolation=mode), T.CenterCrop(crop)])
        for photo in (which or photos):
            img = Image.open(os.path.join(src, photo)).convert("RGB")
            out = tf(img)
            arr = np.asarray(out)
            assert arr.shape == (crop[0], crop[1], 3), arr.shape
            fname = f"{os.path.splitext(photo)[0]}__{name}.png"
            Image.fromarray(arr).save(os.path.join(dst, fname))
            index.append({"photo": photo, "config": name, "resize": size if isinstance(size, int) else list(size),
                          "crop": list(crop), "interpolation": interp, "expected": fname})
    write_json(os.path.join(RES, "images", "index.json"), {"cases": index})


def webp():
    """A lossless WebP for the CLI's WebP reader (TwelveMonkeys) and the pixels PIL decodes from it."""
    from PIL import Image
    dst = os.path.join(ROOT, "vitrim-cli", "src", "test", "resources")
    img = Image.open(os.path.join(RES, "images", "src", "chelsea_451x300.jpg")).convert("RGB").resize((90, 60), Image.BICUBIC)
    webp_path = os.path.join(dst, "chelsea_90x60_lossless.webp")
    img.save(webp_path, "WEBP", lossless=True)
    Image.open(webp_path).convert("RGB").save(os.path.join(dst, "chelsea_90x60_expected.png"))


# LTMP's training model, run from the reference itself (Mxbonn/ltmp, fetched; its path in
# LTMP_REF, timm on the path): (name, config, merge θ per block, prune θ per block, τ, target)
LTMP_TRAIN_CASES = [
    ("train_merge_prune", vit_ref.Cfg(img=16, patch=4, dim=32, depth=3, heads=2, classes=5), [0.3, 0.25, 0.2], [0.03, 0.035, 0.04], 0.5, 0.6),
    ("train_tau01", vit_ref.Cfg(img=16, patch=4, dim=32, depth=3, heads=2, classes=5), [0.3, 0.25, 0.2], [0.03, 0.035, 0.04], 0.1, 0.9),
]



# Segmentation: (name, reducer kind, params, restore). One image size that is not a multiple of
# the patch (grid = floor), a class token, 5 classes.
SEG_CFG = vit_ref.Cfg(img=(26, 41), patch=4, dim=48, depth=4, heads=3, classes=0)
SEG_CLASSES = 5
SEG_CASES = [
    ("seg_dense", None, {}, "output"),
    ("seg_tome", "tome", dict(r=6), "output"),
    ("seg_ppt_output", "ppt", dict(r=9, layers=(0, 2), prop_attn=True), "output"),
    ("seg_ppt_llf", "ppt", dict(r=9, layers=(0, 2), prop_attn=True), "llf"),
]


def short(t):
    """float32 values with 8 significant digits (enough for a 1e-4 tolerance, a third of the size)."""
    return [float("%.8g" % v) for v in t.detach().float().reshape(-1).tolist()]


def seg_weights(cfg, k, seed):
    """Hash weights of a segmentation model: the backbone without a classifier, Segmenter's decoder."""
    sd = {n: t for n, t in hash_state_dict(cfg, seed, 2.0).items() if not n.startswith("head.")}
    for n, shape in (("decoder.head.weight", (k, cfg.dim)), ("decoder.head.bias", (k,))):
        c, a = hashinit.scale_for(n, shape)
        sd[n] = torch.from_numpy(hashinit.uniform(seed, n, shape, a, c))
    return sd


def seg_reducer(cfg, kind, p):
    """The reference reducer of a segmentation case (PPT with threshold 0: every image prunes)."""
    import seg_ref
    if kind == "tome":
        return tome_ref.ToMe(cfg, p["r"], True, False)
    if kind == "ppt":
        return seg_ref.DensePPT(cfg, threshold=0.0, **p)
    return None


def seg():
    import adaptive_ref  # noqa: F401 (seg_ref's DensePPT builds on it)
    import seg_ref
    cfg, k, batch = SEG_CFG, SEG_CLASSES, 3
    out = []
    for name, kind, p, mode in SEG_CASES:
        for attempt in range(80):
            seed = 12000 + attempt * 29 + sum(map(ord, name))
            sd = seg_weights(cfg, k, seed)
            px = hash_pixels(cfg, batch, seed + 1)
            grids, tokens, margins, decisions = [], [], [], []
            with torch.no_grad():
                for b in range(batch):
                    # PPT with threshold 0: every image prunes (pooling is merging, covered by the ToMe case)
                    red = seg_reducer(cfg, kind, p)
                    g, t = seg_ref.segment_one(px[b:b + 1], sd, cfg, red, mode, k)
                    grids.append(g)
                    tokens.append(t)
                    if red is not None and red.margins:
                        margins.append(min(red.margins))
                    if kind == "ppt":
                        decisions.append([f"{blk}:{red.decisions[blk][0]}" for blk in sorted(red.decisions)])
            margin = min(margins) if margins else float("inf")
            # ToMe margins are similarity gaps; PPT's also hold prune-order gaps of scores that sum to 1
            if margin > (2e-4 if kind == "tome" else 1e-6):
                break
        else:
            raise RuntimeError("no clean seed for " + name)
        grid = torch.stack(grids)
        H, W = cfg.img
        spec = "none" if kind is None else ("tome:r=%d" % p["r"] if kind == "tome" else java_spec("ppt", p, 0.0))
        rec = {"name": name, "spec": spec, "restore": mode, "config": cfg.to_json(), "classes": k, "seed": seed,
               "qk_gain": 2.0, "batch": batch, "pixel_seed": seed + 1, "grid": short(grid),
               "scale": float(grid.abs().max()), "tokens": tokens, "min_margin": margin if margins else None}
        if kind is None:
            # the resize does not depend on the method: checked once, at the input size (image 0)
            # and at a size with other ratios (image 1)
            rec["full"] = short(seg_ref.upsample(grids[0], H, W))
            rec["other_size"] = [17, 11]
            rec["other"] = short(seg_ref.upsample(grids[1], 17, 11))
        if decisions:
            rec["decisions"] = decisions
        out.append(rec)
        print(name, spec, mode, tokens, decisions)
    write_json(os.path.join(RES, "seg", "cases.json"), {"cases": out})


# One segmentation training step through PyTorch autograd: Segmenter's loss — the grid logits
# upsampled bilinearly to the input, per-pixel cross-entropy with the ignore label left out and
# optional class weights — and every parameter's gradient, through unmerging and parking.
SEG_TRAIN_CASES = [  # (name, reducer kind, params, restore, class weights)
    ("segtrain_dense", None, {}, "output", None),
    ("segtrain_tome_weighted", "tome", dict(r=6), "output", [0.5, 1.0, 2.0, 1.5, 0.75]),
    ("segtrain_ppt_llf", "ppt", dict(r=9, layers=(0, 2), prop_attn=True), "llf", None),
]


def seg_train():
    import adaptive_ref  # noqa: F401
    import seg_ref
    cfg, k, batch = SEG_CFG, SEG_CLASSES, 3
    H, W = cfg.img
    out = []
    for name, kind, p, mode, weights in SEG_TRAIN_CASES:
        for attempt in range(80):
            seed = 15000 + attempt * 31 + sum(map(ord, name))
            params = {n: t.clone().requires_grad_(True) for n, t in seg_weights(cfg, k, seed).items()}
            px = hash_pixels(cfg, batch, seed + 1)
            g = torch.Generator().manual_seed(seed)
            labels = torch.randint(0, k + 1, (batch, H, W), generator=g)  # k = the ignore label (about 1 pixel in 6)
            grids, tokens, margins = [], [], []
            for b in range(batch):
                red = seg_reducer(cfg, kind, p)
                gr, t = seg_ref.segment_one(px[b:b + 1], params, cfg, red, mode, k)
                grids.append(gr)
                tokens.append(t)
                if red is not None and red.margins:
                    margins.append(min(red.margins))
            margin = min(margins) if margins else float("inf")
            if margin > (2e-4 if kind == "tome" else 1e-6):
                break
        else:
            raise RuntimeError("no clean seed for " + name)
        grid = torch.stack(grids)
        up = torch.nn.functional.interpolate(grid, size=(H, W), mode="bilinear", align_corners=False)
        wt = None if weights is None else torch.tensor(weights, dtype=torch.float32)
        loss = torch.nn.functional.cross_entropy(up, labels, weight=wt, ignore_index=k)
        loss.backward()
        grads = {n: v.grad.detach().clone() for n, v in params.items() if v.grad is not None}
        missing = sorted(set(params) - set(grads))
        assert not missing, missing
        safetensors_io.save(os.path.join(RES, "seg", name + "_grads.safetensors"), grads)
        correct = int(((up.argmax(1) == labels) & (labels != k)).sum())
        spec = "none" if kind is None else ("tome:r=%d" % p["r"] if kind == "tome" else java_spec("ppt", p, 0.0))
        out.append({"name": name, "spec": spec, "restore": mode, "config": cfg.to_json(), "classes": k, "ignore": k,
                    "class_weights": weights, "seed": seed, "qk_gain": 2.0, "batch": batch, "pixel_seed": seed + 1,
                    "labels": labels.reshape(-1).tolist(), "loss": float(loss), "correct": correct,
                    "counted": int((labels != k).sum()), "tokens": tokens, "grads": name + "_grads.safetensors"})
        print(name, spec, mode, "loss %.6f" % float(loss), tokens[0])
    write_json(os.path.join(RES, "seg", "train_cases.json"), {"cases": out})


def ltmp_reference_model(cfg, tau):
    """The reference's LTMPVisionTransformer on a vit_ref config (stubs for its logging imports;
    block_fn drops the keyword arguments newer timm passes that LTMPBlock does not take)."""
    import inspect
    import types
    sys.path.insert(0, os.environ.get("LTMP_REF", "/tmp/ltmpref"))
    for name in ("wandb", "fvcore", "fvcore.nn", "tqdm"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["fvcore.nn"].FlopCountAnalysis = object
    sys.modules["fvcore"].nn = sys.modules["fvcore.nn"]
    sys.modules["tqdm"].tqdm = object
    from ltmp.timm.lt_mergeprune import LTMPBlock, LTMPVisionTransformer
    ok = set(inspect.signature(LTMPBlock.__init__).parameters)

    def block(*a, **kw):
        return LTMPBlock(*a, **{k: v for k, v in kw.items() if k in ok})

    return LTMPVisionTransformer(tau=tau, img_size=cfg.img[0], patch_size=cfg.patch, embed_dim=cfg.dim, depth=cfg.depth,
                                 num_heads=cfg.heads, mlp_ratio=cfg.mlp / cfg.dim, num_classes=cfg.classes, qkv_bias=cfg.qkv_bias,
                                 block_fn=block)


def ltmp_train():
    """One LTMP training step: masked forward in train mode, CE (label smoothing 0.1) + 10·(r − target)²,
    the gradients of the thresholds (everything else frozen, as the reference trains)."""
    out = []
    for name, cfg, merge, prune, tau, target in LTMP_TRAIN_CASES:
        batch, lam = 4, 10.0
        model = ltmp_reference_model(cfg, tau)
        for attempt in range(200):
            seed = 9100 + attempt * 7 + sum(map(ord, name))
            sd = hash_state_dict(cfg, seed, 2.0)
            for i in range(cfg.depth):
                sd[f"blocks.{i}.merge_masker.threshold"] = torch.tensor([merge[i]])
                sd[f"blocks.{i}.prune_masker.threshold"] = torch.tensor([prune[i]])
            model.load_state_dict(sd)
            for n_, p_ in model.named_parameters():
                p_.requires_grad_("masker" in n_)
                p_.grad = None
            model.train()
            margins = []
            hooks = [m.register_forward_hook(lambda mod, inp, o: margins.append(
                float((inp[0][torch.isfinite(inp[0])] - mod.threshold).abs().min())))
                for blk in model.blocks for m in (blk.merge_masker, blk.prune_masker)]
            px = hash_pixels(cfg, batch, seed + 1)
            labels = torch.tensor([(seed + 3 * b) % cfg.classes for b in range(batch)])
            logits = model.forward_head(model.forward_features(px))
            for h in hooks:
                h.remove()
            counts = [[int(m[b].sum()) for m in model.masks] for b in range(batch)]
            distinct = len({tuple(c) for c in counts}) > 1
            merged_or_pruned = all(c[-1] < cfg.tokens for c in counts)
            if min(margins) > 1e-4 and distinct and merged_or_pruned:
                break
        else:
            raise RuntimeError("no seed with clear decisions and different counts for " + name)
        ce = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
        n, d, layers = model.masks[0].shape[-1], cfg.dim, cfg.depth
        ms = [1] + [torch.mean(m) for m in model.masks]
        r = 0
        for i in range(layers):
            r = r + (1 / layers) * ((2 * (ms[i] * n) * d ** 2 + (ms[i] * n) ** 2 * d) + (4 * (ms[i + 1] * n) * d ** 2)) / (6 * n * d ** 2 + n ** 2 * d)
        reg = (r - target) ** 2
        loss = ce + lam * reg
        loss.backward()
        gm = [float(model.blocks[i].merge_masker.threshold.grad) for i in range(layers)]
        gp = [float(model.blocks[i].prune_masker.threshold.grad) for i in range(layers)]
        out.append({"name": name, "config": cfg.to_json(), "seed": seed, "qk_gain": 2.0, "batch": batch, "pixel_seed": seed + 1,
                    "labels": labels.tolist(), "merge": merge, "prune": prune, "tau": tau, "target": target, "lambda": lam,
                    "logits": f32list(logits), "logit_scale": float(logits.abs().max()), "ce": float(ce), "reg": float(reg),
                    "ratio": float(r), "loss": float(loss), "merge_grad": gm, "prune_grad": gp, "mask_counts": counts,
                    "min_margin": min(margins)})
        print(name, "counts", counts, "loss %.5f r %.4f" % (float(loss), float(r)), "grads", gm, gp, "margin %.1e" % min(margins))
    write_json(os.path.join(RES, "ltmp", "train_cases.json"), {"cases": out})


AUG_OPS = ["Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color", "Contrast",
           "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize"]


def augment():
    """torchvision's RandAugment operations on PIL images, one bin and sign at a time."""
    import base64
    from PIL import Image
    import torchvision.transforms as T
    from torchvision.transforms import autoaugment as A
    src = os.path.join(RES, "images", "src")
    w, h = 24, 20  # not square: catches swapped axes
    photo = Image.open(os.path.join(src, sorted(f for f in os.listdir(src) if f.endswith(".jpg"))[0])).convert("RGB")
    photo = T.Resize((h, w), interpolation=T.InterpolationMode.BICUBIC)(photo)
    rng = np.random.default_rng(5)
    noise = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    noise[:, : w // 3] = noise[:, : w // 3] // 4 + 60  # a low-contrast part for AutoContrast/Equalize
    images = [np.asarray(photo), noise]
    ra = T.RandAugment(num_ops=1, magnitude=9)
    space = ra._augmentation_space(31, (h, w))
    cases = []
    for k, arr in enumerate(images):
        for op in AUG_OPS:
            mags, signed = space[op]
            for m in ((9, 30) if signed else (0, 9, 30)):
                for sign in ((1, -1) if signed else (1,)):
                    mag = float(mags[m].item()) if mags.ndim > 0 else 0.0
                    out = A._apply_op(Image.fromarray(arr), op, sign * mag, interpolation=T.InterpolationMode.NEAREST, fill=None)
                    cases.append({"image": k, "op": op, "bin": m, "sign": sign, "magnitude": sign * mag,
                                  "expected": base64.b64encode(np.asarray(out).tobytes()).decode()})
    write_json(os.path.join(RES, "train", "randaugment.json"),
               {"height": h, "width": w, "images": [base64.b64encode(a.tobytes()).decode() for a in images], "cases": cases})


# Encoder towers as timm builds them (timm's own model code, not vit_ref): name -> (timm
# architecture, model_args, num_classes, pretrained_cfg mean/std, other input size, batch)
ENCODER_CASES = {
    "dinov2": ("vit_small_patch14_dinov2", dict(img_size=56, patch_size=14, embed_dim=32, depth=2, num_heads=2), 0,
               (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 42, 2),
    "dinov2_reg4": ("vit_small_patch14_reg4_dinov2", dict(img_size=56, patch_size=14, embed_dim=32, depth=2, num_heads=2), 0,
                    (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 70, 2),
    # the giant's MLP is SwiGLUPacked (SiLU gate first, fc1 of int(C * 5.33334) = 170 outputs here, fc2 of 85 inputs)
    "dinov2_giant": ("vit_giant_patch14_dinov2", dict(img_size=56, patch_size=14, embed_dim=32, depth=2, num_heads=2), 0,
                     (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 42, 2),
    "dinov2_giant_reg4": ("vit_giant_patch14_reg4_dinov2", dict(img_size=56, patch_size=14, embed_dim=32, depth=2, num_heads=2), 0,
                          (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 70, 2),
    "clip_quickgelu": ("vit_base_patch16_clip_quickgelu_224", dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2), 16,
                       (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711), 48, 2),
    "clip": ("vit_base_patch16_clip_224", dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2), 0,
             (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711), 24, 2),
    "siglip": ("vit_base_patch16_siglip_224", dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2), 0,
               (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 24, 2),
    "siglip_head": ("vit_base_patch16_siglip_224", dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4), 7,
                    (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 40, 3),
}


def encoders(only=None):
    """timm-made DINOv2 / CLIP towers as model folders, with their outputs at two input sizes.

    Needs the timm wheel on PYTHONPATH (pip install --no-deps --target DIR timm). Weights are
    timm's initialisation made less tame (every tensor perturbed, LayerScale far from 1e-5, a
    strong position embedding), so every detail shows in the outputs.
    """
    import timm
    from timm.models.vision_transformer import checkpoint_filter_fn
    for name, (arch, args, classes, mean, std, other, batch) in ENCODER_CASES.items():
        if only and name not in only:
            continue
        torch.manual_seed(sum(map(ord, name)))
        m = timm.create_model(arch, pretrained=False, num_classes=classes, **args).eval()
        with torch.no_grad():
            for k, v in m.named_parameters():
                if k.endswith("gamma"):
                    v.copy_(torch.rand_like(v) + 0.25)
                elif k == "pos_embed" or k.endswith("_token"):
                    v.copy_(torch.randn_like(v) * 0.5)
                else:
                    v.add_(torch.randn_like(v) * (0.3 if v.dim() > 1 else 0.2))
        sd = {k: v.detach().clone().contiguous() for k, v in m.state_dict().items()}
        d = os.path.join(RES, "encoders", name)
        os.makedirs(d, exist_ok=True)
        safetensors_io.save(os.path.join(d, "model.safetensors"), sd)
        img = args["img_size"]
        pool = "map" if "siglip" in arch else "token"
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"architecture": arch, "num_classes": classes, "global_pool": pool, "model_args": args,
                       "pretrained_cfg": {"input_size": [3, img, img], "interpolation": "bicubic", "crop_pct": 1.0,
                                          "mean": list(mean), "std": list(std), "num_classes": classes}}, f, indent=2)
        out = {"arch": arch, "batch": batch, "pixel_seed": 5}
        for size, key in ((img, "native"), (other, "other")):
            px = torch.from_numpy(hashinit.uniform(5, "pixels", (batch, 3, size, size), 2.0))
            if size == img:
                model = m
            else:
                model = timm.create_model(arch, pretrained=False, num_classes=classes, **dict(args, img_size=size)).eval()
                model.load_state_dict(checkpoint_filter_fn(dict(sd), model))
            with torch.no_grad():
                y = model(px)
            out[key] = {"size": size, "output": f32list(y), "scale": float(y.abs().max())}
        write_json(os.path.join(d, "expected.json"), out)


# EVA02 towers as timm builds them (timm's Eva): name -> (timm architecture, model_args, num_classes,
# other input size (h, w), batch, ToMe specs run by eva_ref at the native size). Small widths; the
# three code paths of eva02_*: fused qkv + packed SwiGLU (tiny, small), separate q/k/v + SwiGLU with
# mlp.norm (base, large), and EVA-CLIP's attn.norm with class-token pooling and a projection.
EVA_CASES = {
    "eva02": ("eva02_tiny_patch14_224", dict(img_size=28, patch_size=7, embed_dim=24, depth=3, num_heads=2), 0,
              (21, 35), 2, (3, 1)),
    "eva02_base": ("eva02_base_patch14_224", dict(img_size=28, patch_size=7, embed_dim=24, depth=2, num_heads=2,
                                                  ref_feat_shape=(4, 4)), 5, (42, 42), 3, ()),
    "eva02_clip": ("eva02_base_patch16_clip_224", dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2), 16,
                   (24, 24), 2, ()),
    # EVA02-E (EVA-CLIP's enormous tower): post-norm blocks (x + norm1(attn(x)), x + norm2(mlp(x))), no RoPE,
    # a plain GELU MLP of int(C * 15360 / 1792) = 205, fused qkv with q/v biases, class token, projection
    "eva02_e": ("eva02_enormous_patch14_clip_224", dict(img_size=28, patch_size=7, embed_dim=24, depth=3, num_heads=2), 16,
                (21, 35), 2, (3, 1)),
    # EVA01 (eva_giant_*): the pre-norm block without RoPE, a GELU MLP of int(C * 6144 / 1408) = 104, avg pool + fc_norm
    "eva01": ("eva_giant_patch14_224", dict(img_size=28, patch_size=7, embed_dim=24, depth=2, num_heads=2), 5,
              (35, 21), 2, (3,)),
}


def eva_encoders(only=None):
    """EVA02 towers built by timm with hash-initialised weights (every tensor replaced, so nothing
    depends on torch's RNG), as model folders, with their outputs at the native size and another
    one (position embedding resampled by timm's checkpoint filter, RoPE recomputed for the new
    grid with the same ref_feat_shape); for "eva02" also ToMe through eva_ref (merged tokens at the
    mean position of their patches), checked against timm at r = 0."""
    import timm
    from timm.models.eva import checkpoint_filter_fn
    import eva_ref
    for name, (arch, args, classes, other, batch, rs) in EVA_CASES.items():
        if only and name not in only:
            continue
        m = timm.create_model(arch, pretrained=False, num_classes=classes, **args).eval()
        seed = 7000 + sum(map(ord, name))
        with torch.no_grad():
            for k, v in m.named_parameters():
                if k.endswith("norm.weight") or k.endswith("norm1.weight") or k.endswith("norm2.weight"):
                    c, a = 1.0, 0.3
                elif k in ("pos_embed", "cls_token"):
                    c, a = 0.0, 0.8
                elif k.endswith("bias"):  # q_bias, v_bias too
                    c, a = 0.0, 0.3
                else:
                    c, a = 0.0, 1.5 * math.sqrt(3.0 / v.shape[-1])
                # stored as F16 (small fixtures): the model runs on the values the file holds
                v.copy_(torch.from_numpy(hashinit.uniform(seed, k, tuple(v.shape), a, c)).half().float())
        sd = {k: v.detach().clone().contiguous() for k, v in m.state_dict().items()}
        d = os.path.join(RES, "encoders", name)
        os.makedirs(d, exist_ok=True)
        safetensors_io.save(os.path.join(d, "model.safetensors"), sd, dtype="F16")
        img = args["img_size"]
        pool = "token" if "clip" in arch else "avg"
        mean, std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"architecture": arch, "num_classes": classes, "global_pool": pool, "model_args": args,
                       "pretrained_cfg": {"input_size": [3, img, img], "interpolation": "bicubic", "crop_pct": 1.0,
                                          "mean": list(mean), "std": list(std), "num_classes": classes}}, f, indent=2)
        out = {"arch": arch, "batch": batch, "pixel_seed": 5, "timm": timm.__version__}
        for hw, key in (((img, img), "native"), (other, "other")):
            px = torch.from_numpy(hashinit.uniform(5, "pixels", (batch, 3) + tuple(hw), 2.0))
            if hw == (img, img):
                model = m
            else:
                model = timm.create_model(arch, pretrained=False, num_classes=classes, **dict(args, img_size=hw)).eval()
                model.load_state_dict(checkpoint_filter_fn(dict(sd), model))
            with torch.no_grad():
                y = model(px)
                ref, _, _ = eva_ref.forward(model, px, 0)
            err = float((ref - y).abs().max() / y.abs().max())
            assert err < 1e-5, (name, key, err)  # the reference is timm's forward at r = 0
            out[key] = {"size": list(hw), "output": f32list(y), "scale": float(y.abs().max())}
            reduced = []
            for r in rs:
                margins = []
                with torch.no_grad():
                    z, tokens, src = eva_ref.forward(model, px, r, margins=margins)
                    alt, _, _ = eva_ref.forward(model, px, r, pos_rule="dst")
                margin = min(margins)
                assert margin > 2e-4, (name, key, r, margin)  # decisions clear of float ties
                # the position rule shows in the outputs (else the fixture could not tell); without RoPE it cannot
                moved = float((alt - z).abs().max() / z.abs().max())
                assert moved > 1e-3 or model.rope is None, (name, key, r, moved)
                n0 = src.shape[2]
                sources = [[int(src[b, :, p].argmax()) for p in range(n0)] for b in range(batch)]
                reduced.append({"spec": "tome:r=%d" % r, "output": f32list(z), "scale": float(z.abs().max()),
                                "tokens": tokens, "final_tokens": int(src.shape[1]), "sources": sources,
                                "min_margin": margin, "dst_rule_moves": moved})
                print(name, key, "tome r=%d" % r, "tokens", tokens, "margin %.2e" % margin, "dst rule moves %.3f" % moved)
            if reduced:
                out[key]["reduced"] = reduced
        write_json(os.path.join(d, "expected.json"), out)


def hf_encoders(only=None):
    """DINOv2 (with and without registers) and CLIP vision towers as Hugging Face transformers
    builds and saves them (save_pretrained folders), with their outputs at the native size and,
    for DINOv2, at another size (transformers interpolates the position embedding itself).

    Needs a recent torch + transformers, e.g. a venv: pip install torch transformers safetensors.
    """
    import transformers
    from transformers import (CLIPVisionConfig, CLIPVisionModelWithProjection, Dinov2Config, Dinov2Model,
                              Dinov2WithRegistersConfig, Dinov2WithRegistersModel)
    cases = {
        "hf_dinov2": (Dinov2Model, Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=56,
                                                patch_size=14), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 42),
        "hf_dinov2_reg": (Dinov2WithRegistersModel, Dinov2WithRegistersConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                                             image_size=56, patch_size=14, num_register_tokens=4),
                          (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 70),
        # the giant's SwiGLU FFN (weights_in [gate; value]): gated width (int(128 * 2 / 3) + 7) // 8 * 8 = 88
        "hf_dinov2_giant": (Dinov2Model, Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=56,
                                                      patch_size=14, use_swiglu_ffn=True), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 42),
        "hf_clip": (CLIPVisionModelWithProjection, CLIPVisionConfig(hidden_size=32, intermediate_size=128, num_hidden_layers=2,
                                                                    num_attention_heads=2, image_size=32, patch_size=8, projection_dim=16,
                                                                    hidden_act="quick_gelu"),
                    (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711), None),
    }
    for name, (cls, cfg, mean, std, other) in cases.items():
        if only and name not in only:
            continue
        torch.manual_seed(sum(map(ord, name)))
        m = cls(cfg).eval()
        with torch.no_grad():
            for k, v in m.named_parameters():
                if "lambda1" in k:
                    v.copy_(torch.rand_like(v) + 0.25)
                elif "position" in k or "token" in k or "class_embedding" in k:
                    v.copy_(torch.randn_like(v) * 0.5)
                else:
                    v.add_(torch.randn_like(v) * (0.3 if v.dim() > 1 else 0.2))
        d = os.path.join(RES, "encoders", name)
        os.makedirs(d, exist_ok=True)
        m.save_pretrained(d, safe_serialization=True)
        for f in os.listdir(d):
            if f not in ("config.json", "model.safetensors"):
                os.remove(os.path.join(d, f))
        img = cfg.image_size
        with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
            json.dump({"do_resize": True, "size": {"shortest_edge": img}, "do_center_crop": True,
                       "crop_size": {"height": img, "width": img}, "resample": 3, "do_rescale": True, "rescale_factor": 1 / 255,
                       "do_normalize": True, "image_mean": list(mean), "image_std": list(std)}, f, indent=2)
        out = {"transformers": transformers.__version__, "batch": 2, "pixel_seed": 5}
        for size, key in ((img, "native"), (other, "other")):
            if size is None:
                continue
            px = torch.from_numpy(hashinit.uniform(5, "pixels", (2, 3, size, size), 2.0))
            with torch.no_grad():
                r = m(pixel_values=px)
            y = r.image_embeds if hasattr(r, "image_embeds") else r.pooler_output
            out[key] = {"size": size, "output": f32list(y), "scale": float(y.abs().max())}
        write_json(os.path.join(d, "expected.json"), out)


# ---------------------------------------------------------------- Cropr
# The reference itself (benbergner/cropr, cls/cropr.py and cls/vision_transformer.py, fetched and
# put in $CROPR_REF, default /tmp/croprref) on timm 1.x, with hash weights. Cropr's own keys get
# the scales below; the JSON lists every one so that Java regenerates them.

def cropr_scale(name, shape):
    if name.endswith("queries"):
        return 0.0, 1.0
    if name.endswith("norm.weight"):
        return 1.0, 0.2
    if name.endswith(".bias"):
        return 0.0, 0.1
    return 0.0, math.sqrt(3.0 / int(np.prod(shape[1:])))


def cropr_reference_model(cfg, rate, llf, queries, training=True):
    sys.path.insert(0, os.environ.get("CROPR_REF", "/tmp/croprref"))
    import vision_transformer as cvt
    cropr_cfg = {"use_cropr": True, "llf": llf, "pruning_rate": rate, "num_queries": queries, "num_heads": 1,
                 "pre_attn_norm": False, "q_proj": False, "k_proj": False, "v_proj": False, "mlp": True,
                 "mlp_ratio": 4.0, "training": training}
    assert cfg.img[0] == cfg.img[1] and cfg.mlp == 4 * cfg.dim and cfg.qkv_bias and cfg.cls and not cfg.dist
    return cvt.VisionTransformer(cropr_cfg, img_size=cfg.img[0], patch_size=cfg.patch, embed_dim=cfg.dim, depth=cfg.depth,
                                 num_heads=cfg.heads, num_classes=cfg.classes, global_pool=cfg.pool, drop_path_rate=0.0)


def cropr_weights(model, cfg, seed, qk_gain):
    """Hash weights for every key of the reference model; returns (state dict, Cropr key list for the JSON)."""
    sd = hash_state_dict(cfg, seed, qk_gain)
    extra = []
    for name, p in model.state_dict().items():
        if not name.startswith("cropr."):
            continue
        c, a = cropr_scale(name, tuple(p.shape))
        sd[name] = torch.from_numpy(hashinit.uniform(seed, name, tuple(p.shape), a, c))
        extra.append({"name": name, "shape": list(p.shape), "center": c, "a": a})
    missing = set(model.state_dict()) - set(sd)
    assert not missing, missing
    return sd, extra


CROPR_CASES = [  # (name, core case, rate, llf, queries)
    ("token_llf", "tiny_token", 5, True, 1),
    ("token_nollf", "tiny_token", 6, False, 1),
    ("avg_llf_multiquery", "tiny_avg", 7, True, 3),
    ("avg_nollf_multiquery", "tiny_avg", 4, False, 2),
]


def cropr():
    sys.path.insert(0, os.environ.get("CROPR_REF", "/tmp/croprref"))
    import cropr as mod  # the reference's module: its prune is wrapped to record decision margins
    out = []
    for name, base, rate, llf, queries in CROPR_CASES:
        case = CORE_CASES[base]
        cfg, batch = case["cfg"], case["batch"]
        model = cropr_reference_model(cfg, rate, llf, queries).eval()
        margins = []
        orig = mod.Cropr.prune

        def prune(self, x, scores, orig=orig):
            s = scores.sort(dim=1, descending=True).values
            k = x.shape[1] - self.pruning_rate
            margins.append(float((s[:, k - 1] - s[:, k]).min()))
            return orig(self, x, scores)

        mod.Cropr.prune = prune
        for attempt in range(40):
            seed = 8100 + attempt * 11 + sum(map(ord, name))
            sd, extra = cropr_weights(model, cfg, seed, case["qk_gain"])
            model.load_state_dict(sd, strict=True)
            px = hash_pixels(cfg, batch, seed + 1)
            margins.clear()
            with torch.no_grad():
                logits = model(px)
            if min(margins) > 1e-3:
                break
        else:
            raise RuntimeError("no seed with clear Cropr decisions for " + name)
        mod.Cropr.prune = orig
        n = cfg.tokens
        m = len(model.cropr)
        counts = [n]
        for k in range(m):
            counts.append(counts[-1] - (rate + 1 if k == 0 else rate))
        if llf:
            counts.append(n)  # the last block: every pruned token back (none after the penultimate)
        assert len(counts) == cfg.depth
        out.append({"name": name, "base": base, "config": cfg.to_json(), "seed": seed, "qk_gain": case["qk_gain"],
                    "batch": batch, "pixel_seed": seed + 1, "rate": rate, "llf": llf, "queries": queries,
                    "spec": "cropr:rate=%d,llf=%d" % (rate, int(llf)), "cropr_keys": extra,
                    "logits": f32list(logits), "logit_scale": float(logits.abs().max()),
                    "tokens_entering_blocks": counts, "min_margin": min(margins)})
        print(name, out[-1]["spec"], "tokens", counts, "margin %.2e" % min(margins))
    write_json(os.path.join(RES, "cropr", "cases.json"), {"cases": out})


CROPR_TRAIN_CASES = [  # (name, config, rate, llf)
    ("token_llf", vit_ref.Cfg(img=16, patch=4, dim=32, depth=4, heads=2, classes=5), 2, True),
    ("avg_nollf", vit_ref.Cfg(img=16, patch=4, dim=32, depth=4, heads=2, classes=5, pool="avg"), 2, False),
]


def cropr_train():
    """One Cropr training step in the reference (train mode, no drop path): the main and every
    auxiliary loss (label smoothing 0.1, summed unweighted), and every parameter's gradient."""
    out = []
    for name, cfg, rate, llf in CROPR_TRAIN_CASES:
        batch = 4
        model = cropr_reference_model(cfg, rate, llf, 1).train()
        seed = 9300 + sum(map(ord, name))
        sd, extra = cropr_weights(model, cfg, seed, 2.0)
        model.load_state_dict(sd, strict=True)
        px = hash_pixels(cfg, batch, seed + 1)
        labels = torch.tensor([(seed + 3 * b) % cfg.classes for b in range(batch)])
        outs = model(px)
        losses = [torch.nn.functional.cross_entropy(o, labels, label_smoothing=0.1) for o in outs]
        loss = sum(losses)
        loss.backward()
        grads = {k: p.grad.detach().clone() for k, p in model.named_parameters() if p.grad is not None}
        no_grad = [k for k, p in model.named_parameters() if p.grad is None]
        assert not no_grad, no_grad
        safetensors_io.save(os.path.join(RES, "cropr", "train_%s_grads.safetensors" % name), grads)
        out.append({"name": name, "config": cfg.to_json(), "seed": seed, "qk_gain": 2.0, "batch": batch, "pixel_seed": seed + 1,
                    "labels": labels.tolist(), "rate": rate, "llf": llf, "spec": "cropr:rate=%d,llf=%d" % (rate, int(llf)),
                    "cropr_keys": extra, "logits": f32list(outs[0]), "logit_scale": float(outs[0].abs().max()),
                    "losses": [float(v) for v in losses], "loss": float(loss), "grads": "train_%s_grads.safetensors" % name})
        print(name, "losses", ["%.5f" % float(v) for v in losses])
    write_json(os.path.join(RES, "cropr", "train_cases.json"), {"cases": out})


# ---------------------------------------------------------------- Cropr for segmentation
# The reference's segmentation code on a plain ViT (scripts/python/cropr_seg_ref.py): one training
# step of engine.train_one_epoch at a curriculum epoch — the main loss on the upsampled logits and
# every module's auxiliary loss against the labels nearest-downsampled to the auxiliary grid — with
# every parameter's gradient; the per-patch logits (order restored by the reference) in training and,
# at the final rate, in inference. The second case is the port with an auxiliary grid of another
# shape than the patch grid and class weights.
CROPR_SEG_CASES = [  # (name, config, final rate, epochs, epoch of the step, aux grid (None: the patch grid), class weights)
    ("segcropr_reference", vit_ref.Cfg(img=16, patch=4, dim=32, depth=4, heads=2, classes=0), 5, 8, 2, None, None),
    ("segcropr_auxgrid_weighted", vit_ref.Cfg(img=(16, 24), patch=4, dim=32, depth=5, heads=2, classes=0), 2, 4, 0, (3, 5),
     [0.5, 1.0, 2.0, 1.5, 0.75]),
]


def cropr_seg():
    import cropr_seg_ref as ref
    mod, _, _ = ref.reference()
    k, batch, ignore = 5, 3, 255
    out = []
    for name, cfg, rate, epochs, epoch, aux_grid, weights in CROPR_SEG_CASES:
        gh, gw = cfg.grid
        grid = aux_grid or (gh, gw)
        model = ref.build(cfg, k, rate, epochs, grid[0] * grid[1])
        margins, counts = [], []
        orig = mod.Cropr.prune

        def prune(self, x, scores, pos, idx, orig=orig):
            if self.pruning_rate > 0:  # at rate 0 (the curriculum's start) the order changes, the kept set cannot
                s = scores.sort(dim=1, descending=True).values
                keep = x.shape[1] - self.pruning_rate
                margins.append(float((s[:, keep - 1] - s[:, keep]).min()))
            return orig(self, x, scores, pos, idx)

        mod.Cropr.prune = prune
        hooks = [blk.register_forward_hook(lambda m, inp, o: counts.append(inp[0].shape[1])) for blk in model.blocks]
        for attempt in range(60):
            seed = 16100 + attempt * 37 + sum(map(ord, name))
            sd = {n: t for n, t in hash_state_dict(cfg, seed, 2.0).items() if not n.startswith("head.")}
            for n, shape in (("decoder.head.weight", (k, cfg.dim)), ("decoder.head.bias", (k,))):
                c, a = hashinit.scale_for(n, shape)
                sd[n] = torch.from_numpy(hashinit.uniform(seed, n, shape, a, c))
            extra = []
            for n, p in model.state_dict().items():
                if n.startswith("cropr."):
                    c, a = cropr_scale(n, tuple(p.shape))
                    sd[n] = torch.from_numpy(hashinit.uniform(seed, n, tuple(p.shape), a, c))
                    extra.append({"name": n, "shape": list(p.shape), "center": c, "a": a})
            ref_sd = {("head." + n[len("decoder.head."):] if n.startswith("decoder.head.") else n): t for n, t in sd.items()}
            model.load_state_dict(ref_sd, strict=True)
            px = hash_pixels(cfg, batch, seed + 1)
            g = torch.Generator().manual_seed(seed)
            labels = torch.randint(0, k + 1, (batch,) + cfg.img, generator=g)
            labels[labels == k] = ignore  # about 1 pixel in 6
            margins.clear()
            with torch.no_grad():
                for e in (epoch, epochs - 1):  # the step's rate and the final one (inference)
                    model.set_pruning_rate(e)
                    model.eval()
                    model(px, upsample=False)
            if min(margins) > 1e-3:
                break
        else:
            raise RuntimeError("no seed with clear Cropr decisions for " + name)
        wt = None if weights is None else torch.tensor(weights, dtype=torch.float32)
        counts.clear()
        if aux_grid is None and weights is None:
            losses, grads = ref.reference_step(model, px, labels, epoch)
        else:
            losses, grads = ref.ported_step(model, px, labels, epoch, aux_grid, wt, ignore)
        train_tokens = counts[:cfg.depth]
        missing = sorted(set(n for n, _ in model.named_parameters()) - set(grads))
        assert not missing, missing
        grads = ref.vitrim_names(grads)
        safetensors_io.save(os.path.join(RES, "cropr", "seg_%s_grads.safetensors" % name), grads)
        step_rate = int(model.cropr[1].pruning_rate)
        with torch.no_grad():
            model.train()
            train_grid = model(px, upsample=False).transpose(1, 2)  # [B, K, patches], order restored
            model.set_pruning_rate(epochs - 1)
            model.eval()
            counts.clear()
            infer_grid = model(px, upsample=False).transpose(1, 2)
            infer_tokens = counts[:cfg.depth]
        for h in hooks:
            h.remove()
        mod.Cropr.prune = orig
        names = ["main"] + ["aux_%d" % (i + 1) for i in range(len(model.cropr))]
        out.append({"name": name, "config": cfg.to_json(), "classes": k, "ignore": ignore, "class_weights": weights,
                    "seed": seed, "qk_gain": 2.0, "batch": batch, "pixel_seed": seed + 1,
                    "labels": labels.reshape(-1).tolist(), "rate": rate, "epochs": epochs, "epoch": epoch,
                    "curriculum": [int(v) for v in model.pruning_rate_curr.tolist()], "step_rate": step_rate,
                    "aux_grid": list(grid), "reference_code": aux_grid is None and weights is None, "cropr_keys": extra,
                    "losses": [float(losses[n]) for n in names], "loss": float(sum(losses[n] for n in names)),
                    "grads": "seg_%s_grads.safetensors" % name, "train_tokens": train_tokens,
                    "train_grid": short(train_grid), "train_scale": float(train_grid.abs().max()),
                    "infer_tokens": infer_tokens, "infer_grid": short(infer_grid), "infer_scale": float(infer_grid.abs().max()),
                    "min_margin": min(margins)})
        print(name, "step rate", step_rate, "tokens", train_tokens, "infer", infer_tokens,
              "losses", ["%.5f" % float(losses[n]) for n in names], "margin %.2e" % min(margins))
    write_json(os.path.join(RES, "cropr", "seg_cases.json"), {"cases": out})


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("core", "all"):
        core(sys.argv[2:] or None)
    if what in ("loader", "all"):
        loader()
    if what in ("images", "all"):
        images()
        webp()
    if what in ("tome", "all"):
        tome()
    if what in ("adaptive", "all"):
        adaptive()
    if what in ("train", "all"):
        train()
    if what in ("ltmp", "all"):
        ltmp()
    if what in ("train_reduce", "all"):
        train_reduce()
    if what in ("augment", "all"):
        augment()
    if what in ("encoders", "all"):
        encoders(sys.argv[2:] or None)
        eva_encoders(sys.argv[2:] or None)
    if what == "hf_encoders":  # a separate environment (recent torch + transformers), so not in "all"
        hf_encoders(sys.argv[2:] or None)
    if what in ("ltmp_train", "all"):
        ltmp_train()
    if what in ("cropr", "all"):
        cropr()
    if what in ("seg", "all"):
        seg()
    if what in ("cropr_train", "all"):
        cropr_train()
    if what in ("seg_train", "all"):
        seg_train()
    if what in ("cropr_seg", "all"):
        cropr_seg()
