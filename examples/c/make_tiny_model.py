#!/usr/bin/env python3
"""Writes examples/c/tiny.prpk (a prpkit model file) and tiny.expected (its outputs on
the example's input, computed here in float64 with NumPy as an independent reference).

The model: conv2d 3→2 (3×3, padding 1, bias) → relu → max_pool2d 2×2 → flatten →
linear 8→3 (bias); outputs "fc" and "pool". Input x: (1, 3, 4, 4) with
x[i] = ((i * 37) % 17) / 8 - 1 (row-major index i), the formula examples/c/forward.c uses.

The file is written with the standard library and NumPy only (no prpkit import), with
the layout prpkit itself writes (sorted names, compact JSON, header padded to 8 bytes),
so `prpkit_model_save` of the loaded model reproduces it bit for bit.

Usage: python3 make_tiny_model.py [out_dir]   (default: this script's directory)
"""
import json
import os
import struct
import sys

import numpy as np


def values(shape, seed):
    n = int(np.prod(shape))
    i = np.arange(n)
    return ((((i * 7919 + seed * 104729) % 2003) / 1001.5 - 1)).astype(np.float32).reshape(shape)


def example_input():
    i = np.arange(1 * 3 * 4 * 4)
    return (((i * 37) % 17) / 8.0 - 1.0).astype(np.float32).reshape(1, 3, 4, 4)


PARAMS = {
    "conv.weight": values((2, 3, 3, 3), 1),
    "conv.bias": values((2,), 2),
    "fc.weight": values((3, 8), 3),
    "fc.bias": values((3,), 4),
}

GRAPH = {
    "inputs": [{"name": "x", "shape": [1, 3, 4, 4]}],
    "nodes": [
        {"name": "conv", "op": "conv2d", "inputs": ["x"],
         "attributes": {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 1},
         "parameters": {"bias": "conv.bias", "weight": "conv.weight"}},
        {"name": "relu", "op": "relu", "inputs": ["conv"], "attributes": {}, "parameters": {}},
        {"name": "pool", "op": "max_pool2d", "inputs": ["relu"],
         "attributes": {"kernel": [2, 2], "stride": [2, 2], "padding": [0, 0], "dilation": [1, 1],
                        "ceil_mode": False},
         "parameters": {}},
        {"name": "flat", "op": "flatten", "inputs": ["pool"],
         "attributes": {"start_dim": 1, "end_dim": -1}, "parameters": {}},
        {"name": "fc", "op": "linear", "inputs": ["flat"], "attributes": {},
         "parameters": {"bias": "fc.bias", "weight": "fc.weight"}},
    ],
    "outputs": ["fc", "pool"],
}


def model_bytes():
    metadata = {"format": "prpkit", "format_version": "1",
                "graph": json.dumps(GRAPH, separators=(",", ":"), ensure_ascii=False)}
    header = {"__metadata__": dict(sorted(metadata.items()))}
    blobs, offset = [], 0
    for name in sorted(PARAMS):
        data = np.ascontiguousarray(PARAMS[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(PARAMS[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def reference_outputs():
    x = example_input().astype(np.float64)
    w = PARAMS["conv.weight"].astype(np.float64)
    b = PARAMS["conv.bias"].astype(np.float64)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((1, 2, 4, 4))
    for o in range(2):
        for h in range(4):
            for v in range(4):
                conv[0, o, h, v] = np.sum(xp[0, :, h:h + 3, v:v + 3] * w[o]) + b[o]
    relu = np.maximum(conv, 0)
    pool = relu.reshape(1, 2, 2, 2, 2, 2).max(axis=(3, 5))
    fc = pool.reshape(1, 8) @ PARAMS["fc.weight"].astype(np.float64).T + PARAMS["fc.bias"]
    return {"fc": fc, "pool": pool}


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(out_dir, "tiny.prpk"), "wb") as f:
        f.write(model_bytes())
    with open(os.path.join(out_dir, "tiny.expected"), "w") as f:
        f.write("# output index value (float64 NumPy reference; see make_tiny_model.py)\n")
        for name, arr in reference_outputs().items():
            for i, v in enumerate(arr.ravel()):
                f.write(f"{name} {i} {v:.9g}\n")


if __name__ == "__main__":
    main()
