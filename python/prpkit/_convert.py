"""Torch modules → prpkit Models: the one module that converts them and caches the
conversions.

Every conversion of a torch module starts here (torch.fx trace → graph + float32
weights → model file image → native Model, `_export` doing the graph):

- `from_torch`: the public, uncached conversion (`prpkit.from_torch`), and
  `as_prpkit_model` for the composite functions of `prpkit.prp_utils`;
- `TorchSource`: what `prpkit.LRP` / `LayerLRP` explain for a torch module — a
  `Conversion` (the Model, the rules read from ``module.rule`` attributes, where each
  leaf module went), per forward-argument shapes;
- `prp_source`: what `prpkit.prp` explains for a torch module — its Model up to the
  similarity map, or, for a model that is already a composite (``lrp_ready``), its
  `Conversion` with the composite's rules.

The cached ones are reused until the module changes (`_torch_cache.fingerprint`: a
weight, buffer, submodule, plain attribute or rule) and dropped with the module.
"""

from __future__ import annotations

import json
from typing import Any

from . import _core, _export, _safetensors, _torch_cache
from ._model import Model, _torch

__all__ = ["from_torch", "as_prpkit_model", "Conversion", "TorchSource", "prp_source", "model_from_graph",
           "canonized_source"]


def _default_example(module) -> Any:
    """A zero example input (1, C, 224, 224) from the first Conv2d, or (1, F) from the first Linear."""
    import torch
    for m in module.modules():
        if isinstance(m, torch.nn.Conv2d):
            return torch.zeros(1, m.in_channels, 224, 224)
        if isinstance(m, torch.nn.Linear):
            return torch.zeros(1, m.in_features)
    raise TypeError(f"from_torch: cannot guess the input shape of {type(module).__module__}."
                    f"{type(module).__qualname__} (no Conv2d or Linear); pass example_input")


def _model_bytes(graph: dict, params: dict) -> bytes:
    """The model file image (same layout as `_export.save_model`)."""
    referenced = {name for node in graph["nodes"] for name in node.get("parameters", {}).values()}
    missing = sorted(referenced - set(params))
    if missing:
        raise ValueError(f"graph references parameters that are not provided: {missing}")
    metadata = {"format": _export.FORMAT, "format_version": _export.FORMAT_VERSION,
                "graph": json.dumps(graph, separators=(",", ":"))}
    return _safetensors.save_bytes(params, metadata)


def from_torch(module, example_input: Any = None, *, similarity_head: bool = False) -> Model:
    """Converts a ``torch.nn.Module`` to a `prpkit.Model` (in memory, no file written).

    The module is traced with torch.fx in eval mode (its training flag is restored);
    weights are copied as float32. CaBRNet ProtoPNet models (``CaBRNet`` with a
    ``ProtoPNetClassifier``) are supported and give two outputs: ``(logits,
    min_distances)``.

    Args:
        module: the model. Supported layers: Conv2d, Linear, MaxPool2d, AvgPool2d,
            AdaptiveAvgPool2d, BatchNorm2d, ReLU, Sigmoid, Tanh, Dropout, Identity,
            additions, flatten/view/reshape keeping the batch dimension, cat.
        example_input: a tensor (or NumPy array, or a tuple/list of them) whose shapes
            become the declared input shapes. Default: zeros of shape
            ``(1, in_channels, 224, 224)`` from the first Conv2d (``(1, in_features)``
            from the first Linear if there is no Conv2d). The batch extent of the
            declared shape does not limit later calls.
        similarity_head: for CaBRNet prototype classifiers prpkit cannot convert whole
            (ProtoTree, ProtoPool, ...: any CaBRNet classifier with ``prototypes`` and a
            CaBRNet similarity layer), convert the model up to its similarity map
            (N, P, H, W), the output of CaBRNet's ``model.similarities`` — what PRP
            explains. Without it such models raise ``UnsupportedOperation``.

    Raises:
        TypeError: ``module`` is not a ``torch.nn.Module``.
        prpkit.UnsupportedOperation (a TypeError): a module or function without a prpkit
            equivalent, named with its type (e.g. ``"unsupported function
            torch.nn.functional.gelu at gelu"``).
        prpkit.PRPKitError: the library rejected the converted graph.
    """
    import numpy as np
    import torch
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch expects a torch.nn.Module, got {type(module).__module__}."
                        f"{type(module).__qualname__}")
    if example_input is None:
        example_input = _default_example(module)

    def as_tensor(e):
        if isinstance(e, np.ndarray):
            return torch.from_numpy(e)
        return e

    if isinstance(example_input, (tuple, list)):
        example_input = type(example_input)(as_tensor(e) for e in example_input)
    else:
        example_input = as_tensor(example_input)
    graph, params = _export.graph_from_torch(module, example_input, similarity_head=similarity_head)
    return Model(_core.load_from_memory(_model_bytes(graph, params)))


def as_prpkit_model(model: Any, example_input: Any = None) -> Model:
    """A prpkit Model for a prpkit Model or a torch module (converted with from_torch, up
    to the similarity map for prototype classifiers prpkit cannot convert whole)."""
    if isinstance(model, Model):
        return model
    return from_torch(model, example_input, similarity_head=True)


class Conversion:
    """A converted torch module: the Model, its rules JSON, and where each leaf module went
    ({id(module): [(output value, [node names]) per call]})."""

    __slots__ = ("model", "rules", "module_calls", "__weakref__")

    def __init__(self, model: Model, rules: dict, module_calls: dict) -> None:
        self.model, self.rules, self.module_calls = model, rules, module_calls


def convert_with_rules(module, examples: tuple) -> Conversion:
    """A torch module → `Conversion`, traced with `examples` (its forward arguments)."""
    traced_with = examples if len(examples) > 1 else examples[0]
    calls: dict = {}
    graph, params, rules = _export.graph_from_torch(module, traced_with, rules=True, module_calls=calls)
    return Conversion(Model(_core.load_from_memory(_model_bytes(graph, params))), rules, calls)


def _argument_key(v: Any) -> Any:
    """What a non-tensor forward argument contributes to the conversion cache key."""
    key = _torch_cache._plain(v)
    if key is NotImplemented:
        raise TypeError(f"additional_forward_args: a non-tensor argument is baked into the converted graph and "
                        f"must be a plain value (number, string, None, or a tuple/list/dict of them), got "
                        f"{type(v).__module__}.{type(v).__qualname__}")
    return key


class TorchSource:
    """A torch module explained by LRP, converted on demand through the conversion cache
    (rebuilt whenever a weight, buffer, submodule or rule changes)."""

    def __init__(self, module) -> None:
        self.module = module
        self.conversion: Conversion | None = None  # held here; the cache keeps a weak reference

    def get(self, args: tuple) -> Conversion:
        """The conversion for forward arguments `args` (tensors: their shapes after the
        batch matter; other values: their value)."""
        torch = _torch()
        shapes = tuple(("tensor", tuple(a.shape[1:])) if isinstance(a, torch.Tensor) else _argument_key(a)
                       for a in args)
        self.conversion = _torch_cache.cached(self.module, ("lrp", shapes),
                                              lambda: convert_with_rules(self.module, args), keep=False)
        return self.conversion


def model_from_graph(graph: dict, params: dict) -> Model:
    """A native Model from a graph dict and its float32 parameters (docs/model-format.md)."""
    return Model(_core.load_from_memory(_model_bytes(graph, params)))


def canonized_source(module, args: tuple, canonize) -> Model:
    """A torch module converted with forward arguments `args` and rewritten by
    ``canonize(graph, params) -> (graph, params)`` (the named composites' BatchNorm merge,
    `prpkit._canonize`), cached until the module changes, per argument shapes: `canonize`
    must depend on nothing else. The caller holds the Model (the cache keeps a weak
    reference)."""
    torch = _torch()
    shapes = tuple(("tensor", tuple(a.shape[1:])) if isinstance(a, torch.Tensor) else _argument_key(a) for a in args)

    def build() -> Model:
        graph, params = _export.graph_from_torch(module, args if len(args) > 1 else args[0])
        return model_from_graph(*canonize(graph, params))

    return _torch_cache.cached(module, ("lrp_canonized", shapes), build, keep=False)


def prp_source(module, example) -> Model | Conversion:
    """What prp() explains for a torch module and an example input (1, C, H, W): a module
    that is already a composite (``lrp_ready``, CaBRNet's own) as a `Conversion` whose
    rules are its modules' rules; any other module as its Model up to the similarity map,
    on which prp() builds its composite. Held by the cache (prp() is a function: nobody
    else holds it) until the module changes."""
    if hasattr(module, "lrp_ready"):
        return _torch_cache.cached(module, ("prp", tuple(example.shape[1:]), True),
                                   lambda: convert_with_rules(module, (example,)))
    return _torch_cache.cached(module, ("prp", tuple(example.shape[1:]), False),
                               lambda: from_torch(module, example, similarity_head=True))
