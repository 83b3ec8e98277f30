"""Token Cropr for segmentation, from the reference's own code (benbergner/cropr @ 2f8b624, segm/),
for vitrim's golden fixtures (make_fixtures.py cropr_seg).

The reference's files are put in $CROPR_SEGM_REF (default /tmp/croprref-segm): segm/cropr.py,
segmenter.py, engine.py, utils/{pad,logger,torch_utils,model_utils}.py and data/utils.py (without
data/__init__.py, which would import the ADE20k loaders); timm 1.x and einops must be importable.
Its backbone is EVA02 (RoPE, SwiGLU), which vitrim runs for inference only, so the Segmenter's own
methods — forward, forward_cropr, forward_head, set_pruning_rate — are bound to a plain timm
VisionTransformer whose blocks ignore `rope` and whose `_pos_embed` returns a per-patch index as the
position table (Cropr.prune gathers it with the tokens, as it would gather RoPE rows). The Cropr
modules are the reference's classes, built as Segmenter.__init__ builds them, and a training step
runs engine.train_one_epoch itself (its loss: main + every auxiliary loss against the labels
nearest-downsampled to the patch grid, ignore label 255). `ported_step` is that step with one
generalisation the reference cannot express (it assumes square inputs and an auxiliary grid equal
to the patch grid): an auxiliary grid of any shape, and optional class weights in the criterion.
"""
import argparse
import importlib
import os
import sys
import types

import torch
import torch.nn as nn
import torch.nn.functional as F

REF = os.environ.get("CROPR_SEGM_REF", "/tmp/croprref-segm")


def reference():
    """The reference's segm modules (cropr, segmenter, engine), imported once."""
    if "segmenter" in sys.modules and getattr(sys.modules["segmenter"], "__file__", "").startswith(REF):
        return sys.modules["cropr"], sys.modules["segmenter"], sys.modules["engine"]
    # cls/ has a cropr.py too (make_fixtures.py cropr): segm's must be the one segmenter.py imports
    for m in ("cropr", "utils", "data"):
        sys.modules.pop(m, None)
    sys.path.insert(0, REF)
    metrics = types.ModuleType("metrics")  # evaluation only (needs cv2, skimage, mmseg); not used by training
    metrics.gather_data = metrics.compute_metrics = None
    sys.modules["metrics"] = metrics
    cropr = importlib.import_module("cropr")
    segmenter = importlib.import_module("segmenter")
    engine = importlib.import_module("engine")
    assert cropr.__file__.startswith(REF) and segmenter.Cropr is cropr.Cropr
    return cropr, segmenter, engine


def build(cfg, classes, rate, epochs, queries):
    """A plain-ViT Segmenter with the reference's Cropr modules (LLF, as the reference always runs)."""
    cropr, segmenter, _ = reference()
    from timm.models.vision_transformer import Block, VisionTransformer

    class RopeBlock(Block):
        def forward(self, x, rope=None):  # EvaBlock's signature; a plain ViT has no RoPE
            return super().forward(x)

    class PlainSegmenter(VisionTransformer):
        forward = segmenter.Segmenter.forward
        forward_cropr = segmenter.Segmenter.forward_cropr
        forward_head = segmenter.Segmenter.forward_head
        set_pruning_rate = segmenter.Segmenter.set_pruning_rate

        def _pos_embed(self, x):
            x = super()._pos_embed(x)
            return x, torch.arange(x.shape[1] - 1, dtype=torch.float32)[:, None]

    m = PlainSegmenter(img_size=cfg.img, patch_size=cfg.patch, embed_dim=cfg.dim, depth=cfg.depth, num_heads=cfg.heads,
                       mlp_ratio=cfg.mlp / cfg.dim, qkv_bias=cfg.qkv_bias, num_classes=classes, global_pool="token",
                       class_token=True, block_fn=RopeBlock, drop_path_rate=0.0)
    m.patch_size = cfg.patch
    m.n_cls = classes
    m.use_cropr = True
    # Segmenter.__init__'s Cropr part, with the reference's CLI defaults (1 head, no projections, MLP ratio 4)
    n_blk = len(m.blocks)
    num_cropr_modules = n_blk - 2
    schedule = [rate] * num_cropr_modules
    schedule[0] += 1
    m.cropr = nn.ModuleList([cropr.Cropr(pruning_rate=schedule[i], num_queries=queries, num_classes=classes, embed_dim=cfg.dim,
                                         num_heads=1, pre_attn_norm=False, q_proj=False, k_proj=False, v_proj=False, mlp=True,
                                         mlp_ratio=4, training=True) for i in range(num_cropr_modules)])
    curr = torch.linspace(0, rate, steps=epochs // 2).long()
    m.pruning_rate_curr = torch.cat((curr, torch.ones(epochs // 2).long() * rate), dim=0)
    return m


def vitrim_names(sd):
    """Reference key -> vitrim key (Segmenter's head is vitrim's decoder.head)."""
    return {("decoder." + k if k.startswith("head.") else k): v for k, v in sd.items()}


class _OneBatch:
    def __init__(self, batch):
        self.batch = batch

    def set_epoch(self, epoch):
        pass

    def __len__(self):
        return 1

    def __iter__(self):
        return iter([self.batch])


class _GradCapture:
    """An optimiser that keeps the gradients instead of stepping (train_one_epoch zeroes them after)."""

    def __init__(self, model):
        self.model = model
        self.param_groups = [{"lr": 0.0}]
        self.grads = None

    def step(self):
        self.grads = {k: p.grad.detach().clone() for k, p in self.model.named_parameters() if p.grad is not None}

    def zero_grad(self):
        self.model.zero_grad()


class _NoSchedule:
    def step_update(self, num_updates):
        pass


def reference_step(model, px, labels, epoch):
    """engine.train_one_epoch on one batch: ({name: loss}, {param: grad})."""
    _, _, engine = reference()
    opt = _GradCapture(model)
    args = argparse.Namespace(use_cropr=True, accum_steps=1, use_fp16=False)
    log = engine.train_one_epoch(model, _OneBatch({"im": px, "segmentation": labels}), opt, _NoSchedule(), epoch, None, args)
    losses = {k[len("loss_"):]: m.value for k, m in log.meters.items() if k.startswith("loss_")}
    return losses, opt.grads


def ported_step(model, px, labels, epoch, aux_grid, weights, ignore=255):
    """reference_step with an auxiliary grid of any shape and optional class weights (the same criterion
    for the main and the auxiliary losses, as engine.py)."""
    model.set_pruning_rate(epoch)
    model.train()
    model.zero_grad()
    criterion = torch.nn.CrossEntropyLoss(weight=weights, ignore_index=ignore)
    # Segmenter.forward, with the auxiliary predictions arranged on aux_grid instead of the patch grid
    H, W = px.size(2), px.size(3)
    x, preds = model.forward_cropr(px)
    x = model.forward_head(x)
    gh = H // model.patch_size
    masks = x.transpose(1, 2).reshape(x.shape[0], -1, gh, x.shape[1] // gh)
    masks = F.interpolate(masks, size=(H, W), mode="bilinear")
    ah, aw = aux_grid
    # engine.py's downsampling, to aux_grid
    seg_gt_down = F.interpolate(labels.unsqueeze(1).float(), size=(ah, aw), mode="nearest").squeeze(1).long()
    losses = {"main": criterion(masks, labels)}
    for i, pred in enumerate(preds):
        aux = pred.transpose(1, 2).reshape(pred.shape[0], -1, ah, aw)
        losses["aux_%d" % (i + 1)] = criterion(aux, seg_gt_down)
    sum(losses.values()).backward()
    grads = {k: p.grad.detach().clone() for k, p in model.named_parameters() if p.grad is not None}
    return {k: float(v) for k, v in losses.items()}, grads
