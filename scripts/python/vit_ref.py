"""A plain-PyTorch reference of timm's VisionTransformer forward (docs/design.md §2),
written for vitrim's golden fixtures. Token-reduction methods hook in via `reducer`."""
import math
import torch
import torch.nn.functional as F


class Cfg:
    def __init__(self, img=(32, 32), patch=4, dim=64, depth=6, heads=4, mlp=None, classes=10,
                 qkv_bias=True, cls=True, dist=False, pool="token", fc_norm=None, eps=1e-6):
        self.img = tuple(img) if isinstance(img, (tuple, list)) else (img, img)
        self.patch, self.dim, self.depth, self.heads = patch, dim, depth, heads
        self.mlp = mlp if mlp is not None else 4 * dim
        self.classes, self.qkv_bias, self.cls, self.dist = classes, qkv_bias, cls, dist
        self.pool = pool
        self.fc_norm = (pool == "avg") if fc_norm is None else fc_norm
        self.eps = eps

    @property
    def grid(self):
        return self.img[0] // self.patch, self.img[1] // self.patch

    @property
    def prefix(self):
        return int(self.cls) + int(self.dist)

    @property
    def tokens(self):
        gh, gw = self.grid
        return gh * gw + self.prefix

    def keys(self):
        """timm key -> shape, in the same order as VitKeys.expected in Java."""
        d, p, h, k = self.dim, self.patch, self.mlp, self.classes
        m = {}
        if self.cls:
            m["cls_token"] = (1, 1, d)
        if self.dist:
            m["dist_token"] = (1, 1, d)
        m["pos_embed"] = (1, self.tokens, d)
        m["patch_embed.proj.weight"] = (d, 3, p, p)
        m["patch_embed.proj.bias"] = (d,)
        for i in range(self.depth):
            b = f"blocks.{i}."
            m[b + "norm1.weight"] = (d,)
            m[b + "norm1.bias"] = (d,)
            m[b + "attn.qkv.weight"] = (3 * d, d)
            if self.qkv_bias:
                m[b + "attn.qkv.bias"] = (3 * d,)
            m[b + "attn.proj.weight"] = (d, d)
            m[b + "attn.proj.bias"] = (d,)
            m[b + "norm2.weight"] = (d,)
            m[b + "norm2.bias"] = (d,)
            m[b + "mlp.fc1.weight"] = (h, d)
            m[b + "mlp.fc1.bias"] = (h,)
            m[b + "mlp.fc2.weight"] = (d, h)
            m[b + "mlp.fc2.bias"] = (d,)
        n = "fc_norm" if self.fc_norm else "norm"
        m[n + ".weight"] = (d,)
        m[n + ".bias"] = (d,)
        m["head.weight"] = (k, d)
        m["head.bias"] = (k,)
        if self.dist:
            m["head_dist.weight"] = (k, d)
            m["head_dist.bias"] = (k,)
        return m

    def to_json(self):
        return {"img_size": list(self.img), "patch_size": self.patch, "embed_dim": self.dim, "depth": self.depth,
                "num_heads": self.heads, "mlp_hidden": self.mlp, "num_classes": self.classes,
                "qkv_bias": self.qkv_bias, "class_token": self.cls, "dist_token": self.dist,
                "global_pool": self.pool, "fc_norm": self.fc_norm, "norm_eps": self.eps}


def attention(x, w, b, cfg, size=None, prop_attn=False, want=()):
    """timm 0.4.12 Attention: returns (out, stats) with stats holding the probes a reducer wants."""
    B, N, C = x.shape
    H = cfg.heads
    hd = C // H
    qkv = F.linear(x, w["attn.qkv.weight"], w.get("attn.qkv.bias"))
    qkv = qkv.reshape(B, N, 3, H, hd).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    attn = (q @ k.transpose(-2, -1)) * (hd ** -0.5)
    if prop_attn and size is not None:
        attn = attn + size.log()[:, None, None, :, 0]
    attn = attn.softmax(dim=-1)
    out = (attn @ v).transpose(1, 2).reshape(B, N, C)
    out = F.linear(out, w["attn.proj.weight"], w["attn.proj.bias"])
    stats = {}
    if "metric" in want:
        stats["metric"] = k.mean(1)
    if "cls_attn" in want:
        stats["cls_attn"] = attn[:, :, 0, :].sum(1)  # [B, N]
    if "vnorm" in want:
        stats["vnorm"] = v.transpose(1, 2).reshape(B, N, C).norm(dim=-1)  # [B, N]
    if "received" in want:
        stats["received"] = attn.mean(dim=(1, 2))
    stats["attn"] = attn
    return out, stats


def block_weights(sd, i):
    p = f"blocks.{i}."
    return {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}


def embed(pixels, sd, cfg):
    x = F.conv2d(pixels, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=cfg.patch)
    x = x.flatten(2).transpose(1, 2)
    B = x.shape[0]
    pre = []
    if cfg.cls:
        pre.append(sd["cls_token"].reshape(1, 1, -1).expand(B, -1, -1))
    if cfg.dist:
        pre.append(sd["dist_token"].reshape(1, 1, -1).expand(B, -1, -1))
    x = torch.cat(pre + [x], dim=1)
    return x + sd["pos_embed"].reshape(1, cfg.tokens, cfg.dim)


def head(x, sd, cfg, size=None, size_weighted=False):
    eps = cfg.eps
    if cfg.pool == "token":
        x = F.layer_norm(x, (cfg.dim,), sd["norm.weight"], sd["norm.bias"], eps)
        if cfg.dist:
            a = F.linear(x[:, 0], sd["head.weight"], sd["head.bias"])
            b = F.linear(x[:, 1], sd["head_dist.weight"], sd["head_dist.bias"])
            return (a + b) / 2
        return F.linear(x[:, 0], sd["head.weight"], sd["head.bias"])
    if not cfg.fc_norm:
        x = F.layer_norm(x, (cfg.dim,), sd["norm.weight"], sd["norm.bias"], eps)
    t = x[:, cfg.prefix:]
    if size_weighted and size is not None:
        s = size[:, cfg.prefix:]
        pooled = (t * s).sum(1) / s.sum(1)
    else:
        pooled = t.mean(dim=1)
    if cfg.fc_norm:
        pooled = F.layer_norm(pooled, (cfg.dim,), sd["fc_norm.weight"], sd["fc_norm.bias"], eps)
    return F.linear(pooled, sd["head.weight"], sd["head.bias"])


def block(i, x, size, sd, cfg, reducer, state):
    """Block i: attention residual, the reducer's in-block step, MLP residual. Returns (x, size)."""
    w = block_weights(sd, i)
    want = reducer.want(i) if reducer else ()
    prop = reducer.prop_attn if reducer else False
    a, stats = attention(F.layer_norm(x, (cfg.dim,), w["norm1.weight"], w["norm1.bias"], cfg.eps), w, None, cfg,
                         size=size, prop_attn=prop, want=want)
    x = x + a
    if reducer:
        x, size = reducer.in_block(i, x, size, stats, state)
    h = F.layer_norm(x, (cfg.dim,), w["norm2.weight"], w["norm2.bias"], cfg.eps)
    x = x + F.linear(F.gelu(F.linear(h, w["mlp.fc1.weight"], w["mlp.fc1.bias"])), w["mlp.fc2.weight"], w["mlp.fc2.bias"])
    return x, size


def forward(pixels, sd, cfg, reducer=None):
    """Returns (logits, trace) where trace = {"tokens": [[n per block] per image], ...}.
    `reducer` (optional) implements: want(i) -> set, prop_attn -> bool, in_block(i, x, size, stats, state) -> (x, size)."""
    x = embed(pixels, sd, cfg)
    B = x.shape[0]
    size = None
    state = {"source": None}
    tokens = [[] for _ in range(B)]
    for i in range(cfg.depth):
        for b in range(B):
            tokens[b].append(x.shape[1])
        x, size = block(i, x, size, sd, cfg, reducer, state)
    logits = head(x, sd, cfg, size, getattr(reducer, "size_weighted_pool", False))
    return logits, {"tokens": tokens, "state": state}
