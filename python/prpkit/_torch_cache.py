"""The conversion cache: what identifies a torch module's state, and the conversions kept
for it (`_convert`, the one module that converts torch modules, is its user).

A conversion (a native model, its rules, or a composite built from it) is reused only
while nothing that can change its result has changed. `fingerprint(module)` covers:

- every parameter and buffer of every submodule: identity, storage address, version
  counter, dtype, shape, strides, offset, ``requires_grad`` and a digest of its bytes.
  The digest is needed because writes through ``tensor.data`` (``w.data += 1``,
  ``w.data.mul_(2)``) bump no version counter and keep the storage: only the bytes
  change. It is xxHash3-128 (≈10 GB/s, ≈10 ms per 100 MB of weights per call);
- the module tree: every submodule's qualified name, identity and type, and its plain
  attributes (numbers, strings, tuples: stride, padding, eps, a GraphModule's code, ...);
- every rule: ``module.rule`` as the rule JSON prpkit reads from it (a Captum rule whose
  epsilon is changed in place changes the key), or its type and identity.

Training flags are not part of the key: conversion always uses inference semantics (see
`warn_if_training`).
"""

from __future__ import annotations

import types
import warnings
import weakref
from typing import Any, Callable

__all__ = ["fingerprint", "cached", "warn_if_training", "TrainingModeWarning", "clear"]

# Attributes of nn.Module that are bookkeeping, not configuration.
_SKIP = frozenset({"_parameters", "_buffers", "_modules", "training", "rule", "_non_persistent_buffers_set",
                   "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
                   "_load_state_dict_post_hooks", "_forward_hooks", "_forward_hooks_with_kwargs",
                   "_forward_hooks_always_called", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
                   "_backward_hooks", "_backward_pre_hooks", "_is_full_backward_hook"})
_SIMPLE = (int, float, bool, str, bytes, type(None), complex)


class TrainingModeWarning(UserWarning):
    """A torch module with BatchNorm or Dropout in training mode is explained in
    inference mode (prpkit is inference-only)."""


def _plain(v: Any, depth: int = 0) -> Any:
    """A hashable image of a plain attribute value, or NotImplemented for other objects."""
    if isinstance(v, float):
        return (float, repr(v))  # repr: NaN must equal itself
    if isinstance(v, _SIMPLE):
        return (type(v), v)
    if isinstance(v, (types.FunctionType, types.MethodType, types.BuiltinFunctionType)):
        return ("callable", id(v))
    if depth < 3 and isinstance(v, (tuple, list)):
        items = tuple(_plain(x, depth + 1) for x in v)
        return NotImplemented if NotImplemented in items else (type(v), items)
    if depth < 3 and isinstance(v, dict):
        items = tuple((_plain(k, depth + 1), _plain(x, depth + 1)) for k, x in v.items())
        return NotImplemented if any(NotImplemented in kv for kv in items) else (dict, items)
    import enum
    if isinstance(v, enum.Enum):
        return (type(v), v.value)
    return NotImplemented


def _digest(t) -> Any:
    import torch
    import xxhash
    a = t.detach()
    if a.device.type == "meta":
        return None
    if a.device.type != "cpu":
        a = a.cpu()
    if not a.is_contiguous():
        a = a.contiguous()
    if a.numel() == 0:
        return 0
    return xxhash.xxh3_128_intdigest(a.reshape(-1).view(torch.uint8).numpy())


def _tensor_key(t, seen: dict) -> Any:
    if t is None:
        return None
    k = seen.get(id(t))
    if k is None:
        storage = t.untyped_storage().data_ptr() if t.device.type != "meta" else 0
        k = (id(t), str(t.dtype), tuple(t.shape), t.stride(), t.storage_offset(), storage, t._version,
             bool(t.requires_grad), _digest(t))
        seen[id(t)] = k
    return k


def _rule_key(rule: Any) -> Any:
    if rule is None:
        return None
    from ._rules_from_torch import rule_to_json
    try:
        return (type(rule), tuple(sorted((k, repr(v)) for k, v in rule_to_json(rule, "").items())))
    except TypeError:  # not a rule prpkit reads: conversion reports it; key on the object itself
        return (type(rule), id(rule))


def fingerprint(module) -> tuple:
    """Everything about `module` that can change what converting it gives (module docstring)."""
    parts = []
    seen: dict = {}
    for name, m in module.named_modules(remove_duplicate=False):
        attrs = []
        for k, v in vars(m).items():
            if k in _SKIP:
                continue
            p = _plain(v)
            if p is not NotImplemented:
                attrs.append((k, p))
        parts.append((name, id(m), type(m), tuple(attrs), _rule_key(getattr(m, "rule", None)),
                      tuple((k, _tensor_key(t, seen)) for k, t in m._parameters.items()),
                      tuple((k, _tensor_key(t, seen)) for k, t in m._buffers.items())))
    return tuple(parts)


# module → {purpose kind: (purpose, fingerprint, value or weak reference)}: one
# conversion per kind ("lrp", "prp", ...) and module, weak on the module (a dropped module
# drops its conversions). Entries kept weakly live as long as their user holds them (an
# LRP object holds its conversion), so a cache hit never costs memory of its own.
_CACHE: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def cached(module, purpose: tuple, build: Callable[[], Any], keep: bool = True) -> Any:
    """`build()`'s result for `module` and `purpose` (a kind, then input shapes, options,
    extra arguments), rebuilt whenever the module's fingerprint or the purpose changes.
    With `keep` the cache holds the result (prp(), a function, has nobody else to hold it);
    otherwise only a weak reference (the caller keeps it alive; it must be weak-referenceable)."""
    fp = fingerprint(module)
    entries = _CACHE.get(module)
    if entries is None:
        entries = _CACHE[module] = {}
    hit = entries.get(purpose[0])
    if hit is not None and hit[0] == purpose and hit[1] == fp:
        value = hit[2] if hit[3] else hit[2]()
        if value is not None:
            return value
    # The module changed: every conversion of it is stale; drop them before building.
    for kind in [k for k, e in entries.items() if e[1] != fp or k == purpose[0]]:
        del entries[kind]
    value = build()
    entries[purpose[0]] = (purpose, fp, value if keep else weakref.ref(value), keep)
    return value


def clear() -> None:
    """Drops every cached conversion (they are rebuilt on next use)."""
    _CACHE.clear()


_WARNED: "weakref.WeakSet[Any]" = weakref.WeakSet()


def warn_if_training(module, caller: str, stacklevel: int = 3) -> None:
    """Warns once per module when a BatchNorm or Dropout in it is in training mode:
    Captum would then use batch statistics (and random dropout), prpkit computes in
    inference mode."""
    import torch.nn as nn
    if module in _WARNED:
        return
    training = [(name, m) for name, m in module.named_modules()
                if m.training and isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd))]
    if not training:
        return
    _WARNED.add(module)
    name, m = training[0]
    more = f" and {len(training) - 1} more" if len(training) > 1 else ""
    text = (f"{caller}: {type(module).__qualname__} has layers in training mode ('{name or '(root)'}' "
            f"{type(m).__name__}{more}); prpkit computes in inference mode (BatchNorm running statistics, no "
            f"dropout) where Captum would use batch statistics. Call .eval() on the model to match Captum and "
            f"silence this warning.")
    if hasattr(module, "lrp_ready"):
        text += (" This model looks like CaBRNet's get_cabrnet_lrp_composite_model() result, which comes back "
                 "with its trunk in training mode (its deepcopy re-runs torchvision's feature-extractor "
                 "__init__, which calls train()); CaBRNet's own prp() calls .eval() on it first.")
    warnings.warn(text, TrainingModeWarning, stacklevel=stacklevel)
