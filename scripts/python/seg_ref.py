"""Segmentation reference for vitrim's golden fixtures (docs/methods.md, "Dense outputs"):
a timm-style ViT, Segmenter's linear decoder on every patch token after the final norm, and
token reduction made dense — merged tokens unmerged through the source map, pruned tokens parked
with their representation at that moment and restored before the last block ("llf") or after it
("output"). Runs one image at a time (every method here decides per image)."""
import torch
import torch.nn.functional as F

import adaptive_ref
import vit_ref


class DensePPT(adaptive_ref.PPT):
    """PPT whose pruned tokens are parked in state["parked"] instead of dropped (batch 1)."""

    def in_block(self, i, x, size, stats, state):
        n = x.shape[1]
        src_before = state["source"] if state["source"] is not None else torch.eye(n)[None]
        size_before = size if (size is not None and self.prop_attn) else torch.ones(1, n, 1)
        out_x, out_s = super().in_block(i, x, size, stats, state)
        if i in self.layers and self.decisions.get(i, ["pool"])[0] == "prune" and out_x.shape[1] < n:
            kept = state["source"][0]
            for t in range(n):
                if not any(torch.equal(src_before[0, t], kept[k]) for k in range(kept.shape[0])):
                    state["parked"].append((x[0, t], size_before[0, t], src_before[0, t]))
        return out_x, out_s


def restore(x, size, state):
    if not state["parked"]:
        return x, size
    n = x.shape[1]
    px = torch.stack([p[0] for p in state["parked"]])[None]
    ps = torch.stack([p[1] for p in state["parked"]])[None]
    pz = torch.stack([p[2] for p in state["parked"]])[None]
    src = state["source"] if state["source"] is not None else torch.eye(n, pz.shape[2])[None]
    size = size if size is not None else torch.ones(1, n, 1)
    state["source"] = torch.cat([src, pz], dim=1)
    state["parked"] = []
    return torch.cat([x, px], dim=1), torch.cat([size, ps], dim=1)


def segment_one(px, sd, cfg, reducer, mode, classes):
    """Grid logits [K, gh, gw] of one image [1, 3, H, W], and the tokens entering each block."""
    x = vit_ref.embed(px, sd, cfg)
    size = None
    state = {"source": None, "parked": []}
    tokens = []
    for i in range(cfg.depth):
        if mode == "llf" and i == cfg.depth - 1:
            x, size = restore(x, size, state)
        tokens.append(x.shape[1])
        x, size = vit_ref.block(i, x, size, sd, cfg, reducer, state)
    x, size = restore(x, size, state)
    x = F.layer_norm(x, (cfg.dim,), sd["norm.weight"], sd["norm.bias"], cfg.eps)
    logits = F.linear(x[0], sd["decoder.head.weight"], sd["decoder.head.bias"])  # [T, K]
    n0 = cfg.tokens
    src = state["source"][0] if state["source"] is not None else torch.eye(n0)
    gh, gw = cfg.grid
    grid = torch.zeros(classes, gh * gw)
    for q in range(gh * gw):
        col = src[:, cfg.prefix + q]
        assert float(col.max()) > 0, "patch without a final token"
        grid[:, q] = logits[int(col.argmax())]
    return grid.reshape(classes, gh, gw), tokens


def upsample(grid, h, w):
    return F.interpolate(grid[None], size=(h, w), mode="bilinear", align_corners=False)[0]
