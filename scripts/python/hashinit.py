"""Deterministic "hash" weights shared bit-for-bit with vitrim's Java tests.

Element i of tensor `name` is uniform in [-a, a):
    h = splitmix64(seed * 0x9E3779B97F4A7C15 ^ fnv1a64(name) + i);  u = (h >> 40) / 2^24
    value = float32((2u - 1) * a)            (computed in float64, then rounded once)
so fixtures need not carry the weights: Java regenerates them (io.vitrim.testing.HashInit).
"""
import math
import numpy as np

M64 = (1 << 64) - 1


def fnv1a64(s: str) -> int:
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & M64
    return h


def splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(seed: int, name: str, shape, a: float, center: float = 0.0) -> np.ndarray:
    n = int(np.prod(shape)) if len(shape) else 1
    base = ((seed * 0x9E3779B97F4A7C15) & M64) ^ fnv1a64(name)
    with np.errstate(over="ignore"):
        idx = np.uint64(base) + np.arange(n, dtype=np.uint64)
    h = splitmix64(idx)
    u = (h >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    v = center + (2.0 * u - 1.0) * a
    return v.astype(np.float32).reshape(shape)


def scale_for(name: str, shape, qk_gain: float = 1.0) -> tuple:
    """(center, half-width) used for a timm key. Mirrors HashInit.scaleFor in Java."""
    if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name in ("norm.weight", "fc_norm.weight"):
        return 1.0, 0.2
    if name == "attn_pool.latent":
        return 0.0, 0.5
    if name in ("norm_pre.weight", "attn_pool.norm.weight"):
        return 1.0, 0.2
    if name.endswith("attn.norm.weight") or name.endswith("mlp.norm.weight"):  # EVA's sub-LNs
        return 1.0, 0.2
    if name.endswith("q_bias") or name.endswith("v_bias"):  # EVA's fused qkv
        return 0.0, 0.1
    if name.endswith(".gamma"):  # LayerScale
        return 0.7, 0.3
    if name.endswith(".bias"):
        return 0.0, 0.1
    if name in ("cls_token", "dist_token", "reg_token", "pos_embed"):
        return 0.0, 0.5
    if name.endswith(".weight"):
        fan_in = int(np.prod(shape[1:]))
        gain = qk_gain if name.endswith("attn.qkv.weight") else 1.0
        return 0.0, gain * math.sqrt(3.0 / fan_in)
    raise ValueError(name)
