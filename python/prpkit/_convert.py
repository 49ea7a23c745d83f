"""`prpkit.from_torch`: a PyTorch module (or CaBRNet model) → an in-memory `prpkit.Model`."""

from __future__ import annotations

import json
from typing import Any

from . import _core, _export, _safetensors
from ._model import Model

__all__ = ["from_torch"]


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
    graph_json = json.dumps(graph, separators=(",", ":"))
    core = _core.load_from_memory(_model_bytes(graph, params))
    return Model(core, graph_json)
