"""`prpkit.LRP`: a drop-in for ``captum.attr.LRP`` on the native engine.

Same constructor and ``attribute`` signature as Captum 0.9, same numbers (Captum's hook
semantics are reproduced, see docs/semantics.md), one forward and one backward
pass per call. Differences from Captum, all deliberate:

- rules set on modules (``module.rule``) stay attached after a call (Captum deletes
  them; CaBRNet re-attaches them after every call);
- NumPy inputs give NumPy outputs; torch inputs give torch outputs (no autograd graph);
- ``additional_forward_args``: tensors become extra graph inputs (not attributed);
  other values are baked into the conversion of a torch module (its trace is
  specialised to them), so each distinct value costs one conversion;
- a torch module is converted on first use and re-converted only when one of its
  parameters, buffers, submodules or rules changes (`prpkit._convert`);
- inference only: BatchNorm uses its running statistics even in training mode (a
  `TrainingModeWarning` says so once per module).
"""

from __future__ import annotations

import json
from typing import Any, Literal, NamedTuple, Sequence, overload

import numpy as np

from . import _canonize, _composite_extension, _core, _torch_cache, composites
from ._convert import Conversion, TorchSource
from ._model import Model, _as_input, _is_tensor, _torch
from ._threads import num_threads

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


def _forward_args(additional_forward_args: Any) -> tuple:
    """Captum's convention: None → (), a tuple as is, anything else → a 1-tuple."""
    if additional_forward_args is None:
        return ()
    return additional_forward_args if isinstance(additional_forward_args, tuple) else (additional_forward_args,)


class _Call(NamedTuple):
    """One attribution call, prepared: the explainer and every graph input buffer."""
    explainer: Any
    buffers: list          # attributed inputs first, then extra tensor arguments
    attributed: int        # how many buffers are attributed (Captum's `inputs`)
    is_tuple: bool
    to_torch: bool
    batch: int
    out_dims: tuple
    conversion: Conversion | None


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
        threads: worker threads for this explainer's calls (not in Captum; None: the
            current setting, see `prpkit.num_threads`).
        composite: a named composite (not in Captum): a `prpkit.composites` object such as
            ``EpsilonGammaBox(low=-3, high=3)``, or ``"epsilon_plus"`` /
            ``"epsilon_alpha2_beta1"``. The model (a torch module or a plain prpkit Model)
            is then canonized and explained as zennit 0.5.1 does with that composite
            (docs/composites.md); ``module.rule`` attributes are not read, and Captum's
            defaults and checks do not apply. ``rules`` still override by node name.
    """

    def __init__(self, model: Any, rules: dict | None = None, threads: int | None = None, *,
                 composite: Any = None) -> None:
        self._threads = threads
        self._config: dict = {}
        self._source = None
        self._composite = None if composite is None else composites.resolve(composite)
        self._canonized = None  # the canonized model of a named composite (held: the cache is weak)
        self._composite_rules: dict = {}
        self._given = model
        if isinstance(model, Model) and self._composite is not None:
            self._canonized = _canonize.canonize_model(model)
            self._model = self._canonized
            self._config = {"rules": {"by_node": self._composite.rules(model=self._canonized)}}
        elif isinstance(model, Model):
            # A CompositeModel runs its composite's graph; propagate from its source model
            # with the composite's configuration (never apply the composite twice).
            self._model = getattr(model, "_source", None) or model
            self._config = dict(getattr(model, "_explainer_config", None) or {})
        else:
            torch = _torch()
            if torch is None or not isinstance(model, torch.nn.Module):
                raise TypeError(f"LRP expects a prpkit.Model or a torch.nn.Module, got {type(model).__module__}."
                                f"{type(model).__qualname__}")
            self._source = TorchSource(model)
            self._model = None
        # Read on every call (a rule object changed in place must not leave a stale explainer).
        self._rules = rules if rules is not None else {}
        self._rules_json()  # invalid rules fail here, as before any call
        self._explainer = None
        # What the explainer was built from: the Model (held, since ids get reused) and the config.
        self._explainer_key: tuple | None = None

    def _rules_json(self) -> dict:
        return {name: _rule_json(r, name) for name, r in self._rules.items()}

    @property
    def model(self):
        """The model being explained (the torch module when one was given)."""
        return self._source.module if self._source else (self._given if self._canonized else self._model)

    @property
    def multiplies_by_inputs(self) -> bool:
        """True, as Captum's: LRP relevance includes the multiplication by the input."""
        return True

    def has_convergence_delta(self) -> bool:
        """True, as Captum's: `attribute` can return the convergence delta."""
        return True

    def compute_convergence_delta(self, attributions: Any, output: Any) -> Any:
        """Captum's ``compute_convergence_delta``: ``output − Σ attributions`` per example.

        Args:
            attributions: an array/tensor (N, ...) or a tuple of them (summed together).
            output: the target output values, N elements (any shape).
        Returns:
            (N,) float32, a torch tensor when ``output`` or an attribution is one.
        """
        items = list(attributions) if isinstance(attributions, tuple) else [attributions]
        to_torch = _is_tensor(output) or any(_is_tensor(a) for a in items)
        arrays = [a.detach().cpu().numpy() if _is_tensor(a) else np.asarray(a) for a in items]
        out = output.detach().cpu().numpy() if _is_tensor(output) else np.asarray(output)
        n = out.size
        total = sum(a.reshape(n, -1).sum(axis=1) for a in arrays)
        delta = (out.reshape(-1) - total).astype(np.float32)
        return _torch().from_numpy(delta) if to_torch else delta

    def _get_explainer(self, args: tuple | None):
        conversion = None
        explicit = self._rules_json()
        if self._source is not None and self._composite is not None:
            model = _canonize.canonize_torch(self._source.module, args)
            if model is not self._canonized:  # a new conversion (first call, new shapes or weights)
                self._canonized, self._composite_rules = model, self._composite.rules(model=model)
            config = {"rules": {"by_node": {**self._composite_rules, **explicit}}}
        elif self._source is not None:
            conversion = self._source.get(args)
            model = conversion.model
            config = {"rules": {"by_node": {**conversion.rules.get("by_node", {}), **explicit}}}
        else:
            model = self._model
            config = json.loads(json.dumps(self._config))
            if explicit:
                config.setdefault("rules", {}).setdefault("by_node", {}).update(explicit)
        text = json.dumps(config, sort_keys=True)
        key = self._explainer_key
        if key is None or key[0] is not model or key[1] != text:
            if self._composite is not None and explicit:
                _composite_extension.refuse_product_overrides(model.graph, explicit, type(self._composite).__name__)
            self._explainer = _core.Explainer(model._core, text)
            self._explainer_key = (model, text)
        return self._explainer, conversion

    def rules(self, example_input: Any = None) -> dict:
        """The rule every node gets ({node: rule JSON or None}); for a torch module pass an example."""
        if example_input is None and self._source is not None:
            raise ValueError("rules() of a torch module needs an example input")
        items = list(example_input) if isinstance(example_input, tuple) else [example_input]
        ex, _ = self._get_explainer(tuple(_torch_example(x) for x in items) if self._source else None)
        return json.loads(ex.rules_json())

    def _prepare(self, inputs: Any, additional_forward_args: Any, caller: str) -> _Call:
        is_tuple = isinstance(inputs, tuple)
        items = list(inputs) if is_tuple else [inputs]
        extra = _forward_args(additional_forward_args)
        bufs = [_as_input(x, i, copy_strided=True) for i, x in enumerate(items)]
        to_torch = any(_is_tensor(x) for x in items)
        if self._source is not None:
            torch = _torch()
            _torch_cache.warn_if_training(self._source.module, caller, stacklevel=4)
            # Forward arguments as torch sees them: inputs (contiguous), then the extra ones.
            args = tuple(_torch_example(b) for b in bufs) + tuple(
                _torch_example(a) if isinstance(a, np.ndarray) else a for a in extra)
            tensors = [a for a in args[len(bufs):] if isinstance(a, torch.Tensor)]
            explainer, conversion = self._get_explainer(args)
        else:
            for a in extra:
                if not (_is_tensor(a) or isinstance(a, np.ndarray)):
                    raise TypeError(f"{caller}: on a prpkit Model, additional_forward_args may hold only tensors "
                                    f"(extra graph inputs); got {type(a).__module__}.{type(a).__qualname__}")
            tensors, conversion = list(extra), None
            explainer, _ = self._get_explainer(None)
        bufs += [_as_input(t, len(bufs) + j, "additional forward argument", copy_strided=True)
                 for j, t in enumerate(tensors)]
        n = memoryview(bufs[0]).shape[0]
        out_dims = tuple(explainer.output_shapes(bufs)[0][1:])
        return _Call(explainer, bufs, len(items), is_tuple, to_torch, n, out_dims, conversion)

    @staticmethod
    def _wrap(call: _Call, arrays: list) -> Any:
        if call.to_torch:
            torch = _torch()
            arrays = [torch.from_numpy(a) for a in arrays]
        return arrays

    @overload
    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None, *,
                  return_convergence_delta: Literal[True], verbose: bool = False) -> tuple[Any, Any]: ...

    @overload
    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                  return_convergence_delta: Literal[False] = False, verbose: bool = False) -> Any: ...

    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                  return_convergence_delta: bool = False, verbose: bool = False) -> Any:
        """Relevance of every input element for ``target`` (Captum's signature).

        Args:
            inputs: a float32 tensor/array (N, ...) or a tuple of them (one per model input
                that is attributed). Non-contiguous inputs are copied.
            target: int (a class), tuple (an index into every output dim after the batch,
                e.g. ``(p, h, w)`` of a similarity map), a list with one such entry per
                example, a tensor of per-example classes, or None for scalar outputs.
            additional_forward_args: further forward arguments, passed after ``inputs`` as
                Captum does (a tuple, or one value): tensors are extra model inputs whose
                relevance is not returned; other values (torch modules only) are fixed in
                the conversion (one conversion per distinct value).
            return_convergence_delta: also return ``s − Σ attribution`` per example.
            verbose: print the rule applied to every node, as Captum does.

        Returns:
            Attributions shaped like ``inputs`` (a tuple when ``inputs`` is a tuple), and the
            convergence delta (N,) when asked. torch in → torch out, NumPy in → NumPy out.
        """
        call = self._prepare(inputs, additional_forward_args, "prpkit.LRP")
        t = _targets(target, call.batch, call.out_dims)
        if verbose:
            for node, rule in json.loads(call.explainer.rules_json()).items():
                print(f"Applied {rule} on node {node}")
        with num_threads(self._threads):
            relevance, scores, _ = call.explainer.attribute(call.buffers, 0, t)
        arrays = [np.frombuffer(buf, np.float32).reshape(shape) for buf, shape in relevance[:call.attributed]]
        arrays = self._wrap(call, arrays)
        result = tuple(arrays) if call.is_tuple else arrays[0]
        if not return_convergence_delta:
            return result
        score = np.frombuffer(scores, np.float32).copy()
        return result, self.compute_convergence_delta(result, self._wrap(call, [score])[0])

    def propagate(self, inputs: Any, start: Any, output_index: int = 0) -> Any:
        """Relevance for explicit start relevances ``start`` (N·K, output dims...), K maps per
        example (row r belongs to example r // K), in ONE batched backward pass. Nothing is
        multiplied at the end. Returns (N·K, input dims...) per model input."""
        call = self._prepare(inputs, None, "prpkit.LRP.propagate")
        with num_threads(self._threads):
            res = call.explainer.propagate(call.buffers, output_index, _as_input(start, 0, "start", copy_strided=True))
        arrays = self._wrap(call, [np.frombuffer(buf, np.float32).reshape(shape) for buf, shape in res])
        return tuple(arrays) if call.is_tuple else arrays[0]


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
