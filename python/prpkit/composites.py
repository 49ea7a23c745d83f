"""Named LRP composites for plain classifiers, as zennit 0.5.1 defines them.

Use one with `prpkit.LRP`:

```python
from prpkit.composites import EpsilonGammaBox
lrp = prpkit.LRP(model, composite=EpsilonGammaBox(low=-3.0, high=3.0))
relevance = lrp.attribute(x, target=3)   # zennit's relevance for one-hot(3) × score
```

or by zennit's registry name, ``composite="epsilon_plus"`` or
``"epsilon_alpha2_beta1"`` (`EpsilonGammaBox` needs its bounds, so it is given as an
object). Each composite canonizes the model as zennit's ``VGGCanonizer`` /
``ResNetCanonizer`` do (BatchNorm merged into the layer before it), then gives every node
a rule by its op: the composite's rule on conv2d (depthwise and grouped ones included),
ε-LRP on linear, ``norm`` on additions and average pools, ``pass_through`` on activations,
layer scale and BatchNorm, the ordinary backward elsewhere (max pooling, dropout, flatten).
On the ops zennit has no rule for, prpkit extends it as its PRP composites do
(`_composite_extension`): ``gate`` on products (squeeze-excitation) with their gate
branches given no relevance, LRP-ε with the scale held constant on layer norm.
docs/composites.md has the table and every place where prpkit's reading of zennit differs.
"""

from __future__ import annotations

import math
from typing import Any

from ._composite_extension import shared_rules

__all__ = ["Composite", "EpsilonPlus", "EpsilonAlpha2Beta1", "EpsilonGammaBox", "NAMES", "resolve"]

# Every activation op (each its own kind), layer scale and BatchNorm pass relevance through.
_ACTIVATIONS = {"relu", "sigmoid", "tanh", "relu6", "silu", "gelu", "gelu_tanh", "hardswish", "hardsigmoid"}
_PASS = _ACTIVATIONS | {"channel_scale", "batch_norm2d"}
_NORM = {"add", "avg_pool2d", "adaptive_avg_pool2d"}
_ORDINARY = {"flatten", "reshape", "concat"}


def _number(v: Any, what: str, minimum: float | None = 0.0) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
        raise TypeError(f"{what} must be a number, got {type(v).__module__}.{type(v).__qualname__}")
    f = float(v)
    if not math.isfinite(f) or (minimum is not None and f < minimum):
        raise ValueError(f"{what} must be a finite number{'' if minimum is None else f' ≥ {minimum:g}'}, got {v!r}")
    return f


class Composite:
    """Base of the named composites: the rules every one of them shares.

    Args:
        epsilon: ε of the ε-LRP rule on linear layers (zennit's ``epsilon``), ≥ 0.
        stabilizer: ε of every other rule's stabiliser z + ε·sign0(z) (zennit's
            ``stabilizer``), ≥ 0.
    """

    name = ""

    def __init__(self, *, epsilon: float = 1e-6, stabilizer: float = 1e-6) -> None:
        self.epsilon = _number(epsilon, f"{type(self).__name__}: epsilon")
        self.stabilizer = _number(stabilizer, f"{type(self).__name__}: stabilizer")

    def _params(self) -> dict:
        return {"epsilon": self.epsilon, "stabilizer": self.stabilizer}

    def _key(self) -> tuple:
        return (type(self).__name__,) + tuple(sorted((k, repr(v)) for k, v in self._params().items()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._params().items())})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Composite) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _conv_rule(self, node: dict, first: bool, shapes: dict) -> dict:
        raise NotImplementedError

    def rules(self, *, model) -> dict:
        """``{node name: rule JSON}`` for the nodes of a canonized `prpkit.Model`
        (docs/explainer-config.md)."""
        graph, shapes = model.graph, model.parameter_shapes
        readers: dict = {}
        for n in graph["nodes"]:
            for v in n["inputs"]:
                readers.setdefault(v, []).append(n["name"])
        out, first = {}, True
        for n in graph["nodes"]:
            op = n["op"]
            if op == "conv2d":
                out[n["name"]] = self._conv_rule(n, first, shapes)
                first = False
            elif op == "linear":
                # ε-LRP runs on Captum's tensor hooks, which equal zennit's module hooks
                # unless the layer's input is read elsewhere too: refuse that case.
                if readers.get(n["inputs"][0]) != [n["name"]]:
                    raise ValueError(f"{type(self).__name__}: the input of linear layer '{n['name']}' is also read by "
                                     f"{[r for r in readers[n['inputs'][0]] if r != n['name']]}; the composites do not "
                                     f"support a linear layer sharing its input")
                out[n["name"]] = {"rule": "epsilon", "epsilon": self.epsilon}
            elif op == "layer_norm":
                # prpkit's extension (Ali et al. 2022's LN-rule): LRP-ε with the normalising
                # scale held constant; ε and the kept bias as zennit's Epsilon on linear layers.
                out[n["name"]] = {"rule": "layer_norm_epsilon", "stability_factor": self.epsilon,
                                  "set_bias_to_zero": False}
            elif op in _NORM:
                out[n["name"]] = {"rule": "norm", "stabilizer": self.stabilizer}
            elif op in _PASS:
                out[n["name"]] = {"rule": "pass_through"}
            elif op not in _ORDINARY:
                out[n["name"]] = {"rule": "gradient"}
        # Products and their gate branches, decided as in the PRP composites.
        out.update(shared_rules(model, type(self).__name__))
        return out


class EpsilonPlus(Composite):
    """zennit's ``EpsilonPlus``: ZPlus (α1β0 with x split by sign and the bias clamped,
    zennit's definition) on every convolution, ε-LRP on linear layers."""

    name = "epsilon_plus"

    def _conv_rule(self, node, first, shapes):
        return {"rule": "alpha_beta", "alpha": 1.0, "beta": 0.0, "stabilizer": self.stabilizer}


class EpsilonAlpha2Beta1(Composite):
    """zennit's ``EpsilonAlpha2Beta1``: LRP-α2β1 on every convolution, ε-LRP on linear layers."""

    name = "epsilon_alpha2_beta1"

    def _conv_rule(self, node, first, shapes):
        return {"rule": "alpha_beta", "alpha": 2.0, "beta": 1.0, "stabilizer": self.stabilizer}


def _bounds(v: Any, what: str) -> float | list[float]:
    """A scalar bound, or one per input channel (shape (C,), (C, 1, 1) or (1, C, 1, 1))."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _number(v, what, minimum=None)
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    import numpy as np
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number or one number per input channel, got {type(v).__qualname__}") from None
    if a.ndim == 0:
        return _number(float(a), what, minimum=None)
    squeezed = a.reshape(a.shape[1:]) if a.ndim == 4 and a.shape[0] == 1 else a
    if squeezed.ndim not in (1, 3) or (squeezed.ndim == 3 and squeezed.shape[1:] != (1, 1)) or squeezed.size == 0:
        raise ValueError(f"{what}: bounds are a number or one per input channel (shape (C,), (C, 1, 1) or "
                         f"(1, C, 1, 1)), got shape {a.shape}")
    values = [float(x) for x in squeezed.reshape(-1)]
    if not all(math.isfinite(x) for x in values):
        raise ValueError(f"{what} must hold finite numbers")
    return values


class EpsilonGammaBox(Composite):
    """zennit's ``EpsilonGammaBox``: ZBox with the input bounds [low, high] on the first
    convolution, generalised LRP-γ on the other convolutions, ε-LRP on linear layers.

    Args:
        low, high: the least and greatest possible input values (after the input's
            normalisation), one number each or one per input channel; low < high.
        epsilon, stabilizer: as for `Composite`.
        gamma: γ of the convolutions after the first (zennit's default 0.25), ≥ 0.
    """

    name = "epsilon_gamma_box"

    def __init__(self, low: Any, high: Any, *, epsilon: float = 1e-6, gamma: float = 0.25,
                 stabilizer: float = 1e-6) -> None:
        super().__init__(epsilon=epsilon, stabilizer=stabilizer)
        self.gamma = _number(gamma, "EpsilonGammaBox: gamma")
        lo, hi = _bounds(low, "EpsilonGammaBox: low"), _bounds(high, "EpsilonGammaBox: high")
        if isinstance(lo, list) or isinstance(hi, list):
            n = len(lo) if isinstance(lo, list) else len(hi)
            lo = lo if isinstance(lo, list) else [lo] * n
            hi = hi if isinstance(hi, list) else [hi] * n
            if len(lo) != len(hi):
                raise ValueError(f"EpsilonGammaBox: low has {len(lo)} channel bounds, high {len(hi)}")
        pairs = zip(lo, hi) if isinstance(lo, list) else [(lo, hi)]
        if not all(a < b for a, b in pairs):
            raise ValueError(f"EpsilonGammaBox: low must be below high (every channel), got low={lo!r}, high={hi!r}")
        self.low, self.high = lo, hi

    def _params(self) -> dict:
        return {"low": self.low, "high": self.high, **super()._params(), "gamma": self.gamma}

    def _conv_rule(self, node, first, shapes):
        if not first:
            return {"rule": "generalized_gamma", "gamma": self.gamma, "stabilizer": self.stabilizer}
        if isinstance(self.low, list):
            channels = tuple(shapes[node["parameters"]["weight"]])[1]
            if channels != len(self.low):
                raise ValueError(f"EpsilonGammaBox: {len(self.low)} channel bounds for the first convolution "
                                 f"'{node['name']}', which takes {channels} input channels")
        return {"rule": "zbeta", "lower_bound": self.low, "upper_bound": self.high,
                "stability_factor": self.stabilizer, "set_bias_to_zero": False}


NAMES = {"epsilon_plus": EpsilonPlus, "epsilon_alpha2_beta1": EpsilonAlpha2Beta1, "epsilon_gamma_box": EpsilonGammaBox}


def resolve(composite: Any) -> Composite:
    """A `Composite` from an instance, a class without required arguments, or a name in `NAMES`."""
    if isinstance(composite, Composite):
        return composite
    if isinstance(composite, type) and issubclass(composite, Composite) and composite is not Composite:
        composite = composite.name
    if isinstance(composite, str):
        cls = NAMES.get(composite)
        if cls is None:
            raise ValueError(f"unknown composite {composite!r}; prpkit's named composites are "
                             f"{', '.join(sorted(NAMES))} (or objects from prpkit.composites)")
        if cls is EpsilonGammaBox:
            raise ValueError("composite 'epsilon_gamma_box' needs its input bounds: pass "
                             "prpkit.composites.EpsilonGammaBox(low=..., high=...)")
        return cls()
    raise TypeError(f"composite must be a prpkit.composites object or one of {', '.join(sorted(NAMES))}, got "
                    f"{type(composite).__module__}.{type(composite).__qualname__}")
