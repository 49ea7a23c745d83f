"""Relevance propagation rules with Captum's names and defaults (``captum.attr._utils.lrp_rules``)
plus CaBRNet's GradientRule.

Set them on torch modules exactly as with Captum (``module.rule = EpsilonRule(0.1)``) or
pass them to :class:`prpkit.LRP` by node name. Captum's own rule objects are accepted
too. Rules are data: each object describes itself as the JSON object documented in
``docs/explainer-config.md`` (``_prpkit_rule_json()``), which is how it reaches the
native engine.

Unlike Captum, prpkit never deletes ``module.rule`` after an attribution.
"""

from __future__ import annotations

__all__ = ["PropagationRule", "EpsilonRule", "GammaRule", "Alpha1_Beta0_Rule", "IdentityRule", "GradientRule"]


class PropagationRule:
    """Base class of prpkit's rules. ``STABILITY_FACTOR`` is ε in z + ε·sign0(z)."""

    STABILITY_FACTOR = 1e-9

    def _prpkit_rule_json(self) -> dict:
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._prpkit_rule_json().items() if k != "rule")
        return f"{type(self).__name__}({params})"

    def __eq__(self, other) -> bool:
        return isinstance(other, PropagationRule) and self._prpkit_rule_json() == other._prpkit_rule_json()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._prpkit_rule_json().items())))


class EpsilonRule(PropagationRule):
    """LRP-ε: R_x = x ⊙ Jᵀ[R / (z + ε·sign0(z))]. Captum's default for Conv2d, Linear,
    pooling and BatchNorm2d with ε = 1e-9."""

    def __init__(self, epsilon: float = 1e-9) -> None:
        self.STABILITY_FACTOR = float(epsilon)

    def _prpkit_rule_json(self) -> dict:
        return {"rule": "epsilon", "epsilon": self.STABILITY_FACTOR}


class GammaRule(PropagationRule):
    """LRP-γ: W' = W + γ·W⁺ (bias zeroed if asked), R_x = x ⊙ J'ᵀ[R / (z' + 1e-9·sign0(z'))]."""

    def __init__(self, gamma: float = 0.25, set_bias_to_zero: bool = False) -> None:
        self.gamma = float(gamma)
        self.set_bias_to_zero = bool(set_bias_to_zero)

    def _prpkit_rule_json(self) -> dict:
        return {"rule": "gamma", "gamma": self.gamma, "set_bias_to_zero": self.set_bias_to_zero}


class Alpha1_Beta0_Rule(PropagationRule):
    """Captum's α1β0: GammaRule with W' = W⁺ (Captum does not split x into x⁺ and x⁻)."""

    def __init__(self, set_bias_to_zero: bool = False) -> None:
        self.set_bias_to_zero = bool(set_bias_to_zero)

    def _prpkit_rule_json(self) -> dict:
        return {"rule": "alpha1_beta0", "set_bias_to_zero": self.set_bias_to_zero}


class IdentityRule(EpsilonRule):
    """R_x = R: the layer passes the relevance at its output unchanged to its input."""

    def __init__(self) -> None:
        super().__init__()

    def _prpkit_rule_json(self) -> dict:
        return {"rule": "identity"}


class GradientRule(PropagationRule):
    """CaBRNet's GradientRule: no LRP hooks; the layer's ordinary backward is used."""

    def _prpkit_rule_json(self) -> dict:
        return {"rule": "gradient"}
