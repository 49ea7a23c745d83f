"""`CompositeModel`: a prpkit model paired with the PRP composite the native engine
builds from it (CaBRNet 1.2's `get_cabrnet_lrp_composite_model` as graph passes)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from . import _core
from ._convert import as_prpkit_model
from ._model import Model
from ._zbeta import DEFAULT_LOWER, DEFAULT_UPPER

__all__ = ["CompositeModel", "composite", "corrected_composite"]

_DEFAULT_LOWER, _DEFAULT_UPPER = DEFAULT_LOWER, DEFAULT_UPPER


class CompositeModel(Model):
    """A model prepared for PRP: calling it returns what the composite returns (the
    similarity map (N, P, H, W) for a prototype model); `prpkit.LRP` and `prpkit.prp`
    propagate with the composite's rules.

    Attributes:
        lrp_ready: True, as on CaBRNet's composite (prp() then skips building one).
        config: the explainer configuration (docs/explainer-config.md).
    """

    __slots__ = ("_explainer_config", "_explainer", "_source")

    def __init__(self, source: Model, config: dict) -> None:
        self._explainer_config = config
        self._explainer = _core.Explainer(source._core, json.dumps(config))
        self._source = source
        super().__init__(self._explainer.model())

    lrp_ready = True

    @property
    def config(self) -> dict:
        return json.loads(json.dumps(self._explainer_config))

    @property
    def rules(self) -> dict:
        """{node name: rule JSON, or None for an ordinary backward}."""
        return json.loads(self._explainer.rules_json())

    def similarities(self, x: Any) -> Any:
        """The similarity map (N, P, H, W) of `x` (CaBRNet's ``model.similarities``)."""
        out = self.forward(x)
        return out[0]

    def eval(self) -> "CompositeModel":
        """No-op (prpkit is inference-only); present so CaBRNet-style code runs unchanged."""
        return self

    def to(self, *args, **kwargs) -> "CompositeModel":
        """No-op: prpkit runs on the CPU."""
        return self


def corrected_composite(model: Any, *, input_mean, input_std, set_bias_to_zero: bool, stability_factor: float,
                        use_zbeta: bool, similarity_head: bool, gamma: float = 0.25,
                        example_input: Any = None) -> CompositeModel:
    source = as_prpkit_model(model, example_input)
    config = {"composite": "prpkit_prp",
              "composite_options": {"set_bias_to_zero": bool(set_bias_to_zero),
                                    "stability_factor": float(stability_factor),
                                    "use_zbeta": bool(use_zbeta),
                                    "similarity_head": bool(similarity_head),
                                    "gamma": float(gamma),
                                    "input_mean": [float(v) for v in input_mean],
                                    "input_std": [float(v) for v in input_std]}}
    return CompositeModel(source, config)


def composite(model: Any, *, set_bias_to_zero: bool, stability_factor: float, use_zbeta: bool,
              zbeta_lower_bound: float, zbeta_upper_bound: float, similarity_head: bool,
              example_input: Any = None) -> CompositeModel:
    source = as_prpkit_model(model, example_input)
    config = {"composite": "cabrnet_prp",
              "composite_options": {"set_bias_to_zero": bool(set_bias_to_zero),
                                    "stability_factor": float(stability_factor),
                                    "use_zbeta": bool(use_zbeta),
                                    "zbeta_lower_bound": float(zbeta_lower_bound),
                                    "zbeta_upper_bound": float(zbeta_upper_bound),
                                    "similarity_head": bool(similarity_head)}}
    return CompositeModel(source, config)
