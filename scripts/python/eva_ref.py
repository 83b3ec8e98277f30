"""An EVA02 forward written from timm's definitions (models/eva.py, layers/pos_embed_sincos.py) in
which every token carries its RoPE position, with ToMe (tome_ref) merging inside the blocks and a
merged token placed at the size-weighted mean of its members' positions (docs/methods.md,
"Rotary position embedding under reduction"). It runs a timm `Eva` model's own modules; only the
attention is spelled out, so that positions can be per token. At r = 0 it is timm's forward
(make_fixtures.py checks that).

pos_rule="dst" keeps a merged token at its destination's position instead (ToMe's choice for the
features' identity): only to show that the fixtures tell the two rules apart.
"""
import math

import torch

import tome_ref


def rope_angles(pos, grid, ref, bands):
    """pos [..., 2] (row, column; NaN for prefix tokens) -> angles [..., D/2] in timm's order:
    D/4 row angles, then D/4 column angles (RotaryEmbeddingCat, 'ij' indexing, no pixel mode)."""
    t = []
    for a in range(2):
        p = pos[..., a]
        if ref is not None:
            p = p / grid[a] * ref[a]  # eva's scheme for other grids, float32 like timm
        t.append(p[..., None] * bands)
    return torch.cat(t, dim=-1)


def rotate(x, ang):
    """x [B, H, N, D], ang [B, N, D/2] (NaN rows: not rotated) -> timm's apply_rot_embed_cat, interleaved pairs."""
    sin = ang.sin().repeat_interleave(2, -1)[:, None]
    cos = ang.cos().repeat_interleave(2, -1)[:, None]
    rot = torch.stack([-x[..., 1::2], x[..., ::2]], -1).reshape(x.shape)
    y = x * cos + rot * sin
    keep = torch.isnan(ang[..., :1])[:, None]  # prefix tokens
    return torch.where(keep, x, y)


def qkv(attn, y):
    b, n, c = y.shape
    h = attn.num_heads
    if attn.qkv is not None:
        bias = None if attn.q_bias is None else torch.cat((attn.q_bias, torch.zeros_like(attn.q_bias), attn.v_bias))
        t = torch.nn.functional.linear(y, attn.qkv.weight, bias).reshape(b, n, 3, h, -1).permute(2, 0, 3, 1, 4)
        return t.unbind(0)
    f = lambda lin: lin(y).reshape(b, n, h, -1).transpose(1, 2)
    return f(attn.q_proj), f(attn.k_proj), f(attn.v_proj)


def forward(m, px, r=0, pos_rule="mean", margins=None):
    """Logits (or features) of timm Eva `m` on pixels px with ToMe r per block; returns (out, tokens
    entering each block, final source map one-hot [B, N, N0])."""
    npt = m.num_prefix_tokens
    x = m.patch_embed(px)
    x, _ = m._pos_embed(x)
    x = m.norm_pre(x)
    b, n, c = x.shape
    gh, gw = m.patch_embed.grid_size
    pos = torch.full((b, n, 2), float("nan"))
    q_idx = torch.arange(gh * gw)
    pos[:, npt:, 0] = (q_idx // gw).float()
    pos[:, npt:, 1] = (q_idx % gw).float()
    rope = m.rope  # None: absolute position embedding only (EVA02-E)
    hd = c // m.blocks[0].attn.num_heads
    if rope is not None:
        bands = 1.0 / (rope.temperature ** (torch.arange(0, hd // 4, dtype=torch.int64).to(torch.float32) / (hd // 4)))
        ref = rope.ref_feat_shape
    size, source, tokens = None, None, []
    margins = [] if margins is None else margins
    for blk in m.blocks:
        tokens.append(x.shape[1])
        a = blk.attn
        post = type(blk).__name__ == "EvaBlockPostNorm"  # x + norm1(attn(x)), x + norm2(mlp(x))
        y = x if post else blk.norm1(x)
        q, k, v = qkv(a, y)
        if rope is not None:
            ang = rope_angles(pos, (gh, gw), ref, bands)
            q, k = rotate(q, ang), rotate(k, ang)
        logits = (q * a.scale) @ k.transpose(-2, -1)
        if size is not None:
            logits = logits + size.log()[:, None, None, :, 0]  # proportional attention
        o = (logits.softmax(-1) @ v).transpose(1, 2).reshape(x.shape)
        o = a.proj(a.norm(o))
        x = x + (blk.norm1(o) if post else o)
        if r > 0:
            merge = tome_ref.bipartite_soft_matching(k.mean(1), r, npt > 0, False, margins)
            source = tome_ref.merge_source(merge, x, source)
            s0 = torch.ones_like(x[..., :1]) if size is None else size
            x, size = tome_ref.merge_wavg(merge, x, size)
            if pos_rule == "mean":
                pos = merge(pos * s0, mode="sum") / size
            else:  # the destination's position: ToMe's 'dst' rows keep theirs
                kept = merge(pos, mode="mean")
                a_rows = torch.zeros_like(pos[..., :1], dtype=torch.bool)
                a_rows[:, ::2] = True
                dst = merge(torch.where(a_rows, torch.full_like(pos, -math.inf), pos), mode="amax")
                n_unm = (pos.shape[1] + 1) // 2 - min(r, (pos.shape[1] - npt) // 2)
                pos = torch.cat([kept[:, :n_unm], dst[:, n_unm:]], dim=1)
        x = x + (blk.norm2(blk.mlp(x)) if post else blk.mlp(blk.norm2(x)))
    x = m.norm(x)
    return m.forward_head(x), tokens, source
