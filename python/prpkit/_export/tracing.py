"""torch.fx helpers: concrete arguments, constants, attribute lookup, example tensors."""

from __future__ import annotations

import operator

from .._errors import UnsupportedOperation
from .graph import _describe

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
