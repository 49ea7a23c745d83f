"""Relevance rules of a torch model as prpkit rule JSON (docs/explainer-config.md).

Used by `prpkit._export.graph_from_torch(..., rules=True)`. Reads the ``rule``
attribute of every leaf module the way Captum's ``LRP`` does, and recognises the
composite modules of CaBRNet 1.2's ``prp_utils`` (ZBetaConv2d, Alpha1Beta0Conv2d,
StackedSum, DecisionLRPWrapper, ...), whose relevance rule is their type.

Rule objects and their JSON:

=====================================  =====================================================
``module.rule``                        rule JSON (``rules["by_node"][node]``)
=====================================  =====================================================
prpkit rule (duck-typed, see below)    whatever its ``_prpkit_rule_json`` gives
CaBRNet ``prp_utils.GradientRule``     ``{"rule": "gradient"}``
Captum ``IdentityRule``                ``{"rule": "identity"}``
Captum ``EpsilonRule(eps)``            ``{"rule": "epsilon", "epsilon": eps}``
Captum ``GammaRule(g, b)``             ``{"rule": "gamma", "gamma": g, "set_bias_to_zero": b}``
Captum ``Alpha1_Beta0_Rule(b)``        ``{"rule": "alpha1_beta0", "set_bias_to_zero": b}``
``None`` or no ``rule`` attribute      nothing (Captum's default for the module type applies)
anything else                          `UnsupportedRule` (a TypeError)
=====================================  =====================================================

Captum's rule classes are matched by exact type (a subclass may change the hooks, so
it is rejected rather than silently mapped); GradientRule by isinstance.

prpkit's own rule objects (``prpkit.rules``) are recognised by duck typing: any rule
object with an attribute ``_prpkit_rule_json`` — a dict, or a zero-argument callable
(method or property) returning one — is taken as is (it must be a dict with a string
``"rule"``; the native side validates the rest). This check comes first, so a prpkit
rule class may also subclass Captum's ``PropagationRule``.

Captum parity notes (what is and is not reproduced):

- Captum rejects a leaf module that has no rule and whose exact type is neither in
  ``SUPPORTED_LAYERS_WITH_RULES`` nor in ``SUPPORTED_NON_LINEAR_LAYERS`` (TypeError in
  ``attribute``). `check_captum_leaves` raises `MissingRule` (a TypeError, Captum's
  message) for such modules at export time, so that e.g. a ``Conv2d`` subclass without a
  rule, which prpkit would export as an ordinary ``conv2d`` with the native epsilon
  default, is not silently accepted. Captum checks every leaf module of the tree, used in
  the forward or not; so does prpkit.
- ``module.rule = None``: Captum 0.9 crashes on it (AttributeError); prpkit treats it as
  "no rule" (the type's default, or `MissingRule`).
- ReLU, Dropout, Tanh (exact types): Captum always passes the signal through them and
  ignores a rule set on them; prpkit emits nothing (native default: pass_through).
- Operations that are functions in the traced code (``F.relu``, ``torch.sigmoid``,
  ``F.max_pool2d``, ...) have no hook in Captum: their ordinary backward is used. The
  exporter marks such nodes ``{"rule": "gradient"}`` because the native default table is
  by op kind (a ``relu`` node from a module passes the signal through, one from
  ``F.relu`` masks it).
- CaBRNet composite modules (ZBetaLayer, Alpha1Beta0Layer, StackedSum,
  SimilarityLRPWrapper) carry ``GradientRule`` in CaBRNet; prpkit maps them by type and
  accepts them also when the rule has been deleted (Captum deletes every leaf's rule
  after each ``attribute`` call, CaBRNet re-attaches them). Any other rule on them is an
  error (the combination has no prpkit equivalent).
"""

from __future__ import annotations

from typing import Any

from ._errors import UnsupportedOperation

__all__ = ["UnsupportedRule", "MissingRule", "rule_to_json", "module_rule", "check_captum_leaves",
           "composite_types", "is_gradient_rule", "GRADIENT", "PASS_THROUGH"]

GRADIENT = {"rule": "gradient"}
PASS_THROUGH = {"rule": "pass_through"}
_CAPTUM_EPS = 1e-9


class UnsupportedRule(UnsupportedOperation):
    """A ``module.rule`` that prpkit cannot express (unknown class or parameters)."""


class MissingRule(UnsupportedOperation):
    """A leaf module that Captum would reject: no rule and no default rule for its type."""


def _describe(obj) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


# --------------------------------------------------------------------------- optional imports

_CAPTUM: Any = False
_CAB: Any = False


def _captum():
    """Captum's rule classes and default tables, or None when Captum is not installed."""
    global _CAPTUM
    if _CAPTUM is False:
        try:
            from captum.attr._utils import lrp_rules as r
            from captum.attr._core import lrp as lrp_mod
            _CAPTUM = {"EpsilonRule": r.EpsilonRule, "GammaRule": r.GammaRule,
                       "Alpha1_Beta0_Rule": r.Alpha1_Beta0_Rule, "IdentityRule": r.IdentityRule,
                       "PropagationRule": r.PropagationRule,
                       "with_rules": tuple(lrp_mod.SUPPORTED_LAYERS_WITH_RULES.keys()),
                       "non_linear": tuple(lrp_mod.SUPPORTED_NON_LINEAR_LAYERS)}
        except Exception:
            _CAPTUM = None
    return _CAPTUM


def composite_types():
    """CaBRNet's prp_utils classes, or None when CaBRNet is not installed."""
    global _CAB
    if _CAB is False:
        try:
            from cabrnet.core.visualization import prp_utils as p
            _CAB = {"GradientRule": p.GradientRule, "ZBetaLayer": p.ZBetaLayer,
                    "Alpha1Beta0Layer": p.Alpha1Beta0Layer, "StackedSum": p.StackedSum,
                    "SimilarityLRPWrapper": p.SimilarityLRPWrapper,
                    "DecisionLRPWrapper": p.DecisionLRPWrapper}
        except Exception:
            _CAB = None
    return _CAB


def _default_tables():
    """(types with a Captum default rule, Captum's non-linear types), exact types."""
    import torch.nn as nn
    c = _captum()
    if c is not None:
        return c["with_rules"], c["non_linear"]
    # Captum 0.9's tables (without its Addition_Module) when Captum is not installed.
    return ((nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.Conv2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
             nn.Linear, nn.BatchNorm2d), (nn.ReLU, nn.Dropout, nn.Tanh))


# --------------------------------------------------------------------------- rule objects

def is_gradient_rule(rule) -> bool:
    """CaBRNet's GradientRule, or a prpkit rule object describing itself as "gradient"."""
    cab = composite_types()
    if cab is not None and isinstance(rule, cab["GradientRule"]):
        return True
    if rule is not None and hasattr(rule, "_prpkit_rule_json"):
        try:
            return rule_to_json(rule, "") == GRADIENT
        except UnsupportedRule:
            return False
    return False


def _check_default_stability(rule, name, where):
    eps = getattr(rule, "STABILITY_FACTOR", _CAPTUM_EPS)
    if float(eps) != _CAPTUM_EPS:
        raise UnsupportedRule(f"{where}: {name} with STABILITY_FACTOR={eps!r}; prpkit's {name} uses "
                              f"Captum's fixed 1e-9")


def rule_to_json(rule, where: str) -> dict | None:
    """The prpkit rule JSON of a Captum/CaBRNet/prpkit rule object (None for None)."""
    if rule is None:
        return None
    if hasattr(rule, "_prpkit_rule_json"):
        j = rule._prpkit_rule_json
        if callable(j):
            j = j()
        if not isinstance(j, dict) or not isinstance(j.get("rule"), str):
            raise UnsupportedRule(f"{where}: {_describe(rule)}._prpkit_rule_json must be a dict with a "
                                  f"string 'rule', got {j!r}")
        return dict(j)
    if is_gradient_rule(rule):
        return dict(GRADIENT)
    c = _captum()
    t = type(rule)
    if c is not None:
        if t is c["IdentityRule"]:
            _check_default_stability(rule, "IdentityRule", where)
            return {"rule": "identity"}
        if t is c["EpsilonRule"]:
            return {"rule": "epsilon", "epsilon": float(rule.STABILITY_FACTOR)}
        if t is c["GammaRule"]:
            _check_default_stability(rule, "GammaRule", where)
            return {"rule": "gamma", "gamma": float(rule.gamma),
                    "set_bias_to_zero": bool(rule.set_bias_to_zero)}
        if t is c["Alpha1_Beta0_Rule"]:
            _check_default_stability(rule, "Alpha1_Beta0_Rule", where)
            return {"rule": "alpha1_beta0", "set_bias_to_zero": bool(rule.set_bias_to_zero)}
    raise UnsupportedRule(
        f"{where}: unsupported rule object of type {_describe(rule)} (prpkit understands Captum's "
        f"EpsilonRule, GammaRule, Alpha1_Beta0_Rule, IdentityRule, CaBRNet's GradientRule and "
        f"prpkit.rules objects)")


# --------------------------------------------------------------------------- modules

def _composite_rule(m, where: str) -> dict | None:
    """The rule of a CaBRNet composite layer (by type), None for other modules."""
    cab = composite_types()
    if cab is None:
        return None
    if isinstance(m, cab["ZBetaLayer"]):
        j = {"rule": "zbeta", "lower_bound": float(m.lower_bound), "upper_bound": float(m.upper_bound),
             "stability_factor": float(m.stability_factor), "set_bias_to_zero": bool(m.set_bias_to_zero)}
    elif isinstance(m, cab["Alpha1Beta0Layer"]):
        j = {"rule": "prp_alpha1_beta0", "stability_factor": float(m.stability_factor),
             "set_bias_to_zero": bool(m.set_bias_to_zero)}
    elif isinstance(m, cab["StackedSum"]):
        j = {"rule": "stacked_sum", "stability_factor": float(m.stability_factor)}
    elif isinstance(m, cab["SimilarityLRPWrapper"]):
        j = {"rule": "prototype_similarity", "stability_factor": float(m.lrp_stability_factor)}
    else:
        return None
    rule = getattr(m, "rule", None)
    if rule is not None and not is_gradient_rule(rule):
        raise UnsupportedRule(f"{where}: CaBRNet layer {_describe(m)} with rule {_describe(rule)} "
                              f"(prpkit supports these layers with their own GradientRule only)")
    return j


def is_composite(m) -> bool:
    cab = composite_types()
    return cab is not None and isinstance(m, (cab["ZBetaLayer"], cab["Alpha1Beta0Layer"], cab["StackedSum"],
                                              cab["SimilarityLRPWrapper"]))


def module_rule(m, where: str) -> dict | None:
    """Rule JSON for the node a leaf module exports to; None = native default for its op.

    The caller must have run `check_captum_leaves` (modules without rule and default).
    """
    comp = _composite_rule(m, where)
    if comp is not None:
        return comp
    _, non_linear = _default_tables()
    if type(m) in non_linear:
        return None  # Captum passes the signal through and ignores any rule here
    return rule_to_json(getattr(m, "rule", None), where)


def captum_leaves(module):
    """(qualified name, module) for each leaf module as Captum's LRP collects them."""
    seen = set()
    for name, m in module.named_modules():
        if m is module or any(True for _ in m.children()):
            continue
        if id(m) in seen:
            continue
        seen.add(id(m))
        yield name, m


def check_captum_leaves(module) -> None:
    """Raises `MissingRule` for the first leaf module Captum's LRP would reject."""
    with_rules, non_linear = _default_tables()
    for name, m in captum_leaves(module):
        if getattr(m, "rule", None) is not None or is_composite(m):
            continue
        if type(m) in with_rules or type(m) in non_linear:
            continue
        raise MissingRule(
            f"Module {name} of type {type(m)} has no rule defined and no default rule exists for this "
            f"module type. Please, set a rule explicitly for this module and assure that it is "
            f"appropriate for this type of layer. (Captum's LRP raises TypeError here.)")
