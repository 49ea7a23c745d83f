"""torch.nn modules, functions and Tensor methods → prpkit nodes."""

from __future__ import annotations

import operator

import numpy as np

from .._errors import UnsupportedOperation
from .graph import (_adaptive_size, _avg_pool_attrs, _conv2d_attrs, _describe, _fn_name,
                    _max_pool_attrs)
from .leaves import _cabrnet_leaf_types, _composite_leaf_types, _composite_types, _overrides_forward
from .tracing import _COMPARISONS, _Const, _bind, _example_from_meta
from .values import _ChannelsLast


class TorchOps:
    """The _Converter methods that lower torch operations (a mixin of converter._Converter)."""

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
        if isinstance(x, _ChannelsLast):
            return self.channels_last_module(m, name, n, args, kwargs, meta)
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
        act = _module_activation(m, name)
        if act is not None:
            return g.node(name, act, [x])
        if isinstance(m, (nn.Dropout, nn.Dropout2d, nn.Dropout1d, nn.Dropout3d, nn.AlphaDropout)):
            return g.node(name, "dropout", [x])
        if isinstance(m, nn.Identity):
            return x
        if isinstance(m, nn.Flatten):
            return self.flatten(name, x, n, m.start_dim, m.end_dim)
        if isinstance(m, nn.Sequential) and len(m) == 0:
            return x
        out = self.modern_module(m, name, n, list(args))
        if out is not NotImplemented:
            return out
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
        if args and isinstance(args[0], _ChannelsLast):
            return self.channels_last_call(fn, name, n, args, kwargs, method=False)
        out = self.modern_function(fn, name, n, args, kwargs)
        if out is not NotImplemented:
            return out
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
        act = _function_activation(fn, args, kwargs, name)
        if act is not None:
            return g.node(name, act, [args[0]])
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
        if isinstance(self_, _ChannelsLast):
            return self.channels_last_call(method, name, n, args, kwargs, method=True)
        out = self.modern_method(method, name, n, args, kwargs)
        if out is not NotImplemented:
            return out
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


# ---------------------------------------------------------------- activations of modern trunks

def _module_activation(m, name: str):
    """The prpkit kind of an activation module (ReLU6, Hardtanh(0, 6), SiLU, GELU,
    Hardswish, Hardsigmoid), or None. In-place variants compute the same values: the
    graph has no aliasing, so `inplace` needs no special handling beyond its value."""
    import torch.nn as nn
    if isinstance(m, nn.ReLU6) or (type(m) is nn.Hardtanh and m.min_val == 0 and m.max_val == 6):
        return "relu6"
    if isinstance(m, nn.Hardtanh):
        raise UnsupportedOperation(f"{name} ({_describe(m)}): Hardtanh is supported with min_val=0, max_val=6 (ReLU6) only")
    if isinstance(m, nn.SiLU):
        return "silu"
    if isinstance(m, nn.GELU):
        return _gelu_kind(m.approximate, name)
    if isinstance(m, nn.Hardswish):
        return "hardswish"
    if isinstance(m, nn.Hardsigmoid):
        return "hardsigmoid"
    return None


def _function_activation(fn, args, kwargs, name: str):
    """The prpkit kind of an activation function call, or None."""
    import torch.nn.functional as F
    if fn is F.relu6:
        return "relu6"
    if fn is F.hardtanh:
        lo = kwargs.get("min_val", args[1] if len(args) > 1 else -1.0)
        hi = kwargs.get("max_val", args[2] if len(args) > 2 else 1.0)
        if (lo, hi) != (0, 6):
            raise UnsupportedOperation(f"F.hardtanh at {name}: supported with min_val=0, max_val=6 (ReLU6) only")
        return "relu6"
    if fn is F.silu:
        return "silu"
    if fn is F.gelu:
        return _gelu_kind(kwargs.get("approximate", args[1] if len(args) > 1 else "none"), name)
    if fn is F.hardswish:
        return "hardswish"
    if fn is F.hardsigmoid:
        return "hardsigmoid"
    return None


def _gelu_kind(approximate, name: str) -> str:
    if approximate == "none":
        return "gelu"
    if approximate == "tanh":
        return "gelu_tanh"
    raise UnsupportedOperation(f"GELU at {name}: unknown approximate={approximate!r}")
