"""LTMP's inference block (Mxbonn/ltmp `InferenceLTMPBlock`, as docs/methods.md describes it)
written for vit_ref.forward, one image at a time (the reference runs batch 1 only). Records the
decision margins (|best similarity - θm|, |importance - θp|) so fixtures can avoid near-ties."""
import math
import torch


class LTMP:
    prop_attn = True
    size_weighted_pool = False

    def __init__(self, cfg, merge, prune):
        """merge / prune: one threshold per block, or None (off)."""
        self.cfg, self.merge, self.prune = cfg, merge, prune
        self.margins = []

    def want(self, i):
        return ("metric", "received")

    def in_block(self, i, x, size, stats, state):
        assert x.shape[0] == 1, "the reference's inference model runs batch 1"
        if size is None:
            size = torch.ones_like(x[..., 0, None])
        imp = stats["received"].clone()  # [1, N]: mean over heads and query rows
        if self.cfg.cls:
            imp[:, 0] = math.inf
        if self.merge is not None and x.shape[1] >= 2:
            th = self.merge[i]
            metric = stats["metric"] / stats["metric"].norm(dim=-1, keepdim=True)
            a, b = metric[:, ::2], metric[:, 1::2]
            scores = a @ b.transpose(-1, -2)
            if self.cfg.cls:
                scores[:, 0, :] = -math.inf
            node_max, node_idx = scores.max(dim=-1)
            finite = torch.isfinite(node_max)
            if finite.any():
                self.margins.append(float((node_max[finite] - th).abs().min()))
            g = node_max > th  # [1, na]
            xs = x * size
            xa, xb = xs[:, ::2], xs[:, 1::2].clone()
            sa, sb = size[:, ::2], size[:, 1::2].clone()
            ia, ib = imp[:, ::2], imp[:, 1::2].clone()
            src = g[0].nonzero()[:, 0]
            dst = node_idx[0, src]
            xb[0].index_add_(0, dst, xa[0, src])
            sb[0].index_add_(0, dst, sa[0, src])
            for s_, d_ in zip(src.tolist(), dst.tolist()):
                ib[0, d_] = torch.maximum(ib[0, d_], ia[0, s_])
            unm = (~g[0]).nonzero()[:, 0]
            x = torch.cat([xa[:, unm], xb], dim=1)
            size = torch.cat([sa[:, unm], sb], dim=1)
            imp = torch.cat([ia[:, unm], ib], dim=1)
            x = x / size
        if self.prune is not None:
            th = self.prune[i]
            finite = torch.isfinite(imp)
            if finite.any():
                self.margins.append(float((imp[finite] - th).abs().min()))
            keep = (imp[0] > th).nonzero()[:, 0]
            x, size = x[:, keep], size[:, keep]
        return x, size
