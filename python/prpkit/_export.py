"""Conversion of PyTorch modules (and CaBRNet ProtoPNet models) to prpkit graphs.

`graph_from_torch(module, example_input)` traces `module` with torch.fx (in eval mode),
maps every traced operation to a prpkit op (docs/model-format.md) and returns
``(graph_dict, params)``: the graph JSON object and the float32 parameter arrays it
references. `save_model` writes both as a prpkit model file; `load_model_arrays` reads
one back.

CaBRNet models are handled structurally: the feature extractor (a torchvision
feature-extractor GraphModule + add-on layers) is converted from its fx graph, the
ProtoPNet classifier is mapped to l2_distance → spatial_min → similarity → linear.
CaBRNet's LRP composite (``get_cabrnet_lrp_composite_model``) is understood too:
ZBeta/Alpha1Beta0 layers → conv2d/linear, StackedSum → add, DecisionLRPWrapper →
l2_distance → log_similarity (the similarity map is the only output).

``graph_from_torch(..., rules=True)`` also returns the relevance rules of the model
(``module.rule`` as Captum reads it, CaBRNet's composite layers by type) as the
``{"by_node": ...}`` rule JSON of docs/explainer-config.md; see `prpkit._rules_from_torch`.
Conversion always uses eval semantics (BatchNorm running statistics).

Supported: nn.Conv2d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
nn.BatchNorm2d, nn.ReLU / F.relu / torch.relu (in-place too), nn.Sigmoid, nn.Tanh,
nn.Dropout*, nn.Identity, additions (+, +=, torch.add, Tensor.add/add_), flatten /
view / reshape keeping the batch dimension, torch.cat, and their functional forms.
Anything else raises `UnsupportedOperation` naming the module or function and its type.
"""

from __future__ import annotations

import json
import math
import operator
from typing import Any

import numpy as np

from . import _safetensors

__all__ = ["graph_from_torch", "save_model", "load_model_arrays", "UnsupportedOperation",
           "FORMAT", "FORMAT_VERSION"]

FORMAT = "prpkit"
FORMAT_VERSION = "1"


class UnsupportedOperation(TypeError):
    """A traced module or function that has no prpkit equivalent."""


# --------------------------------------------------------------------------- model file

def save_model(path: str, graph_dict: dict, params: dict[str, np.ndarray]) -> None:
    """Writes a prpkit model file: a safetensors file whose metadata carries the graph."""
    referenced = {name for node in graph_dict["nodes"] for name in node.get("parameters", {}).values()}
    missing = sorted(referenced - set(params))
    if missing:
        raise ValueError(f"graph references parameters that are not provided: {missing}")
    tensors = {k: np.ascontiguousarray(np.asarray(v, dtype=np.float32)) for k, v in params.items()}
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "graph": json.dumps(graph_dict, separators=(",", ":"))}
    _safetensors.save_file(tensors, path, metadata)


def load_model_arrays(path: str) -> tuple[dict, dict[str, np.ndarray]]:
    """Reads a prpkit model file: (graph_dict, params)."""
    tensors, metadata = _safetensors.load_file(path)
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path}: not a prpkit model file (metadata format={metadata.get('format')!r})")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported prpkit format_version {metadata.get('format_version')!r}")
    if "graph" not in metadata:
        raise ValueError(f"{path}: prpkit model file without a graph")
    return json.loads(metadata["graph"]), tensors


# --------------------------------------------------------------------------- helpers

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
            if not isinstance(i, str):
                raise UnsupportedOperation(f"node '{name}' ({op}): input {i!r} is not a tensor value")
        name = self.unique(name)
        self.nodes.append({"name": name, "op": op, "inputs": list(inputs),
                           "attributes": attributes or {},
                           "parameters": dict(sorted((parameters or {}).items()))})
        return name

    def to_dict(self, outputs: list[str]) -> dict:
        return {"inputs": self.inputs, "nodes": self.nodes, "outputs": outputs}


# --------------------------------------------------------------------------- module ops

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


# --------------------------------------------------------------------------- fx conversion

class _Converter:
    """Maps the nodes of torch.fx graphs onto a `_Graph`."""

    def __init__(self, graph: _Graph, rules: dict | None = None, similarity_head: bool = False) -> None:
        import torch  # noqa: F401  (torch is needed only for conversion)
        self.g = graph
        # Reduce CaBRNet classifiers without a prpkit decision process to their similarity map.
        self.similarity_head = similarity_head
        self.inplace: dict = {}
        # node name -> rule JSON, when converting with rules (None: rules are not collected)
        self.rules = rules

    # ---- entry points

    def trace(self, module, prefix: str, constants: dict | None = None, given: int = 1):
        """fx graph module for `module` (CaBRNet blocks are kept as leaves) called with
        `given` positional arguments; `constants` ({position: value}) are the non-tensor
        ones, which the trace is specialised to."""
        import torch.fx as fx
        if isinstance(module, fx.GraphModule) and not constants:
            return module
        leaves = _cabrnet_leaf_types() + _composite_leaf_types()
        with_rules = self.rules is not None

        class Tracer(fx.Tracer):
            def is_leaf_module(self, m, qualname):
                if isinstance(m, leaves) or _plain_subclass_leaf(m):
                    return True
                if with_rules and _rules_leaf(m):
                    return True
                return super().is_leaf_module(m, qualname)

        try:
            graph = Tracer().trace(module, concrete_args=_concrete_args(module, constants, given, prefix))
        except UnsupportedOperation:
            raise
        except Exception as e:  # fx raises many kinds of errors
            raise UnsupportedOperation(
                f"torch.fx could not trace {prefix or 'the model'} ({_describe(module)}): {e}") from e
        return fx.GraphModule(module, graph)

    def convert_module(self, module, inputs: list[Any], example_inputs: list, prefix: str):
        """Converts `module` applied to prpkit `inputs`; returns its output structure."""
        constants = {i: v.value for i, v in enumerate(inputs) if isinstance(v, _Const)}
        if constants and isinstance(module, _cabrnet_leaf_types()):
            raise UnsupportedOperation(f"{prefix or 'model'} ({_describe(module)}): non-tensor forward arguments "
                                       f"are not supported for CaBRNet models")
        cab = self.cabrnet_block(module, inputs, example_inputs, prefix)
        if cab is not NotImplemented:
            return cab
        gm = self.trace(module, prefix, constants, len(inputs))
        takes = sum(1 for n in gm.graph.nodes if n.op == "placeholder")
        if takes < len(inputs):
            raise UnsupportedOperation(f"{prefix or 'model'} ({_describe(module)}): takes {takes} inputs, given "
                                       f"{len(inputs)}")
        from torch.fx.passes.shape_prop import ShapeProp
        ShapeProp(gm).propagate(*example_inputs)
        return self.convert_graph(gm, inputs, prefix)

    # ---- fx graph walk

    def convert_graph(self, gm, inputs: list[Any], prefix: str):
        import torch
        env: dict[Any, Any] = {}
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) < len(inputs):
            raise UnsupportedOperation(f"{prefix or 'model'}: takes {len(placeholders)} inputs, given {len(inputs)}")
        for n, v in zip(placeholders, inputs):
            env[n] = v
        for n in placeholders[len(inputs):]:
            # Parameters left to their defaults (or **kwargs) are not tensors of the graph.
            env[n] = _Const(n.args[0] if n.args else None)
        modules = dict(gm.named_modules())
        for n in gm.graph.nodes:
            if n.op == "placeholder":
                continue
            if n.op == "output":
                return self.lookup(env, n.args[0])
            args = self.lookup(env, n.args)
            kwargs = self.lookup(env, n.kwargs)
            meta = n.meta.get("tensor_meta")
            first_new = len(self.g.nodes)
            if n.op == "call_module":
                m = modules[n.target]
                name = f"{prefix}{n.target}"
                out = self.call_module(m, name, n, args, kwargs, meta)
                self.g.module_calls.setdefault(id(m), []).append(
                    (out, [nd["name"] for nd in self.g.nodes[first_new:]]))
                if self.rules is not None:
                    self.module_rules(m, name, out, first_new)
            elif n.op == "call_function":
                out = self.call_function(n.target, f"{prefix}{n.name}", n, args, kwargs, meta)
                if self.rules is not None:
                    self.function_rules(first_new)
            elif n.op == "call_method":
                out = self.call_method(n.target, f"{prefix}{n.name}", n, args, kwargs, meta)
                if self.rules is not None:
                    self.function_rules(first_new)
            elif n.op == "get_attr":
                obj = _fetch_attr(gm, n.target)
                if isinstance(obj, torch.Tensor):
                    raise UnsupportedOperation(
                        f"{prefix}{n.target}: a tensor attribute used directly in the computation "
                        f"(get_attr of {_describe(obj)}) is not supported")
                out = _Const(obj)
            else:
                raise UnsupportedOperation(f"{prefix}{n.name}: unknown fx node kind {n.op!r}")
            env[n] = out
            if n in self.inplace:
                env[self.inplace.pop(n)] = out
        raise UnsupportedOperation(f"{prefix or 'model'}: fx graph without output")

    def lookup(self, env, a):
        import torch.fx as fx
        if isinstance(a, fx.Node):
            return env[a]
        if isinstance(a, (list, tuple)):
            return type(a)(self.lookup(env, x) for x in a)
        if isinstance(a, dict):
            return {k: self.lookup(env, v) for k, v in a.items()}
        return a

    # ---- rules (graph_from_torch(..., rules=True))

    def module_rules(self, m, name, out, first_new):
        """Records the rule of leaf module `m` on the node it was converted to."""
        from . import _rules_from_torch as R
        if isinstance(m, _cabrnet_leaf_types()):
            return  # CaBRNet blocks: converted (and given rules) structurally
        rule = R.module_rule(m, f"{name} ({_describe(m)})")
        if rule is None:
            return
        new = [nd["name"] for nd in self.g.nodes[first_new:]]
        if len(new) == 1 and out == new[0]:
            self.rules[out] = rule
        elif not new:
            if rule["rule"] not in ("gradient", "identity", "pass_through"):
                raise R.UnsupportedRule(f"{name} ({_describe(m)}): rule {rule} on a module that computes "
                                        f"nothing in the prpkit graph")
        else:
            raise R.UnsupportedRule(f"{name} ({_describe(m)}): rule {rule} on a module converted to "
                                    f"{len(new)} nodes {new}")

    def function_rules(self, first_new):
        """Functions (F.relu, torch.sigmoid, F.max_pool2d, ...) have no Captum hook: their
        ordinary backward applies. The native default table is by op kind, so every such
        node of a kind with a native default (or none) is marked "gradient"."""
        for nd in self.g.nodes[first_new:]:
            if nd["op"] not in _FUNCTIONAL_KINDS:
                self.rules[nd["name"]] = {"rule": "gradient"}

    def _inplace(self, n, target):
        """Marks `n` as mutating `target`: later readers of `target` see `n`'s output."""
        self.inplace[n] = target

    # ---- modules

    def call_module(self, m, name, n, args, kwargs, meta):
        import torch.nn as nn
        cab = NotImplemented
        if isinstance(m, _cabrnet_leaf_types()):
            examples = [_example_from_meta(a) for a in n.args]
            cab = self.cabrnet_block(m, list(args), examples, f"{name}.")
        if cab is not NotImplemented:
            return cab
        x = args[0] if args else None
        if kwargs:
            raise UnsupportedOperation(f"{name} ({_describe(m)}): keyword arguments {list(kwargs)} in the call")
        g = self.g
        comp = _composite_types()
        if getattr(type(m), "_prpkit_op", None) == "add":
            # prpkit.prp_utils.StackedSum (its rule travels as module.rule)
            return self.add(name, n, list(args), {}, f"{name} ({_describe(m)})", inplace=False)
        if _overrides_forward(m) and not isinstance(m, _composite_leaf_types()):
            raise UnsupportedOperation(f"unsupported module {name} of type {_describe(m)}: it subclasses a "
                                       f"torch.nn layer but overrides forward")
        if comp is not None and isinstance(m, comp["StackedSum"]):
            # CaBRNet's replacement of `+` (rule "stacked_sum", set by module_rules)
            return self.add(name, n, list(args), {}, f"{name} ({_describe(m)})", inplace=False)
        if comp is not None and isinstance(m, comp["SimilarityLRPWrapper"]):
            raise UnsupportedOperation(f"{name} ({_describe(m)}): prpkit converts this layer as part of "
                                       f"CaBRNet's DecisionLRPWrapper only")
        if isinstance(m, nn.Conv2d):
            params = {"weight": g.param(f"{name}.weight", m.weight)}
            if m.bias is not None:
                params["bias"] = g.param(f"{name}.bias", m.bias)
            return g.node(name, "conv2d", [x], _conv2d_attrs(m, name), params)
        if isinstance(m, nn.Linear):
            self.require_rank(n, 0, 2, name, m)
            params = {"weight": g.param(f"{name}.weight", m.weight)}
            if m.bias is not None:
                params["bias"] = g.param(f"{name}.bias", m.bias)
            return g.node(name, "linear", [x], {}, params)
        if isinstance(m, nn.MaxPool2d):
            if m.return_indices:
                raise UnsupportedOperation(f"{name} ({_describe(m)}): return_indices=True")
            return g.node(name, "max_pool2d", [x], _max_pool_attrs(
                m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, name))
        if isinstance(m, nn.AvgPool2d):
            return g.node(name, "avg_pool2d", [x], _avg_pool_attrs(
                m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override, name))
        if isinstance(m, nn.AdaptiveAvgPool2d):
            in_shape = self.input_shape(n, 0)
            return g.node(name, "adaptive_avg_pool2d", [x],
                          {"output_size": _adaptive_size(m.output_size, in_shape, name)})
        if isinstance(m, nn.BatchNorm2d):
            return self.batch_norm(name, x, m.weight, m.bias, m.running_mean, m.running_var, m.eps,
                                   m.num_features, f"{name} ({_describe(m)})")
        if isinstance(m, nn.ReLU):
            if m.inplace:
                self._inplace(n, n.args[0])
            return g.node(name, "relu", [x])
        if isinstance(m, nn.Sigmoid):
            return g.node(name, "sigmoid", [x])
        if isinstance(m, nn.Tanh):
            return g.node(name, "tanh", [x])
        if isinstance(m, (nn.Dropout, nn.Dropout2d, nn.Dropout1d, nn.Dropout3d, nn.AlphaDropout)):
            return g.node(name, "dropout", [x])
        if isinstance(m, nn.Identity):
            return x
        if isinstance(m, nn.Flatten):
            return self.flatten(name, x, n, m.start_dim, m.end_dim)
        if isinstance(m, nn.Sequential) and len(m) == 0:
            return x
        raise UnsupportedOperation(f"unsupported module {name} of type {_describe(m)}")

    def batch_norm(self, name, x, weight, bias, mean, var, eps, c, where):
        if mean is None or var is None:
            raise UnsupportedOperation(f"{where}: BatchNorm without running statistics "
                                       f"(track_running_stats=False) has no inference form")
        g = self.g
        w = g.param(f"{name}.weight", weight) if weight is not None else g.param(
            f"{name}.weight", array=np.ones(c, np.float32))
        b = g.param(f"{name}.bias", bias) if bias is not None else g.param(
            f"{name}.bias", array=np.zeros(c, np.float32))
        params = {"weight": w, "bias": b, "running_mean": g.param(f"{name}.running_mean", mean),
                  "running_var": g.param(f"{name}.running_var", var)}
        return g.node(name, "batch_norm2d", [x], {"epsilon": float(eps)}, params)

    # ---- functions and methods

    def call_function(self, fn, name, n, args, kwargs, meta):
        import torch
        import torch.nn.functional as F
        g = self.g
        where = f"{name} (function {_fn_name(fn)})"
        if fn in (operator.add, operator.iadd, torch.add):
            return self.add(name, n, args, kwargs, where, inplace=fn is operator.iadd)
        if fn in (F.relu, torch.relu, torch.relu_, F.relu_):
            inplace = fn in (torch.relu_, F.relu_) or bool(kwargs.get("inplace") or
                                                          (len(args) > 1 and args[1]))
            if inplace:
                self._inplace(n, n.args[0])
            return g.node(name, "relu", [args[0]])
        if fn in (torch.sigmoid, F.sigmoid):
            return g.node(name, "sigmoid", [args[0]])
        if fn in (torch.tanh, F.tanh):
            return g.node(name, "tanh", [args[0]])
        if fn in (F.dropout, F.dropout2d, torch.dropout):
            return g.node(name, "dropout", [args[0]])
        if fn is torch.flatten:
            start = kwargs.get("start_dim", args[1] if len(args) > 1 else 0)
            end = kwargs.get("end_dim", args[2] if len(args) > 2 else -1)
            return self.flatten(name, args[0], n, start, end)
        if fn in (torch.reshape,):
            return self.reshape(name, args[0], n, where)
        if fn in (torch.cat, torch.concat, torch.concatenate):
            tensors = args[0]
            dim = kwargs.get("dim", kwargs.get("axis", args[1] if len(args) > 1 else 0))
            rank = len(self.input_shape(n, 0, nested=True))
            if dim % rank == 0:
                raise UnsupportedOperation(f"{where}: concatenation along the batch dimension")
            return g.node(name, "concat", list(tensors), {"axis": int(dim)})
        if fn is F.max_pool2d or fn is torch.max_pool2d:
            p = _bind(["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"],
                      args, kwargs, {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False,
                                     "return_indices": False})
            if p["return_indices"]:
                raise UnsupportedOperation(f"{where}: return_indices=True")
            return g.node(name, "max_pool2d", [p["input"]], _max_pool_attrs(
                p["kernel_size"], p["stride"], p["padding"], p["dilation"], p["ceil_mode"], where))
        if fn is F.avg_pool2d:
            p = _bind(["input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                       "divisor_override"], args, kwargs,
                      {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True,
                       "divisor_override": None})
            return g.node(name, "avg_pool2d", [p["input"]], _avg_pool_attrs(
                p["kernel_size"], p["stride"], p["padding"], p["ceil_mode"], p["count_include_pad"],
                p["divisor_override"], where))
        if fn is F.adaptive_avg_pool2d:
            p = _bind(["input", "output_size"], args, kwargs, {})
            return g.node(name, "adaptive_avg_pool2d", [p["input"]],
                          {"output_size": _adaptive_size(p["output_size"], self.input_shape(n, 0), where)})
        if fn is operator.getitem:
            obj, idx = args
            if isinstance(obj, _Const):
                return _Const(obj.value[idx])
            if isinstance(obj, (tuple, list, dict)):
                return obj[idx]
            raise UnsupportedOperation(f"{where}: indexing a tensor is not supported")
        if fn is getattr:
            obj, attr = args
            if attr in ("shape",) and isinstance(obj, str):
                return _Const(tuple(self.input_shape(n, 0)))
            if isinstance(obj, _Const):
                return _Const(getattr(obj.value, attr))
        if fn in (operator.mul, operator.floordiv, operator.sub) and not any(isinstance(a, str) for a in args):
            return _Const(None)
        if fn in _COMPARISONS and all(isinstance(a, _Const) or not isinstance(a, str) for a in args):
            # the guards fx adds for arguments the trace is specialised to (`concrete_args`)
            return _Const(fn(*[a.value if isinstance(a, _Const) else a for a in args]))
        if fn is torch._assert and isinstance(args[0], _Const):
            if not args[0].value:
                raise UnsupportedOperation(f"{where}: {args[1] if len(args) > 1 else 'assertion failed'}")
            return _Const(None)
        raise UnsupportedOperation(f"unsupported function {_fn_name(fn)} at {name}")

    def call_method(self, method, name, n, args, kwargs, meta):
        g = self.g
        where = f"{name} (method Tensor.{method})"
        self_ = args[0] if args else None
        if method == "size" or method == "dim":
            return _Const(None)
        if method in ("add", "add_"):
            return self.add(name, n, args, kwargs, where, inplace=method == "add_")
        if method in ("relu", "relu_"):
            if method == "relu_":
                self._inplace(n, n.args[0])
            return g.node(name, "relu", [self_])
        if method in ("sigmoid", "tanh"):
            return g.node(name, method, [self_])
        if method == "flatten":
            start = kwargs.get("start_dim", args[1] if len(args) > 1 else 0)
            end = kwargs.get("end_dim", args[2] if len(args) > 2 else -1)
            return self.flatten(name, self_, n, start, end)
        if method in ("view", "reshape"):
            return self.reshape(name, self_, n, where)
        if method in ("contiguous", "clone", "detach"):
            return self_
        raise UnsupportedOperation(f"unsupported method Tensor.{method} at {name}")

    # ---- shared lowering

    def add(self, name, n, args, kwargs, where, inplace):
        if kwargs.get("alpha", 1) != 1 or len(args) != 2:
            raise UnsupportedOperation(f"{where}: only a + b of two tensors is supported")
        a, b = args
        if not (isinstance(a, str) and isinstance(b, str)):
            raise UnsupportedOperation(f"{where}: adding a constant is not supported (only tensor + tensor)")
        sa, sb = self.input_shape(n, 0), self.input_shape(n, 1)
        if list(sa) != list(sb):
            raise UnsupportedOperation(f"{where}: broadcasting addition {list(sa)} + {list(sb)} is not supported")
        if inplace:
            self._inplace(n, n.args[0])
        return self.g.node(name, "add", [a, b])

    def flatten(self, name, x, n, start, end):
        rank = len(self.input_shape(n, 0))
        s, e = int(start) % rank, int(end) % rank
        if s == 0 and e > 0:
            raise UnsupportedOperation(f"{name}: flatten over the batch dimension (start_dim=0) is not supported")
        if s >= e:
            return x
        return self.g.node(name, "flatten", [x], {"start_dim": int(start), "end_dim": int(end)})

    def reshape(self, name, x, n, where):
        in_shape = list(self.input_shape(n, 0))
        meta = n.meta.get("tensor_meta")
        if meta is None:
            raise UnsupportedOperation(f"{where}: output shape unknown")
        out_shape = list(meta.shape)
        if not out_shape or out_shape[0] != in_shape[0]:
            raise UnsupportedOperation(f"{where}: reshaping {in_shape} to {out_shape} does not keep the batch dimension")
        if out_shape == in_shape:
            return x
        if len(out_shape) == 2:
            return self.g.node(name, "flatten", [x], {"start_dim": 1, "end_dim": -1})
        return self.g.node(name, "reshape", [x], {"shape": [int(s) for s in out_shape[1:]]})

    def require_rank(self, n, i, rank, name, m):
        shape = self.input_shape(n, i)
        if len(shape) != rank:
            raise UnsupportedOperation(f"{name} ({_describe(m)}): input of rank {len(shape)} "
                                       f"(shape {list(shape)}), prpkit supports rank {rank}")

    @staticmethod
    def input_shape(n, i, nested=False):
        import torch.fx as fx
        a = n.args[i]
        if nested and isinstance(a, (list, tuple)):
            a = a[0]
        if not isinstance(a, fx.Node) or a.meta.get("tensor_meta") is None:
            raise UnsupportedOperation(f"{n.name}: argument {i} is not a tensor of known shape")
        meta = a.meta["tensor_meta"]
        if not hasattr(meta, "shape"):
            raise UnsupportedOperation(f"{n.name}: argument {i} is not a single tensor")
        return tuple(meta.shape)

    # ---- CaBRNet

    def cabrnet_block(self, m, inputs, example_inputs, prefix):
        """Structural conversion of CaBRNet modules; NotImplemented for anything else."""
        types = _cabrnet_types()
        if types is None or not isinstance(m, _cabrnet_leaf_types()):
            return NotImplemented
        import torch
        if isinstance(m, types["CaBRNet"]):
            feats_example = None
            if example_inputs is not None:
                with torch.no_grad():
                    feats_example = [m.extractor(*example_inputs)]
            feats = self.convert_module(m.extractor, inputs, example_inputs, f"{prefix}extractor.")
            return self.convert_module(m.classifier, [feats], feats_example, f"{prefix}classifier.")
        if isinstance(m, types["ConvExtractor"]):
            return self.conv_extractor(m, inputs, example_inputs, prefix)
        comp = _composite_types()
        if comp is not None and isinstance(m, comp["DecisionLRPWrapper"]):
            return self.decision_lrp_wrapper(m, inputs, prefix)
        if isinstance(m, types["ProtoPNetClassifier"]):
            return self.protopnet_classifier(m, inputs, prefix)
        if self.similarity_head:
            return self.similarity_map(m, inputs, prefix)
        raise UnsupportedOperation(
            f"{prefix.rstrip('.') or 'model'}: the decision process of {_describe(m)} has no prpkit equivalent "
            f"(prpkit converts ProtoPNet classifiers whole). PRP needs only its similarity map: use "
            f"prpkit.prp, prpkit.prp_utils.get_cabrnet_lrp_composite_model or get_corrected_lrp_composite_model")

    def conv_extractor(self, m, inputs, example_inputs, prefix):
        import torch
        import torch.fx as fx
        from torch.fx.passes.shape_prop import ShapeProp
        if m.num_pipelines != 1:
            raise UnsupportedOperation(f"{prefix}: ConvExtractor with {m.num_pipelines} pipelines "
                                       f"(prpkit supports one)")
        if not isinstance(m.convnet, fx.GraphModule):
            raise UnsupportedOperation(f"{prefix}convnet: extractor trunk of type {_describe(m.convnet)} "
                                       f"(only torchvision feature extractors are supported)")
        ShapeProp(m.convnet).propagate(*example_inputs)
        out = self.convert_graph(m.convnet, inputs, f"{prefix}convnet.")
        if isinstance(out, dict):
            if len(out) != 1:
                raise UnsupportedOperation(f"{prefix}convnet: {len(out)} outputs, expected one")
            out = next(iter(out.values()))
        if m.add_on:
            with torch.no_grad():
                feats = m.convnet(*example_inputs)
            feats = next(iter(feats.values())) if isinstance(feats, dict) else feats
            out = self.convert_module(m.add_on, [out], [feats], f"{prefix}add_on.")
        return out

    def decision_lrp_wrapper(self, m, inputs, prefix):
        """CaBRNet's DecisionLRPWrapper (get_cabrnet_lrp_composite_model): the similarity map.

        `classifier.similarity_layer` (SimilarityLRPWrapper, a ProtoPNetSimilarity):
        l2_distance (cdist) named after that module, then `classifier.similarities`
        (log_similarity); the output is the (N, P, H, W) map, with no min-pooling and no
        last layer. Rules: prototype_similarity on the distance, pass_through on the log.
        """
        from . import _rules_from_torch as R
        comp = _composite_types()
        sim = m.similarity_layer
        g = self.g
        where = f"{prefix}similarity_layer ({_describe(sim)})"
        if not isinstance(sim, comp["SimilarityLRPWrapper"]):
            raise UnsupportedOperation(f"{where}: DecisionLRPWrapper without CaBRNet's SimilarityLRPWrapper")
        protos = m.prototypes
        if protos.dim() != 4 or tuple(protos.shape[2:]) != (1, 1):
            raise UnsupportedOperation(f"{prefix}prototypes: shape {tuple(protos.shape)}, expected (P, D, 1, 1)")
        dist = g.node(f"{prefix}similarity_layer", "l2_distance", [inputs[0]], {"mode": "cdist"},
                      {"prototypes": g.param(f"{prefix}prototypes", protos)})
        sims = g.node(f"{prefix}similarities", "log_similarity", [dist],
                      {"epsilon": float(sim.stability_factor)})
        if self.rules is not None:
            self.rules[dist] = R.module_rule(sim, where)
            self.rules[sims] = dict(R.PASS_THROUGH)
        return sims

    def similarity_map(self, m, inputs, prefix):
        """Any CaBRNet prototype classifier, reduced to its similarity map (N, P, H, W):
        ``classifier.similarities(features)``, i.e. ``similarity_layer.distances`` (an
        ``l2_distance`` node named ``{prefix}distances``) then
        ``similarity_layer.distances_to_similarities`` (``{prefix}similarities``). The
        classifier is recognised by what it computes, not by its class: it must keep
        CaBRNetClassifier's ``similarities`` and hold ``prototypes`` (P, D, 1, 1) and a
        ``similarity_layer`` whose two functions are CaBRNet's squared-L2 distances and
        log/exp similarities (`_similarity_ops`)."""
        types = _cabrnet_types()
        where = f"{prefix.rstrip('.')} ({_describe(m)})"
        if type(m).similarities is not types["CaBRNetClassifier"].similarities:
            raise UnsupportedOperation(f"{where}: overrides CaBRNetClassifier.similarities; prpkit cannot tell "
                                       f"what its similarity map is")
        sim = getattr(m, "similarity_layer", None)
        protos = getattr(m, "prototypes", None)
        if sim is None or not hasattr(protos, "dim"):
            raise UnsupportedOperation(f"{where}: no prototypes tensor and similarity_layer (nothing for PRP "
                                       f"to explain)")
        if protos.dim() != 4 or tuple(protos.shape[2:]) != (1, 1):
            raise UnsupportedOperation(f"{prefix}prototypes: shape {tuple(protos.shape)}, expected (P, D, 1, 1)")
        mode, similarity = _similarity_ops(sim, f"{prefix}similarity_layer")
        g = self.g
        dist = g.node(f"{prefix}distances", "l2_distance", [inputs[0]], {"mode": mode},
                      {"prototypes": g.param(f"{prefix}prototypes", protos)})
        op, attrs = similarity
        return g.node(f"{prefix}similarities", op, [dist], attrs)

    def protopnet_classifier(self, m, inputs, prefix):
        types = _cabrnet_types()
        sim = m.similarity_layer
        g = self.g
        where = f"{prefix}similarity_layer ({_describe(sim)})"
        if isinstance(sim, types["SquaredEuclideanDistance"]):
            mode = "cdist"
        elif isinstance(sim, types["ProtoPNetDistance"]):
            mode = "protopnet"
        elif isinstance(sim, types["ProtoTreeDistance"]):
            mode = "prototree"
        else:
            raise UnsupportedOperation(f"{where}: unsupported distance (prpkit supports squared L2 distances)")
        protos = m.prototypes
        if protos.dim() != 4 or tuple(protos.shape[2:]) != (1, 1):
            raise UnsupportedOperation(f"{prefix}prototypes: shape {tuple(protos.shape)}, expected (P, D, 1, 1)")
        x = inputs[0]
        dist = g.node(f"{prefix}distances", "l2_distance", [x], {"mode": mode},
                      {"prototypes": g.param(f"{prefix}prototypes", protos)})
        mins = g.node(f"{prefix}min_distances", "spatial_min", [dist])
        if getattr(m, "_compatibility_mode", False):
            # Legacy: log((d + 1) / (d + 1e-4)) without the relu (identical for d >= 0).
            sims = g.node(f"{prefix}similarities", "log_similarity", [mins], {"epsilon": 1e-4})
        elif isinstance(sim, types["LogDistance"]):
            sims = g.node(f"{prefix}similarities", "log_similarity", [mins],
                          {"epsilon": float(sim.stability_factor)})
        elif isinstance(sim, types["ExpDistance"]):
            sims = g.node(f"{prefix}similarities", "exp_similarity", [mins],
                          {"epsilon": float(sim.stability_factor),
                           "log_probabilities": bool(sim.log_probabilities)})
        else:
            raise UnsupportedOperation(f"{where}: unsupported distance-to-similarity function")
        last = m.last_layer
        params = {"weight": g.param(f"{prefix}last_layer.weight", last.weight)}
        if last.bias is not None:
            params["bias"] = g.param(f"{prefix}last_layer.bias", last.bias)
        logits = g.node(f"{prefix}last_layer", "linear", [sims], {}, params)
        return (logits, mins)


_COMPARISONS = (operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge, operator.is_,
                operator.is_not, operator.not_)


def _concrete_args(module, constants: dict | None, given: int, prefix: str) -> dict | None:
    """fx ``concrete_args`` ({parameter name: value}): `constants` ({position: value}) and,
    for the positional parameters after the `given` arguments, their non-tensor defaults
    (what calling forward with `given` arguments uses; traced as proxies, a default such
    as ``flag=False`` would fail in Python control flow)."""
    import inspect
    import torch
    try:
        params = [p for p in inspect.signature(module.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # no introspectable signature: trace as fx does
        return None
    out = {p.name: p.default for p in params[given:]
           if p.default is not p.empty and not isinstance(p.default, torch.Tensor)}
    for i, v in (constants or {}).items():
        if i >= len(params):
            raise UnsupportedOperation(f"{prefix or 'model'} ({_describe(module)}): forward argument {i} has no "
                                       f"named parameter to specialise the trace to")
        out[params[i].name] = v
    return out or None


class _Const:
    """A non-tensor value met while tracing (sizes, attributes)."""

    def __init__(self, value):
        self.value = value


def _bind(names, args, kwargs, defaults):
    out = dict(defaults)
    for k, v in zip(names, args):
        out[k] = v
    out.update(kwargs)
    missing = [k for k in names if k not in out]
    if missing:
        raise UnsupportedOperation(f"missing arguments {missing}")
    return out


def _fetch_attr(gm, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _example_from_meta(node):
    import torch
    meta = node.meta.get("tensor_meta")
    if meta is None:
        raise UnsupportedOperation(f"{node.name}: unknown input shape")
    return torch.zeros(tuple(meta.shape), dtype=meta.dtype)


def _defining_class(cls, name: str):
    """The class of `cls`'s MRO that defines attribute `name`."""
    for base in cls.__mro__:
        if name in vars(base):
            return base
    return None


def _similarity_ops(sim, where: str):
    """(l2_distance mode, (similarity op, attributes)) of a CaBRNet similarity layer, read
    from which CaBRNet building block defines its ``distances`` and
    ``distances_to_similarities`` (any class mixing them is accepted)."""
    import torch
    t = _cabrnet_types()
    cls = type(sim)
    if _defining_class(cls, "similarities") is not t["SimilarityLayer"]:
        raise UnsupportedOperation(f"{where} ({_describe(sim)}): overrides SimilarityLayer.similarities")
    modes = {t["SquaredEuclideanDistance"]: "cdist", t["ProtoPNetDistance"]: "protopnet",
             t["ProtoTreeDistance"]: "prototree"}
    mode = modes.get(_defining_class(cls, "distances"))
    if mode is None:
        raise UnsupportedOperation(f"{where} ({_describe(sim)}): unsupported distance "
                                   f"{_defining_class(cls, 'distances').__qualname__}.distances (prpkit supports "
                                   f"CaBRNet's squared L2 distances)")
    kernel = getattr(sim, "_summation_kernel", None)
    if mode != "cdist" and (kernel is None or not bool(torch.all(kernel == 1))):
        raise UnsupportedOperation(f"{where}._summation_kernel: the legacy distance is supported with its "
                                   f"all-ones summation kernel only")
    to_sim = _defining_class(cls, "distances_to_similarities")
    if to_sim is t["LogDistance"]:
        return mode, ("log_similarity", {"epsilon": float(sim.stability_factor)})
    if to_sim is t["ExpDistance"]:
        return mode, ("exp_similarity", {"epsilon": float(sim.stability_factor),
                                         "log_probabilities": bool(sim.log_probabilities)})
    raise UnsupportedOperation(f"{where} ({_describe(sim)}): unsupported distance-to-similarity function "
                               f"{to_sim.__qualname__}.distances_to_similarities (prpkit supports CaBRNet's "
                               f"log and exp similarities)")


_CAB_TYPES: dict | None | bool = False


def _cabrnet_types():
    global _CAB_TYPES
    if _CAB_TYPES is False:
        try:
            from cabrnet.archs.generic.model import CaBRNet
            from cabrnet.archs.generic.conv_extractor import ConvExtractor
            from cabrnet.archs.generic.decision import CaBRNetClassifier
            from cabrnet.archs.protopnet.decision import ProtoPNetClassifier
            from cabrnet.core.utils import similarities as s
            _CAB_TYPES = {"CaBRNet": CaBRNet, "ConvExtractor": ConvExtractor,
                          "CaBRNetClassifier": CaBRNetClassifier, "ProtoPNetClassifier": ProtoPNetClassifier,
                          "SquaredEuclideanDistance": s.SquaredEuclideanDistance,
                          "ProtoPNetDistance": s.ProtoPNetDistance, "ProtoTreeDistance": s.ProtoTreeDistance,
                          "LogDistance": s.LogDistance, "ExpDistance": s.ExpDistance,
                          "SimilarityLayer": s.SimilarityLayer}
        except Exception:  # CaBRNet is optional
            _CAB_TYPES = None
    return _CAB_TYPES


# Op kinds Captum never gives a rule (ordinary backward natively; RuleSet.functionalKinds).
_FUNCTIONAL_KINDS = frozenset({"add", "flatten", "reshape", "concat"})

_COMP_TYPES: dict | None | bool = False


def _composite_types():
    """CaBRNet's prp_utils composite classes, or None."""
    global _COMP_TYPES
    if _COMP_TYPES is False:
        from . import _rules_from_torch as R
        _COMP_TYPES = R.composite_types()
    return _COMP_TYPES


def _composite_leaf_types() -> tuple:
    c = _composite_types()
    if c is None:
        return ()
    return (c["ZBetaLayer"], c["Alpha1Beta0Layer"], c["StackedSum"], c["SimilarityLRPWrapper"])


def _rules_leaf(m) -> bool:
    """With rules: a childless module is traced as one node when prpkit can map its type, or
    when it carries a rule other than GradientRule (its rule must land on one node; an
    unmappable type then fails naming it). A childless module without a rule or with
    GradientRule is traced into: its functions' ordinary backward is what Captum uses."""
    from . import _rules_from_torch as R
    if any(True for _ in m.children()):
        return False
    rule = getattr(m, "rule", None)
    return rule is not None and not R.is_gradient_rule(rule)


def _plain_subclass_leaf(m) -> bool:
    """A childless subclass of a module type prpkit maps (nn.Conv2d, ...) that keeps the
    base class's forward: converted like its base (fx would trace into it)."""
    return (isinstance(m, _mappable_modules()) and not _overrides_forward(m)
            and not any(True for _ in m.children()))


def _overrides_forward(m) -> bool:
    """True when `m`'s forward differs from that of the torch.nn class prpkit maps it as."""
    for base in type(m).__mro__:
        if base in _mappable_modules():
            return type(m).forward is not base.forward
    return False


def _mappable_modules() -> tuple:
    import torch.nn as nn
    return (nn.Conv2d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.BatchNorm2d,
            nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
            nn.AlphaDropout, nn.Identity, nn.Flatten)


def _cabrnet_leaf_types() -> tuple:
    t = _cabrnet_types()
    if t is None:
        return ()
    return (t["CaBRNet"], t["ConvExtractor"], t["CaBRNetClassifier"])


# --------------------------------------------------------------------------- public entry

def graph_from_torch(module, example_input, *, rules: bool = False, similarity_head: bool = False,
                     module_calls: dict | None = None):
    """Converts a torch module to a prpkit graph (and, optionally, its relevance rules).

    Args:
        module: an ``nn.Module``. It is converted with EVAL semantics always: every
            submodule is put in eval mode for the conversion (BatchNorm uses its running
            statistics, Dropout is the identity) and its training flag is restored
            afterwards. This matters for CaBRNet's ``get_cabrnet_lrp_composite_model``,
            which returns the torchvision trunk in TRAINING mode (a reference quirk: a raw
            Captum ``LRP(composite)`` would then use batch statistics in the reset
            BatchNorms); prpkit matches ``composite.eval()``, as CaBRNet's ``prp()`` does.
            CaBRNet ProtoPNet models (``CaBRNet`` with a ``ConvExtractor`` or any traceable
            extractor, and a ``ProtoPNetClassifier``) are supported; their outputs are
            ``[logits, min_distances]``. CaBRNet's LRP composite (``get_cabrnet_lrp_composite_model``:
            classifier = ``DecisionLRPWrapper``) outputs the similarity map (N, P, H, W)
            only: ``l2_distance`` (cdist) named ``classifier.similarity_layer``, then
            ``log_similarity`` named ``classifier.similarities``. ZBetaConv2d/Linear and
            Alpha1Beta0Conv2d/Linear export as conv2d/linear with their own weights and
            bias, StackedSum as add.
        example_input: a tensor (or tuple/list of forward arguments) used to record
            shapes; the graph's declared input shapes are the tensors'. Non-tensor entries
            (numbers, strings, None, ...) are baked into the graph: the trace is
            specialised to their values (fx ``concrete_args``).
        rules: also return the relevance rules (keyword only).
        module_calls: a dict to fill with ``{id(leaf module): [(output value name, [node
            names created]) per call]}`` (keyword only; how LayerLRP finds a module's node).
        similarity_head: convert a CaBRNet classifier whose decision process prpkit has
            no op for (ProtoTree's soft tree, ProtoPool's slot assignment, ...) to its
            similarity map (N, P, H, W) — ``l2_distance`` then the layer's own similarity,
            what CaBRNet's ``model.similarities`` computes — instead of failing. This is
            all a PRP composite needs (keyword only; ProtoPNet classifiers are converted
            whole either way).

    Returns:
        ``(graph_dict, params)`` as described in docs/model-format.md; with
        ``rules=True``, ``(graph_dict, params, rules)`` where ``rules`` is
        ``{"by_node": {node_name: rule_json}}`` (docs/explainer-config.md), ready to be
        the ``"rules"`` member of an explainer config. Node names are module qualified
        names, so each leaf module's ``rule`` lands on the node it became. Entries:
        the rule of every leaf module that has one (Captum/CaBRNet/prpkit rule objects,
        see `prpkit._rules_from_torch`); the type rule of CaBRNet composite layers
        (zbeta, prp_alpha1_beta0, stacked_sum, prototype_similarity + pass_through on the
        similarity log); ``gradient`` on nodes that come from functions (F.relu,
        torch.sigmoid, F.max_pool2d, ...: no Captum hook). Captum's default rules
        (EpsilonRule(1e-9) on Conv2d/Linear/pools/BatchNorm2d, pass-through on
        ReLU/Dropout/Tanh modules) are NOT emitted: the native side applies them by op
        kind.

    Raises:
        UnsupportedOperation naming the first module or function without a prpkit op.
        With ``rules=True`` also: ``_rules_from_torch.MissingRule`` (a TypeError, Captum's
        message) when a leaf module has no rule and Captum has no default for its exact
        type (e.g. nn.Sigmoid, nn.Flatten, or a Conv2d subclass without a rule) — Captum's
        LRP raises TypeError there, so prpkit does not silently apply the native default
        of the op it exports to; ``_rules_from_torch.UnsupportedRule`` for a rule object
        prpkit cannot express.
    """
    import torch
    examples = list(example_input) if isinstance(example_input, (tuple, list)) else [example_input]
    if not examples or not isinstance(examples[0], torch.Tensor):
        raise TypeError(f"the first example input must be a tensor, got {type(examples[0]).__name__}"
                        if examples else "no example input")
    tensors = [e for e in examples if isinstance(e, torch.Tensor)]
    by_node: dict | None = None
    if rules:
        from . import _rules_from_torch
        _rules_from_torch.check_captum_leaves(module)
        by_node = {}
    training = {m: m.training for m in module.modules()}
    module.eval()
    try:
        g = _Graph()
        names = iter(["input"] if len(tensors) == 1 else [f"input_{i}" for i in range(len(tensors))])
        inputs = [g.add_input(next(names), e.shape) if isinstance(e, torch.Tensor) else _Const(e) for e in examples]
        with torch.no_grad():
            # Clones: tracing runs the model, and in-place ops must not touch the caller's tensors.
            out = _Converter(g, by_node, similarity_head).convert_module(
                module, inputs, [e.detach().float().clone() if isinstance(e, torch.Tensor) else e for e in examples],
                "")
    finally:
        for m, flag in training.items():
            m.training = flag
    if module_calls is not None:
        module_calls.update(g.module_calls)
    outputs = _flatten_outputs(out)
    for o in outputs:
        if o in inputs:
            raise UnsupportedOperation(f"graph output is the graph input '{o}' itself (the model computes nothing)")
    if rules:
        return g.to_dict(outputs), g.params, {"by_node": by_node}
    return g.to_dict(outputs), g.params


def _flatten_outputs(out) -> list[str]:
    if isinstance(out, str):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        res = []
        for o in out:
            res.extend(_flatten_outputs(o))
        return res
    raise UnsupportedOperation(f"model output of type {type(out).__name__} is not a tensor")
