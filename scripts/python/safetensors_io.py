"""Minimal safetensors writer (the Debian machine has no `safetensors` package)."""
import json
import struct
import numpy as np
import torch

_DT = {torch.float32: ("F32", np.float32), torch.float16: ("F16", np.float16), torch.float64: ("F64", np.float64)}


def save(path, tensors: dict, metadata=None, dtype=None):
    """tensors: name -> torch tensor. dtype: None (keep), 'F16', 'BF16' or 'F32'."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if dtype == "BF16":
            # round-to-nearest-even, as torch's .to(bfloat16)
            raw = t.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
            code = "BF16"
        elif dtype == "F16":
            raw, code = t.to(torch.float16).numpy(), "F16"
        else:
            raw, code = t.float().numpy(), "F32"
        b = raw.tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
