"""PPT and DFE + LGTM written from docs/methods.md (LGTM as vitrim interprets the paper)
as reducers for vit_ref.forward, with decision margins recorded so fixtures avoid near-ties."""
import math
import torch

import tome_ref


class PPT:
    def __init__(self, cfg, r=50, layers=(3, 6, 9), threshold=7e-5, prop_attn=True):
        self.cfg, self.r, self.layers, self.threshold, self.prop_attn = cfg, r, set(layers), threshold, prop_attn
        self.size_weighted_pool = False
        self.margins = []          # ToMe margins of pooled images and prune-order gaps (absolute)
        self.decision_margins = []  # |var/θ - 1|
        self.decisions = {}        # block -> ["prune"/"pool"] per image
        self.variances = {}

    def want(self, i):
        return ("metric", "cls_attn", "vnorm") if i in self.layers else ()

    def in_block(self, i, x, size, stats, state):
        if i not in self.layers:
            return x, size
        B, N, C = x.shape
        r = min(self.r, (N - 1) // 2)
        if r <= 0:
            return x, size
        score = stats["cls_attn"][:, 1:] * stats["vnorm"][:, 1:]
        score = score / score.sum(dim=-1, keepdim=True)
        score = torch.cat([torch.full((B, 1), 2.0, dtype=score.dtype), score], dim=1)
        var = score[:, 1:].var(dim=-1)
        self.variances[i] = [float(v) for v in var]
        pool = var < self.threshold
        self.decisions[i] = ["pool" if p else "prune" for p in pool.tolist()]
        self.decision_margins += [abs(float(v) / self.threshold - 1) for v in var] if self.threshold > 0 else []
        size_in = size if (size is not None and self.prop_attn) else torch.ones(B, N, 1)
        source = state["source"]
        if source is None:
            source = torch.eye(N)[None].expand(B, N, N)
        out_x = torch.zeros(B, N - r, C)
        out_s = torch.zeros(B, N - r, 1)
        out_src = torch.zeros(B, N - r, source.shape[2])
        idx = pool.nonzero()[:, 0]
        if len(idx):
            merge = tome_ref.bipartite_soft_matching(stats["metric"][idx], r, True, self.cfg.dist, self.margins)
            xm, sm = tome_ref.merge_wavg(merge, x[idx], size_in[idx])
            out_x[idx], out_s[idx], out_src[idx] = xm, sm, merge(source[idx], mode="amax")
        idx = (~pool).nonzero()[:, 0]
        if len(idx):
            sc, order = torch.sort(score[idx], dim=-1, descending=True, stable=True)
            gaps = sc[:, 1:N - r + 1] - sc[:, 2:N - r + 2] if N - r + 1 < N else sc[:, 1:-1] - sc[:, 2:]
            self.margins.append(float(gaps.min()) if gaps.numel() else math.inf)
            keep = order[:, :N - r]
            out_x[idx] = x[idx].gather(1, keep[..., None].expand(-1, -1, C))
            out_s[idx] = size_in[idx].gather(1, keep[..., None])
            out_src[idx] = source[idx].gather(1, keep[..., None].expand(-1, -1, source.shape[2]))
        state["source"] = out_src
        return out_x, out_s


class Lgtm:
    """dense, switch, r, windows=(rows, cols), proportional attention."""

    def __init__(self, cfg, r, dense=2, switch=7, windows=(2, 2), prop_attn=True):
        self.cfg, self.r, self.dense, self.switch, self.windows, self.prop_attn = cfg, r, dense, switch, windows, prop_attn
        self.size_weighted_pool = False
        self.margins = []

    def want(self, i):
        return ("metric",) if i >= self.dense and self.r > 0 else ()

    def window_of(self, p):
        gh, gw = self.cfg.grid
        wr, wc = self.windows
        return (p // gw // (gh // wr)) * wc + (p % gw) // (gw // wc)

    def in_block(self, i, x, size, stats, state):
        if i < self.dense or self.r <= 0:
            return x, size
        B, N, C = x.shape
        if size is None:
            size = torch.ones(B, N, 1)
        source = state["source"]
        if source is None:
            source = torch.eye(N)[None].expand(B, N, N)
        metric = stats["metric"]
        if i >= self.switch:
            merge = tome_ref.bipartite_soft_matching(metric, self.r, self.cfg.cls, self.cfg.dist, self.margins)
            state["source"] = merge(source, mode="amax")
            return tome_ref.merge_wavg(merge, x, size)
        pre = self.cfg.prefix
        nwin = self.windows[0] * self.windows[1]
        rw = -(-self.r // nwin)
        xs, ss, srcs = [], [], []
        for b in range(B):
            # window of each current token = window of (any of) its source patches
            owner = source[b].argmax(dim=0)  # original token -> current token
            win = [-1] * N
            for q in range(pre, source.shape[2]):
                win[int(owner[q])] = self.window_of(q - pre)
            parts_x, parts_s, parts_src = [x[b, :pre]], [size[b, :pre]], [source[b, :pre]]
            for w in range(nwin):
                idx = torch.tensor([t for t in range(pre, N) if win[t] == w], dtype=torch.long)
                merge = tome_ref.bipartite_soft_matching(metric[b:b + 1, idx], rw, False, False, self.margins)
                xw, sw = tome_ref.merge_wavg(merge, x[b:b + 1, idx], size[b:b + 1, idx])
                parts_x.append(xw[0])
                parts_s.append(sw[0])
                parts_src.append(merge(source[b:b + 1, idx], mode="amax")[0])
            xs.append(torch.cat(parts_x))
            ss.append(torch.cat(parts_s))
            srcs.append(torch.cat(parts_src))
        state["source"] = torch.stack(srcs)
        return torch.stack(xs), torch.stack(ss)
