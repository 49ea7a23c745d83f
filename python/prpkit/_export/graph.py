"""The prpkit graph being built, and attribute helpers of the torch layers it maps."""

from __future__ import annotations

import numpy as np

from .._errors import UnsupportedOperation
from .values import _ChannelsLast, _TensorAttribute


def _pair(v, what: str) -> list[int]:
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            v = (v[0], v[0])
        if len(v) != 2:
            raise UnsupportedOperation(f"{what}: expected one or two values, got {v!r}")
        return [int(v[0]), int(v[1])]
    return [int(v), int(v)]


def _np(t) -> np.ndarray:
    return t.detach().to("cpu").float().contiguous().numpy().copy()


def _describe(obj) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


def _fn_name(fn) -> str:
    mod = getattr(fn, "__module__", None) or ""
    return f"{mod}.{getattr(fn, '__name__', repr(fn))}".lstrip(".")


class _Graph:
    """Accumulates nodes and parameters of the prpkit graph being built."""

    def __init__(self) -> None:
        self.inputs: list[dict] = []
        self.nodes: list[dict] = []
        self.params: dict[str, np.ndarray] = {}
        self.names: set[str] = set()
        self.param_owner: dict[int, str] = {}  # id(torch tensor) -> parameter name
        # id(module) -> one (output value, nodes created) per call of that leaf module
        self.module_calls: dict[int, list] = {}

    def unique(self, name: str) -> str:
        name = name or "node"
        if name not in self.names:
            self.names.add(name)
            return name
        i = 1
        while f"{name}_{i}" in self.names:
            i += 1
        self.names.add(f"{name}_{i}")
        return f"{name}_{i}"

    def add_input(self, name: str, shape) -> str:
        name = self.unique(name)
        self.inputs.append({"name": name, "shape": [int(s) for s in shape]})
        return name

    def param(self, name: str, tensor=None, array: np.ndarray | None = None) -> str:
        """Registers a parameter (shared when the same torch tensor is used twice)."""
        if tensor is not None and id(tensor) in self.param_owner:
            return self.param_owner[id(tensor)]
        arr = _np(tensor) if tensor is not None else np.ascontiguousarray(array, dtype=np.float32)
        base, i = name, 1
        while name in self.params:
            name = f"{base}_{i}"
            i += 1
        self.params[name] = arr
        if tensor is not None:
            self.param_owner[id(tensor)] = name
        return name

    def node(self, name: str, op: str, inputs: list[str], attributes: dict | None = None,
             parameters: dict[str, str] | None = None) -> str:
        for i in inputs:
            if isinstance(i, _TensorAttribute):
                raise UnsupportedOperation(f"node '{name}' ({op}): a {i.describe()} used directly in the computation "
                                           f"is not supported (only as a per-channel scale, attribute * x)")
            if isinstance(i, _ChannelsLast):
                raise UnsupportedOperation(f"node '{name}' ({op}): its input is a channels-last tensor (made by "
                                           f"permute(0, 2, 3, 1)); prpkit converts Linear, LayerNorm, activations, "
                                           f"dropout and the permute back there")
            if not isinstance(i, str):
                raise UnsupportedOperation(f"node '{name}' ({op}): input {i!r} is not a tensor value")
        name = self.unique(name)
        self.nodes.append({"name": name, "op": op, "inputs": list(inputs),
                           "attributes": attributes or {},
                           "parameters": dict(sorted((parameters or {}).items()))})
        return name

    def to_dict(self, outputs: list[str]) -> dict:
        return {"inputs": self.inputs, "nodes": self.nodes, "outputs": outputs}


def _conv2d_attrs(m, where: str) -> dict:
    if getattr(m, "padding_mode", "zeros") != "zeros":
        raise UnsupportedOperation(f"{where}: Conv2d padding_mode={m.padding_mode!r} (only 'zeros')")
    k, d = _pair(m.kernel_size, where), _pair(m.dilation, where)
    padding = m.padding
    if isinstance(padding, str):
        if padding == "valid":
            padding = [0, 0]
        else:  # 'same'
            total = [d[i] * (k[i] - 1) for i in range(2)]
            if any(t % 2 for t in total):
                raise UnsupportedOperation(f"{where}: Conv2d padding='same' with asymmetric padding")
            padding = [t // 2 for t in total]
    return {"stride": _pair(m.stride, where), "padding": _pair(padding, where),
            "dilation": d, "groups": int(m.groups)}


def _max_pool_attrs(kernel, stride, padding, dilation, ceil_mode, where) -> dict:
    kernel = _pair(kernel, where)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) \
        else _pair(stride, where)
    return {"kernel": kernel, "stride": stride, "padding": _pair(padding, where),
            "dilation": _pair(dilation, where), "ceil_mode": bool(ceil_mode)}


def _avg_pool_attrs(kernel, stride, padding, ceil_mode, count_include_pad, divisor_override, where) -> dict:
    kernel = _pair(kernel, where)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) \
        else _pair(stride, where)
    return {"kernel": kernel, "stride": stride, "padding": _pair(padding, where),
            "ceil_mode": bool(ceil_mode), "count_include_pad": bool(count_include_pad),
            "divisor_override": None if divisor_override is None else int(divisor_override)}


def _adaptive_size(output_size, in_shape, where) -> list[int]:
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    out = list(output_size)
    if len(out) == 1:
        out = [out[0], out[0]]
    return [int(in_shape[2 + i]) if out[i] is None else int(out[i]) for i in range(2)]
