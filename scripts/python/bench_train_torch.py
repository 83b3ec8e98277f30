#!/usr/bin/env python3
"""Training throughput of timm's VisionTransformer with Debian's PyTorch, the counterpart of
vitrim-bench's TrainThroughput: full steps (forward, label-smoothed cross-entropy, backward,
AdamW) on random 32x32 images, no data loading; median img/s over rounds after warm-up.

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=<dir with timm> /usr/bin/python3 scripts/python/bench_train_torch.py \
        [--embed 192 --depth 6 --heads 3 --mlp-ratio 4 --batch 128 --rounds 5 --steps 10 --threads 2]

timm is pure Python: `python3 -m pip install --no-deps --target DIR timm-*.whl` (plus
huggingface_hub, safetensors, pyyaml wheels) is enough beside Debian's torch.
"""
import argparse
import statistics
import time

import torch
import timm

ap = argparse.ArgumentParser()
ap.add_argument("--embed", type=int, default=192)
ap.add_argument("--depth", type=int, default=6)
ap.add_argument("--heads", type=int, default=3)
ap.add_argument("--mlp-ratio", type=float, default=4.0)
ap.add_argument("--batch", type=int, default=128)
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--steps", type=int, default=10)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=4, embed_dim=a.embed,
                          depth=a.depth, num_heads=a.heads, mlp_ratio=a.mlp_ratio, num_classes=10)
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
x = torch.randn(a.batch, 3, 32, 32)
y = torch.randint(0, 10, (a.batch,))
loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)


def step():
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()


runs = []
for r in range(a.rounds + 2):  # two warm-up rounds
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    dt = time.perf_counter() - t0
    if r >= 2:
        runs.append(a.steps * a.batch / dt)
print(f"torch {torch.__version__} timm {timm.__version__}, {a.threads} threads: embed {a.embed} depth {a.depth} heads {a.heads} "
      f"batch {a.batch}: median {statistics.median(runs):.1f} img/s, runs " + " ".join(f"{v:.0f}" for v in runs))
