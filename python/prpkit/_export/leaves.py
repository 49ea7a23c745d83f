"""Which modules are traced as one node (CaBRNet blocks, rule carriers, plain subclasses)."""

from __future__ import annotations

from .. import _rules_from_torch as R
from .cabrnet_types import _cabrnet_types


_FUNCTIONAL_KINDS = frozenset({"add", "flatten", "reshape", "concat"})

_COMP_TYPES: dict | None | bool = False


def _composite_types():
    """CaBRNet's prp_utils composite classes, or None."""
    global _COMP_TYPES
    if _COMP_TYPES is False:
        _COMP_TYPES = R.composite_types()
    return _COMP_TYPES


def _composite_leaf_types() -> tuple:
    c = _composite_types()
    if c is None:
        return ()
    return (c["ZBetaLayer"], c["Alpha1Beta0Layer"], c["StackedSum"], c["SimilarityLRPWrapper"])


def _rules_leaf(m) -> bool:
    """With rules: a childless module is traced as one node when prpkit can map its type, or
    when it carries a rule other than GradientRule (its rule must land on one node; an
    unmappable type then fails naming it). A childless module without a rule or with
    GradientRule is traced into: its functions' ordinary backward is what Captum uses."""
    if any(True for _ in m.children()):
        return False
    rule = getattr(m, "rule", None)
    return rule is not None and not R.is_gradient_rule(rule)


def _plain_subclass_leaf(m) -> bool:
    """A childless subclass of a module type prpkit maps (nn.Conv2d, ...) that keeps the
    base class's forward: converted like its base (fx would trace into it)."""
    return (isinstance(m, _mappable_modules()) and not _overrides_forward(m)
            and not any(True for _ in m.children()))


def _overrides_forward(m) -> bool:
    """True when `m`'s forward differs from that of the torch.nn class prpkit maps it as."""
    for base in type(m).__mro__:
        if base in _mappable_modules():
            return type(m).forward is not base.forward
    return False


def _mappable_modules() -> tuple:
    import torch.nn as nn
    return (nn.Conv2d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.BatchNorm2d,
            nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
            nn.AlphaDropout, nn.Identity, nn.Flatten, nn.ReLU6, nn.Hardtanh, nn.SiLU, nn.GELU, nn.Hardswish,
            nn.Hardsigmoid)


def _cabrnet_leaf_types() -> tuple:
    t = _cabrnet_types()
    if t is None:
        return ()
    return (t["CaBRNet"], t["ConvExtractor"], t["CaBRNetClassifier"])
