"""`prpkit.LRP`: a drop-in for ``captum.attr.LRP`` on the native engine.

Same constructor and ``attribute`` signature as Captum 0.9, same numbers (Captum's hook
semantics are reproduced, see docs/semantics.md), one forward and one backward
pass per call. Differences from Captum, all deliberate:

- rules set on modules (``module.rule``) stay attached after a call (Captum deletes
  them; CaBRNet re-attaches them after every call);
- NumPy inputs give NumPy outputs; torch inputs give torch outputs (no autograd graph);
- ``additional_forward_args`` must be None (the converted graph has fixed inputs);
- a torch module is converted on first use and re-converted only when its parameters,
  buffers or rules change.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from . import _core, _torch_cache
from ._model import Model, _as_input, _is_tensor, _torch

__all__ = ["LRP"]


def _targets(target: Any, n: int, out_dims: Sequence[int]) -> np.ndarray:
    """Captum's target conventions → an (n, len(out_dims)) int64 index array."""
    rank = len(out_dims)

    def one(t, what):
        if _is_tensor(t):
            t = t.tolist()
        if isinstance(t, (int, np.integer)):
            t = (int(t),)
        if not isinstance(t, (tuple, list)) or not all(isinstance(v, (int, np.integer)) for v in t):
            raise TypeError(f"{what}: a target is an int or a tuple of ints, got {t!r}")
        if len(t) != rank:
            raise ValueError(f"{what}: target {tuple(t)} must index all {rank} output dims after the batch {tuple(out_dims)}")
        for v, d in zip(t, out_dims):
            if not -d <= v < d:
                raise IndexError(f"{what}: target {tuple(t)} is out of range for output dims {tuple(out_dims)}")
        return [int(v) % d for v, d in zip(t, out_dims)]

    if target is None:
        if int(np.prod(out_dims)) != 1:
            raise AssertionError("Target not provided when necessary, cannot take gradient with respect to "
                                 "multiple outputs.")
        return np.zeros((n, rank), dtype=np.int64)
    if _is_tensor(target) or isinstance(target, np.ndarray):
        values = target.tolist()
        if not isinstance(values, list):
            values = int(values)
        target = values
    if isinstance(target, list):
        if len(target) != n:
            raise ValueError(f"target list has {len(target)} entries for {n} examples")
        return np.array([one(t, f"target[{i}]") for i, t in enumerate(target)], dtype=np.int64).reshape(n, rank)
    row = one(target, "target")
    return np.array([row] * n, dtype=np.int64).reshape(n, rank)


def convert_with_rules(module, examples: tuple) -> tuple[Model, dict]:
    """A torch module → (prpkit Model, its rules JSON), traced with `examples`."""
    from . import _export
    from ._convert import _model_bytes
    traced_with = examples if len(examples) > 1 else examples[0]
    graph, params, rules = _export.graph_from_torch(module, traced_with, rules=True)
    core = _core.load_from_memory(_model_bytes(graph, params))
    return Model(core, json.dumps(graph, separators=(",", ":"))), rules


class _TorchSource:
    """A torch module, converted on demand through the shared conversion cache
    (`prpkit._torch_cache`: rebuilt whenever a weight, buffer, submodule or rule changes)."""

    def __init__(self, module) -> None:
        self.module = module

    def get(self, example) -> tuple[Model, dict]:
        examples = tuple(example) if isinstance(example, (tuple, list)) else (example,)
        purpose = ("lrp", tuple(tuple(e.shape[1:]) for e in examples))
        return _torch_cache.cached(self.module, purpose, lambda: convert_with_rules(self.module, examples))


class LRP:
    """Layer-wise relevance propagation with Captum's semantics, computed natively.

    Args:
        model: a `prpkit.Model`, a model returned by `prpkit.prp_utils`'s composite
            functions, or a ``torch.nn.Module`` (converted on the fly; ``module.rule``
            attributes set to Captum's, CaBRNet's or `prpkit.rules` objects are honoured,
            and CaBRNet's composite layers — ZBetaConv2d, Alpha1Beta0Conv2d, StackedSum,
            DecisionLRPWrapper — are recognised).
        rules: optional explicit rules ``{node_name: rule}`` (prpkit or Captum rule
            objects), on top of Captum's defaults and any ``module.rule``.
    """

    def __init__(self, model: Any, rules: dict | None = None) -> None:
        self._config: dict = {}
        self._source = None
        if isinstance(model, Model):
            # A CompositeModel runs its composite's graph; propagate from its source model
            # with the composite's configuration (never apply the composite twice).
            self._model = getattr(model, "_source", None) or model
            self._config = dict(getattr(model, "_explainer_config", None) or {})
        else:
            torch = _torch()
            if torch is None or not isinstance(model, torch.nn.Module):
                raise TypeError(f"LRP expects a prpkit.Model or a torch.nn.Module, got {type(model).__module__}."
                                f"{type(model).__qualname__}")
            self._source = _TorchSource(model)
            self._model = None
        self._explicit = {name: _rule_json(r, name) for name, r in (rules or {}).items()}
        self._explainer = None
        self._explainer_model = None  # the Model the explainer was built on (held: ids get reused)

    @property
    def model(self):
        """The model being explained (the torch module when one was given)."""
        return self._source.module if self._source else self._model

    def _get_explainer(self, example):
        if self._source is not None:
            model, rules = self._source.get(example)
            config = {"rules": {"by_node": {**rules.get("by_node", {}), **self._explicit}}}
        else:
            model = self._model
            config = json.loads(json.dumps(self._config))
            if self._explicit:
                config.setdefault("rules", {}).setdefault("by_node", {}).update(self._explicit)
        if model is not self._explainer_model:
            self._explainer = _core.Explainer(model._core, json.dumps(config))
            self._explainer_model = model
        return self._explainer

    def rules(self, example_input: Any = None) -> dict:
        """The rule every node gets ({node: rule JSON or None}); for a torch module pass an example."""
        ex = self._get_explainer(self._example(example_input))
        return json.loads(ex.rules_json())

    def _example(self, x):
        if x is None and self._source is not None:
            raise ValueError("rules() of a torch module needs an example input")
        return x

    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                  return_convergence_delta: bool = False, verbose: bool = False) -> Any:
        """Relevance of every input element for ``target`` (Captum's signature).

        Args:
            inputs: a float32 tensor/array (N, ...) or a tuple of them (one per model input).
            target: int (a class), tuple (an index into every output dim after the batch,
                e.g. ``(p, h, w)`` of a similarity map), a list with one such entry per
                example, a tensor of per-example classes, or None for scalar outputs.
            additional_forward_args: must be None.
            return_convergence_delta: also return ``s - sum(attribution)`` per example.
            verbose: print the rule applied to every node, as Captum does.

        Returns:
            Attributions shaped like ``inputs`` (a tuple when ``inputs`` is a tuple), and the
            convergence delta (N,) when asked. torch in → torch out, NumPy in → NumPy out.
        """
        if additional_forward_args is not None:
            raise NotImplementedError("prpkit.LRP: additional_forward_args is not supported; the graph has fixed inputs")
        is_tuple = isinstance(inputs, tuple)
        items = list(inputs) if is_tuple else [inputs]
        bufs = [_as_input(x, i) for i, x in enumerate(items)]
        to_torch = any(_is_tensor(x) for x in items)
        example = tuple(x if _is_tensor(x) else _torch_example(x) for x in items)
        if self._source is not None:
            _torch_cache.warn_if_training(self._source.module, "prpkit.LRP")
        explainer = self._get_explainer(example if self._source else None)
        n = memoryview(bufs[0]).shape[0]
        out_dims = explainer.output_shapes(bufs)[0][1:]
        t = _targets(target, n, out_dims)
        if verbose:
            for node, rule in json.loads(explainer.rules_json()).items():
                print(f"Applied {rule} on node {node}")
        relevance, scores, deltas = explainer.attribute(bufs, 0, t)
        arrays = [np.frombuffer(buf, np.float32).reshape(shape) for buf, shape in relevance]
        delta = np.frombuffer(deltas, np.float32).copy()
        if to_torch:
            torch = _torch()
            arrays = [torch.from_numpy(a) for a in arrays]
            delta = torch.from_numpy(delta)
        result = tuple(arrays) if is_tuple else arrays[0]
        return (result, delta) if return_convergence_delta else result

    def propagate(self, inputs: Any, start: Any, output_index: int = 0) -> Any:
        """Relevance for explicit start relevances ``start`` (N·K, output dims...), K maps per
        example (row r belongs to example r // K), in ONE batched backward pass. Nothing is
        multiplied at the end. Returns (N·K, input dims...) per model input."""
        items = list(inputs) if isinstance(inputs, tuple) else [inputs]
        bufs = [_as_input(x, i) for i, x in enumerate(items)]
        example = tuple(x if _is_tensor(x) else _torch_example(x) for x in items)
        explainer = self._get_explainer(example if self._source else None)
        res = explainer.propagate(bufs, output_index, _as_input(start, 0, "start"))
        arrays = [np.frombuffer(buf, np.float32).reshape(shape) for buf, shape in res]
        if any(_is_tensor(x) for x in items):
            arrays = [_torch().from_numpy(a) for a in arrays]
        return tuple(arrays) if isinstance(inputs, tuple) else arrays[0]

    def has_convergence_delta(self) -> bool:
        return True


def _torch_example(x):
    torch = _torch()
    if torch is not None and isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    return x


def _rule_json(rule: Any, name: str) -> dict:
    from ._rules_from_torch import rule_to_json
    j = rule_to_json(rule, f"rule for node '{name}'")
    if j is None:
        raise ValueError(f"rule for node '{name}': None is not a rule")
    return j
