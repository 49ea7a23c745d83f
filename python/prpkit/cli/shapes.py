"""Each node's output shape at the model's declared input shapes (for `prpkit info`), read
from the graph and the model file's safetensors header."""

from __future__ import annotations

import json

import numpy as np


def parameter_shapes(model_path: str) -> dict[str, list[int]]:
    """{tensor name: shape} from the model file's safetensors header (no data read)."""
    import struct
    with open(model_path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
    return {k: list(v["shape"]) for k, v in header.items() if k != "__metadata__"}


def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    num = size + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


def infer_shapes(nodes: list[dict], inputs: list, params: dict[str, list[int]]) -> dict[str, list[int] | None]:
    """Each node's output shape for the declared input shapes (None where not inferred)."""
    shapes: dict[str, list[int] | None] = {name: list(shape) for name, shape in inputs}
    same = {"relu", "sigmoid", "tanh", "dropout", "identity", "batch_norm2d", "log_similarity", "add"}
    for node in nodes:
        op, attrs, ins = node["op"], node.get("attributes", {}), [shapes.get(i) for i in node["inputs"]]
        x = ins[0] if ins else None
        out = None
        try:
            if x is None:
                out = None
            elif op in same:
                out = list(x)
            elif op == "conv2d":
                w = params[node["parameters"]["weight"]]
                hw = [(x[2 + i] + 2 * attrs["padding"][i] - attrs["dilation"][i] * (w[2 + i] - 1) - 1)
                      // attrs["stride"][i] + 1 for i in range(2)]
                out = [x[0], w[0]] + hw
            elif op in ("max_pool2d", "avg_pool2d"):
                k, s, p = attrs["kernel"], attrs["stride"], attrs["padding"]
                d = attrs.get("dilation", [1, 1])
                out = x[:2] + [_pool_out(x[2 + i], k[i], s[i], p[i], d[i], attrs.get("ceil_mode", False))
                               for i in range(2)]
            elif op == "adaptive_avg_pool2d":
                out = x[:2] + list(attrs["output_size"])
            elif op == "linear":
                out = [x[0], params[node["parameters"]["weight"]][0]]
            elif op == "l2_distance":
                out = [x[0], params[node["parameters"]["prototypes"]][0]] + x[2:]
            elif op == "spatial_min":
                out = x[:2]
            elif op == "flatten" or op == "reshape":
                out = [x[0], int(np.prod(x[1:]))] if op == "flatten" else None
        except (KeyError, IndexError, TypeError):
            out = None
        shapes[node["name"]] = out
    return shapes
