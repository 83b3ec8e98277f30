"""ToMe written from docs/methods.md (ToMe; the reference's merge.py + timm patch), as a reducer for
vit_ref.forward. Records the decision margins so fixtures can avoid near-ties."""
import math
import torch


def parse_r(num_layers, r):
    inflect = 0
    if isinstance(r, list):
        if len(r) < num_layers:
            r = r + [0] * (num_layers - len(r))
        return list(r)
    elif isinstance(r, tuple):
        r, inflect = r
    min_val = int(r * (1.0 - inflect))
    max_val = 2 * r - min_val
    step = (max_val - min_val) / (num_layers - 1)
    return [int(min_val + step * i) for i in range(num_layers)]


def bipartite_soft_matching(metric, r, class_token, distill_token, margins):
    protected = int(class_token) + int(distill_token)
    t = metric.shape[1]
    r = min(r, (t - protected) // 2)
    if r <= 0:
        return lambda x, mode="mean": x
    with torch.no_grad():
        metric = metric / metric.norm(dim=-1, keepdim=True)
        a, b = metric[..., ::2, :], metric[..., 1::2, :]
        scores = a @ b.transpose(-1, -2)
        if class_token:
            scores[..., 0, :] = -math.inf
        if distill_token:
            scores[..., :, 0] = -math.inf
        node_max, node_idx = scores.max(dim=-1)
        # stable descending: the documented deterministic tie rule
        edge_idx = torch.sort(node_max, dim=-1, descending=True, stable=True)[1][..., None]
        unm_idx = edge_idx[..., r:, :]
        src_idx = edge_idx[..., :r, :]
        dst_idx = node_idx[..., None].gather(dim=-2, index=src_idx)
        if class_token:
            unm_idx = unm_idx.sort(dim=1)[0]
        # margins: selection boundary, argmax of sources, and the order of unmerged tokens when it matters
        sm = node_max.gather(-1, edge_idx[..., 0])
        finite = torch.isfinite(sm)
        gaps = (sm[..., :-1] - sm[..., 1:])
        gaps = torch.where(finite[..., 1:], gaps, torch.full_like(gaps, math.inf))
        if r < gaps.shape[-1] + 1 and gaps.shape[-1] >= r:
            margins.append(float(gaps[..., r - 1].min()))
        if not class_token:
            margins.append(float(gaps[..., r:].min()) if gaps.shape[-1] > r else math.inf)
        if scores.shape[-1] >= 2:
            top2 = scores.topk(2, dim=-1)[0]
            src_rows = src_idx[..., 0]
            m2 = (top2[..., 0] - top2[..., 1]).gather(-1, src_rows)
            margins.append(float(m2.min()))

    def merge(x, mode="mean"):
        src, dst = x[..., ::2, :], x[..., 1::2, :]
        n, t1, c = src.shape
        unm = src.gather(dim=-2, index=unm_idx.expand(n, t1 - r, c))
        src = src.gather(dim=-2, index=src_idx.expand(n, r, c))
        dst = dst.scatter_reduce(-2, dst_idx.expand(n, r, c), src, reduce=mode)
        if distill_token:
            return torch.cat([unm[:, :1], dst[:, :1], unm[:, 1:], dst[:, 1:]], dim=1)
        return torch.cat([unm, dst], dim=1)

    return merge


def merge_wavg(merge, x, size=None):
    if size is None:
        size = torch.ones_like(x[..., 0, None])
    x = merge(x * size, mode="sum")
    size = merge(size, mode="sum")
    return x / size, size


def merge_source(merge, x, source=None):
    if source is None:
        n, t, _ = x.shape
        source = torch.eye(t, device=x.device)[None, ...].expand(n, t, t)
    return merge(source, mode="amax")


class ToMe:
    def __init__(self, cfg, r, prop_attn=True, pool_wavg=False):
        self.cfg = cfg
        self.schedule = parse_r(cfg.depth, r)
        self.prop_attn = prop_attn
        self.size_weighted_pool = pool_wavg
        self.margins = []

    def want(self, i):
        return ("metric",) if self.schedule[i] > 0 else ()

    def in_block(self, i, x, size, stats, state):
        r = self.schedule[i]
        if r <= 0:
            return x, size
        merge = bipartite_soft_matching(stats["metric"], r, self.cfg.cls, self.cfg.dist, self.margins)
        state["source"] = merge_source(merge, x, state["source"])
        return merge_wavg(merge, x, size)


def source_map(source, n0):
    """one-hot [B, N, N0] -> per image, original token -> final token index."""
    if source is None:
        return [list(range(n0)) for _ in range(1)]
    return [[int(source[b, :, p].argmax()) for p in range(n0)] for b in range(source.shape[0])]
