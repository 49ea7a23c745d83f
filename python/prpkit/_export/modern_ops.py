"""The ops of modern trunks (DenseNet, MobileNet, EfficientNet, ConvNeXt) → prpkit nodes:
torchvision's blocks (seen through to their layers), stochastic depth, permutes to
channels-last and the per-pixel ops between them, layer norm, layer scale and channel
gates."""

from __future__ import annotations

import operator

import numpy as np

from .._errors import UnsupportedOperation
from .graph import _describe, _np
from .tracing import _bind, _Const, _example_from_meta
from .values import _ChannelsLast, _TensorAttribute

_TO_CHANNELS_LAST = (0, 2, 3, 1)
_TO_CHANNELS_FIRST = (0, 3, 1, 2)


def _torchvision_ops():
    """torchvision.ops' StochasticDepth, Permute, FrozenBatchNorm2d and stochastic_depth,
    or None without torchvision."""
    try:
        from torchvision.ops import FrozenBatchNorm2d, Permute, StochasticDepth, stochastic_depth
    except ImportError:
        return None
    return {"StochasticDepth": StochasticDepth, "Permute": Permute, "FrozenBatchNorm2d": FrozenBatchNorm2d,
            "stochastic_depth": stochastic_depth}


def _is_plain(m, base) -> bool:
    return isinstance(m, base) and type(m).forward is base.forward


def _seen_through(m) -> bool:
    """Containers and blocks converted by tracing into them (Conv2dNormActivation,
    SqueezeExcitation, a non-empty Sequential, any module defined outside torch.nn), so
    that errors name the layer inside."""
    import torch.nn as nn
    if isinstance(m, nn.Sequential):
        return len(m) > 0
    return not type(m).__module__.startswith("torch.")


class ModernOps:
    """The _Converter methods for modern trunks (a mixin of converter._Converter)."""

    # ---- modules

    def modern_module(self, m, name, n, args):
        """The conversion of module `m` called on `args`, or NotImplemented."""
        import torch.nn as nn
        where = f"{name} ({_describe(m)})"
        x = args[0] if args else None
        tv = _torchvision_ops()
        if tv is not None and isinstance(m, tv["StochasticDepth"]):
            return self.stochastic_depth(x, m.p, m.training, where)
        if tv is not None and isinstance(m, tv["Permute"]):
            return self.permute(x, m.dims, n, where)
        if tv is not None and isinstance(m, tv["FrozenBatchNorm2d"]):
            return self.batch_norm(name, x, m.weight, m.bias, m.running_mean, m.running_var, m.eps,
                                   m.weight.shape[0], where)
        if _is_plain(m, nn.Softmax):
            return self.softmax(name, x, n, m.dim, where)
        if _is_plain(m, nn.LayerNorm):
            return self.layer_norm(name, x, n, m.normalized_shape, m.weight, m.bias, m.eps, where)
        if isinstance(x, _ChannelsLast):
            if _is_plain(m, nn.Linear):
                return self.channels_last_linear(name, x, m, where)
            if isinstance(m, (nn.Dropout, nn.Identity)):
                return x
        if _seen_through(m):
            return self.see_through(m, name, n, args)
        return NotImplemented

    def see_through(self, m, name, n, args):
        import torch.fx as fx
        examples = []
        for a, v in zip(n.args, args):
            if not isinstance(a, fx.Node) or not isinstance(v, (str, _ChannelsLast)):
                raise UnsupportedOperation(f"{name} ({_describe(m)}): non-tensor argument {v!r} to a block "
                                           f"prpkit converts by tracing into it")
            examples.append(_example_from_meta(a))
        return self.convert_module(m, list(args), examples, f"{name}.")

    def channels_last_module(self, m, name, n, args, kwargs, meta):
        """A module applied to a channels-last view: elementwise modules keep the view."""
        from .torch_ops import _module_activation
        import torch.nn as nn
        x = args[0]
        if isinstance(m, (nn.ReLU, nn.Sigmoid, nn.Tanh)) or _module_activation(m, name) is not None:
            return _ChannelsLast(self.call_module(m, name, n, [x.name], kwargs, meta))
        out = self.modern_module(m, name, n, args)
        if out is NotImplemented:
            raise UnsupportedOperation(
                f"{name} ({_describe(m)}) on a channels-last tensor (made by permute(0, 2, 3, 1)): prpkit converts "
                f"Linear, LayerNorm, activations, dropout and the permute back there")
        return out

    # ---- functions and methods

    def modern_function(self, fn, name, n, args, kwargs):
        """The conversion of function `fn`, or NotImplemented."""
        import torch
        import torch.nn.functional as F
        where = f"{name} (function {getattr(fn, '__name__', fn)})"
        tv = _torchvision_ops()
        if tv is not None and fn is tv["stochastic_depth"]:
            p = _bind(["input", "p", "mode", "training"], args, kwargs, {"training": True})
            return self.stochastic_depth(p["input"], p["p"], p["training"], where)
        if fn is torch.permute:
            p = _bind(["input", "dims"], args, kwargs, {})
            return self.permute(p["input"], p["dims"], n, where)
        if fn is F.layer_norm:
            p = _bind(["input", "normalized_shape", "weight", "bias", "eps"], args, kwargs,
                           {"weight": None, "bias": None, "eps": 1e-5})
            return self.layer_norm(name, p["input"], n, p["normalized_shape"], p["weight"], p["bias"], p["eps"], where)
        if fn in (F.softmax, torch.softmax):
            p = _bind(["input", "dim"], args, kwargs, {"dim": None})
            return self.softmax(name, p["input"], n, p["dim"], where)
        if fn is torch.mean:
            p = _bind(["input", "dim", "keepdim"], args, kwargs, {"keepdim": False})
            return self.spatial_mean(name, p["input"], n, p["dim"], p["keepdim"], where)
        if fn in (operator.mul, operator.imul, torch.mul) and any(
                isinstance(a, (str, _ChannelsLast, _TensorAttribute)) for a in args):
            return self.multiply(name, n, args, kwargs, where)
        return NotImplemented

    def modern_method(self, method, name, n, args, kwargs):
        """The conversion of Tensor method `method`, or NotImplemented."""
        where = f"{name} (method Tensor.{method})"
        if method == "permute":
            dims = args[1:] if len(args) > 2 or not isinstance(args[1], (tuple, list)) else args[1]
            return self.permute(args[0], kwargs.get("dims", dims), n, where)
        if method in ("mul", "mul_"):
            return self.multiply(name, n, args, kwargs, where)
        if method == "softmax":
            p = _bind(["self", "dim"], args, kwargs, {})
            return self.softmax(name, p["self"], n, p["dim"], where)
        if method == "mean":
            p = _bind(["self", "dim", "keepdim"], args, kwargs, {"keepdim": False})
            return self.spatial_mean(name, p["self"], n, p["dim"], p["keepdim"], where)
        return NotImplemented

    def channels_last_call(self, fn, name, n, args, kwargs, method: bool):
        """A function or method given a channels-last view."""
        from .torch_ops import _function_activation
        import torch
        import torch.nn.functional as F
        x = args[0]
        if method:
            if fn in ("size", "dim"):
                return _Const(None)
            if fn in ("contiguous", "clone", "detach"):
                return x
            if fn in ("relu", "relu_", "sigmoid", "tanh"):
                return _ChannelsLast(self.call_method(fn, name, n, [x.name] + list(args[1:]), kwargs, None))
            out = self.modern_method(fn, name, n, args, kwargs)
        else:
            if fn is getattr:
                return _Const(tuple(self.input_shape(n, 0))) if args[1] == "shape" else _Const(None)
            if fn in (F.relu, torch.relu, torch.sigmoid, F.sigmoid, torch.tanh, F.tanh, F.dropout) or \
                    _function_activation(fn, args, kwargs, name) is not None:
                return _ChannelsLast(self.call_function(fn, name, n, [x.name] + list(args[1:]), kwargs, None))
            out = self.modern_function(fn, name, n, args, kwargs)
        if out is NotImplemented:
            what = f"method Tensor.{fn}" if method else f"function {getattr(fn, '__name__', fn)}"
            raise UnsupportedOperation(
                f"{name} ({what}) on a channels-last tensor (made by permute(0, 2, 3, 1)): prpkit converts Linear, "
                f"LayerNorm, activations, dropout and the permute back there")
        return out

    # ---- lowering

    def stochastic_depth(self, x, p, training, where):
        if training and p > 0:
            # (modules convert in eval mode; this is the function called with training=True)
            raise UnsupportedOperation(f"{where}: stochastic depth in training mode is random")
        return x  # identity at inference

    def permute(self, x, dims, n, where):
        rank = len(self.input_shape(n, 0))
        dims = tuple(int(d) % rank for d in dims)
        if dims == tuple(range(rank)):
            return x
        if isinstance(x, str) and rank == 4 and dims == _TO_CHANNELS_LAST:
            return _ChannelsLast(x)
        if isinstance(x, _ChannelsLast) and dims == _TO_CHANNELS_FIRST:
            return x.name
        layout = "a channels-last" if isinstance(x, _ChannelsLast) else f"a rank-{rank}"
        raise UnsupportedOperation(f"{where}: permute{dims} of {layout} tensor; prpkit converts (0, 2, 3, 1) "
                                   f"(channels-last, for per-pixel layers) and (0, 3, 1, 2) back")

    def softmax(self, name, x, n, dim, where):
        """Softmax over the channels (dim 1) of (N, C, …)."""
        rank = len(self.input_shape(n, 0))
        if not isinstance(x, str) or dim is None or rank < 2 or int(dim) % rank != 1:
            raise UnsupportedOperation(f"{where}: softmax over dim {dim} of a rank-{rank} tensor; prpkit converts the "
                                       f"softmax over the channels (dim=1)")
        return self.g.node(name, "softmax", [x])

    def spatial_mean(self, name, x, n, dim, keepdim, where):
        """The mean over H and W of (N, C, H, W): global average pooling (squeeze-excitation
        written with x.mean((2, 3), keepdim=True))."""
        rank = len(self.input_shape(n, 0))
        dims = sorted(int(d) % rank for d in (dim if isinstance(dim, (tuple, list)) else (dim,)))
        if not isinstance(x, str) or rank != 4 or dims != [2, 3]:
            raise UnsupportedOperation(f"{where}: mean over {dim} of a rank-{rank} tensor; prpkit converts the "
                                       f"mean over the spatial dimensions (2, 3) of (N, C, H, W)")
        out = self.g.node(name, "adaptive_avg_pool2d", [x], {"output_size": [1, 1]})
        return out if keepdim else self.g.node(f"{name}.flatten", "flatten", [out], {"start_dim": 1, "end_dim": -1})

    def layer_norm(self, name, x, n, normalized_shape, weight, bias, eps, where):
        """LayerNorm over the channels: of a channels-last view (ConvNeXt) or of (N, C)."""
        shape = tuple(self.input_shape(n, 0))
        channels_last = isinstance(x, _ChannelsLast)
        c = shape[-1]
        normalized = tuple(int(s) for s in (normalized_shape if isinstance(normalized_shape, (tuple, list))
                                            else (normalized_shape,)))
        if not (channels_last or (isinstance(x, str) and len(shape) == 2)) or normalized != (c,):
            raise UnsupportedOperation(
                f"{where}: LayerNorm over {list(normalized)} of a tensor of shape {list(shape)}; prpkit converts "
                f"LayerNorm over the channels: of (N, C), or after permute(0, 2, 3, 1) (LayerNorm2d)")
        params = {"weight": self.affine_parameter(f"{name}.weight", weight, np.ones(c, np.float32)),
                  "bias": self.affine_parameter(f"{name}.bias", bias, np.zeros(c, np.float32))}
        g = self.g
        out = g.node(name, "layer_norm", [x.name if channels_last else x], {"epsilon": float(eps)}, params)
        return _ChannelsLast(out) if channels_last else out

    def affine_parameter(self, name, value, default):
        """A module's tensor, a tensor attribute read by F.layer_norm (named as in the
        module tree), or the default when it is None."""
        if isinstance(value, _TensorAttribute):
            return self.g.param(value.qualified_name, value.tensor)
        if value is None:
            return self.g.param(name, array=default)
        return self.g.param(name, value)

    def channels_last_linear(self, name, x, m, where):
        """A Linear over the channels of a channels-last view is a 1×1 convolution."""
        g = self.g
        w = _np(m.weight)
        params = {"weight": g.param(f"{name}.weight", array=w.reshape(w.shape + (1, 1)))}
        if m.bias is not None:
            params["bias"] = g.param(f"{name}.bias", m.bias)
        attrs = {"stride": [1, 1], "padding": [0, 0], "dilation": [1, 1], "groups": 1}
        return _ChannelsLast(g.node(name, "conv2d", [x.name], attrs, params))

    def multiply(self, name, n, args, kwargs, where):
        """a * b of two tensors (equal shapes or a per-channel gate), or a per-channel
        tensor attribute times a tensor (layer scale)."""
        if kwargs or len(args) != 2:
            raise UnsupportedOperation(f"{where}: only a * b of two operands is supported")
        a, b = args
        if any(isinstance(v, _ChannelsLast) for v in args):
            raise UnsupportedOperation(f"{where}: multiplying a channels-last tensor (after permute(0, 2, 3, 1)); "
                                       f"prpkit converts products of channels-first tensors")
        if isinstance(a, _TensorAttribute) or isinstance(b, _TensorAttribute):
            scale, x, i = (a, b, 1) if isinstance(a, _TensorAttribute) else (b, a, 0)
            return self.channel_scale(name, x, scale, self.input_shape(n, i), where)
        if not (isinstance(a, str) and isinstance(b, str)):
            raise UnsupportedOperation(f"{where}: multiplying by a constant is not supported (only tensor * tensor "
                                       f"and per-channel parameters)")
        sa, sb = list(self.input_shape(n, 0)), list(self.input_shape(n, 1))
        if not _multipliable(sa, sb):
            raise UnsupportedOperation(f"{where}: product of shapes {sa} and {sb}; prpkit converts equal shapes and "
                                       f"per-channel gates (N, C, 1, 1) × (N, C, H, W)")
        return self.g.node(name, "mul", [a, b])

    def channel_scale(self, name, x, scale, x_shape, where):
        if not isinstance(x, str):
            raise UnsupportedOperation(f"{where}: {scale.describe()} times a non-tensor")
        s = tuple(int(d) for d in scale.tensor.shape)
        c = x_shape[1] if len(x_shape) >= 2 else 0
        aligned = (1,) * (len(x_shape) - len(s)) + s  # broadcasting aligns the trailing dimensions
        if len(s) > len(x_shape) or aligned[0] != 1 or aligned[1] != c or any(d != 1 for d in aligned[2:]):
            raise UnsupportedOperation(f"{where}: {scale.describe()} times a tensor of shape {list(x_shape)}; "
                                       f"prpkit converts per-channel scales ({c}, 1, 1) only")
        weight = self.g.param(scale.qualified_name, array=_np(scale.tensor).reshape(c))
        return self.g.node(name, "channel_scale", [x], {}, {"weight": weight})


def _multipliable(a: list, b: list) -> bool:
    if a == b:
        return True
    full, gate = (a, b) if len(a) and np.prod(a) >= np.prod(b) else (b, a)
    return len(full) >= 3 and len(gate) == len(full) and gate[:2] == full[:2] and all(d == 1 for d in gate[2:])

