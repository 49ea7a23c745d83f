"""`prpkit.prp_utils`: every name of CaBRNet 1.2's ``prp_utils`` (the project's seed),
with the seed's signatures and defaults.

The two functions build the PRP composite natively (graph passes in the Swift core) and
return a `CompositeModel`: call it for the similarity map, give it to `prpkit.LRP` or
`prpkit.prp`. They accept a CaBRNet/torch model or a prpkit Model.

The layer classes (ZBetaConv2d, Alpha1Beta0Conv2d, StackedSum, the similarity and
decision wrappers, ...) are torch modules with CaBRNet's constructors and forward
passes, each carrying its rule as data (``module.rule``), so that a model assembled from
them by hand converts to the same native composite. They need torch; the rest of this
module does not.
"""

from __future__ import annotations

from typing import Any

from ._composite import _DEFAULT_LOWER, _DEFAULT_UPPER, CompositeModel, composite, corrected_composite
from .rules import GradientRule, PropagationRule

__all__ = [
    "L2SimilaritiesLRPWrapper", "DecisionLRPWrapper", "GradientRule", "ZBetaLayer", "ZBetaLinear",
    "ZBetaConv2d", "Alpha1Beta0Layer", "Alpha1Beta0Linear", "Alpha1Beta0Conv2d", "StackedSum",
    "get_extractor_lrp_composite_model", "get_cabrnet_lrp_composite_model", "CompositeModel",
    "get_corrected_lrp_composite_model",
]


def get_extractor_lrp_composite_model(model: Any, set_bias_to_zero: bool, stability_factor: float = 1e-6,
                                      use_zbeta: bool = True, zbeta_lower_bound: float = _DEFAULT_LOWER,
                                      zbeta_upper_bound: float = _DEFAULT_UPPER,
                                      example_input: Any = None) -> CompositeModel:
    """Prepare a feature extractor for composite LRP (CaBRNet semantics, see docs/semantics.md):
    BatchNorm merged into the preceding Conv2d and reset (IdentityRule), ``+`` → StackedSum,
    first Conv2d → z^B (if ``use_zbeta``), other Conv2d → Alpha1Beta0, MaxPool2d → gradient,
    Sigmoid → identity. The outputs stay those of ``model``.

    Args:
        model: target model (torch module or prpkit Model).
        set_bias_to_zero: ignore bias in linear layers.
        stability_factor: epsilon value used for numerical stability.
        use_zbeta: use z-beta rule on first convolution.
        zbeta_lower_bound: lowest admissible pixel value (normalized units).
        zbeta_upper_bound: highest admissible pixel value (normalized units).
        example_input: input used to trace a torch model (default: zeros (1, C, 224, 224)).
    Returns:
        copy of the model, ready for prpkit.LRP.
    """
    return composite(model, set_bias_to_zero=set_bias_to_zero, stability_factor=stability_factor,
                     use_zbeta=use_zbeta, zbeta_lower_bound=zbeta_lower_bound,
                     zbeta_upper_bound=zbeta_upper_bound, similarity_head=False, example_input=example_input)


def get_cabrnet_lrp_composite_model(model: Any, set_bias_to_zero: bool = True, stability_factor: float = 1e-6,
                                    use_zbeta: bool = True, zbeta_lower_bound: float = _DEFAULT_LOWER,
                                    zbeta_upper_bound: float = _DEFAULT_UPPER,
                                    example_input: Any = None) -> CompositeModel:
    """Prepare a CaBRNet ProtoClassifier model for composite LRP: the extractor composite
    (see `get_extractor_lrp_composite_model`) and the classifier replaced as
    DecisionLRPWrapper does, so that the model output is the similarity map (N, P, H, W).
    A model without a prototype head gets the extractor composite (CaBRNet does the same).

    Unlike CaBRNet's, the result is inference-only: CaBRNet's composite has its torchvision
    trunk in training mode (a quirk of deepcopy); prpkit matches ``composite.eval()``,
    which is what CaBRNet's prp() uses.
    """
    return composite(model, set_bias_to_zero=set_bias_to_zero, stability_factor=stability_factor,
                     use_zbeta=use_zbeta, zbeta_lower_bound=zbeta_lower_bound,
                     zbeta_upper_bound=zbeta_upper_bound, similarity_head=True, example_input=example_input)


def get_corrected_lrp_composite_model(model: Any, input_mean=(0.485, 0.456, 0.406), input_std=(0.229, 0.224, 0.225),
                                      set_bias_to_zero: bool = True, stability_factor: float = 1e-6,
                                      use_zbeta: bool = False, similarity_head: bool = True, gamma: float = 0.25,
                                      example_input: Any = None) -> CompositeModel:
    """prpkit's corrected PRP composite (docs/corrected-composite.md), its rules chosen by
    bench/faithfulness.py (docs/faithfulness.md). Where CaBRNet's composite
    (`get_cabrnet_lrp_composite_model`, kept bit-compatible) is wrong or weak:

    - BatchNorm is merged exactly into the preceding conv and removed (CaBRNet resets it,
      so its composite still divides by √(1 + ε) at every BatchNorm);
    - instead of z^B first and α1β0 after: the first conv uses LRP-ε (ε =
      ``stability_factor``, the bias in the denominator) with its zero padding referred to
      the image's edge (the padding's contribution Σ (0 − edge pixel)·w joins the
      denominator and keeps its share: the frame that zero padding makes around an image
      gets no pixel relevance); the backbone's other convs LRP-γ (``gamma``, 0 = LRP-ε);
      the add-on's convs and the sigmoid LRP-ε. On the bundled digits model this beats
      gradient × input on deletion and insertion AUC and lowers the relevance in the image
      border (docs/faithfulness.md);
    - with ``use_zbeta=True`` the first conv keeps z^B, with per-channel bounds
      [(0 − mean_c)/std_c, (1 − mean_c)/std_c] of ``input_mean``/``input_std`` (CaBRNet
      uses one scalar pair, the extremes over channels) and ``set_bias_to_zero``;
    - residual sums are stabilised with ε·sign0(o) (CaBRNet's operator precedence gives
      ε only where o = 0);
    - the head keeps the model's own distance and similarity (e.g. ProtoTree's exp
      similarity; CaBRNet always uses cdist + ProtoPNet's log similarity), and shares a
      similarity's relevance among feature channels by contribution f_c·(f_c − p_c)
      (gradient × input of the distance) instead of CaBRNet's 1/((f_c − p_c)² + ε).
    """
    return corrected_composite(model, input_mean=input_mean, input_std=input_std,
                               set_bias_to_zero=set_bias_to_zero, stability_factor=stability_factor,
                               use_zbeta=use_zbeta, similarity_head=similarity_head, gamma=gamma,
                               example_input=example_input)


class _RuleData(PropagationRule):
    """A composite layer's rule as data (read by the exporter through `_prpkit_rule_json`)."""

    def __init__(self, data: dict) -> None:
        self._data = dict(data)

    def _prpkit_rule_json(self) -> dict:
        return dict(self._data)


class ZBetaLayer:
    """Abstract layer for applying the Z^Beta rule during relevance backpropagation
    (https://arxiv.org/pdf/1512.02479.pdf). Use for the first (pixel) layer. The admissible
    pixel range must take the input normalization into account."""

    def __init__(self, set_bias_to_zero: bool = True, lower_bound: float = _DEFAULT_LOWER,
                 upper_bound: float = _DEFAULT_UPPER, stability_factor: float = 1e-6) -> None:
        self.set_bias_to_zero = set_bias_to_zero
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.stability_factor = stability_factor
        self.rule = _RuleData({"rule": "zbeta", "lower_bound": float(lower_bound), "upper_bound": float(upper_bound),
                               "stability_factor": float(stability_factor),
                               "set_bias_to_zero": bool(set_bias_to_zero)})


class Alpha1Beta0Layer:
    """Abstract layer for applying the Alpha1-Beta0 rule (x split into x⁺ and x⁻) during
    relevance backpropagation. Use for convolution layers."""

    def __init__(self, set_bias_to_zero: bool = True, stability_factor: float = 1e-6) -> None:
        self.set_bias_to_zero = set_bias_to_zero
        self.stability_factor = stability_factor
        self.rule = _RuleData({"rule": "prp_alpha1_beta0", "stability_factor": float(stability_factor),
                               "set_bias_to_zero": bool(set_bias_to_zero)})


_TORCH_CLASSES: dict = {}


def _torch_classes() -> dict:
    """The torch-module classes, defined on first use (torch is optional for prpkit)."""
    if _TORCH_CLASSES:
        return _TORCH_CLASSES
    import torch
    import torch.nn as nn

    def copy_layer(dst: nn.Module, src: nn.Module) -> None:
        dst.load_state_dict(src.state_dict())

    class ZBetaLinear(ZBetaLayer, nn.Linear):
        """Replacement layer applying the Z^Beta rule on a nn.Linear (first layer)."""

        def __init__(self, module: nn.Linear, set_bias_to_zero: bool = True, lower_bound: float = _DEFAULT_LOWER,
                     upper_bound: float = _DEFAULT_UPPER, stability_factor: float = 1e-6) -> None:
            nn.Linear.__init__(self, module.in_features, module.out_features, bias=module.bias is not None)
            ZBetaLayer.__init__(self, set_bias_to_zero, lower_bound, upper_bound, stability_factor)
            copy_layer(self, module)

    class ZBetaConv2d(ZBetaLayer, nn.Conv2d):
        """Replacement layer applying the Z^Beta rule on a nn.Conv2d (first layer)."""

        def __init__(self, module: nn.Conv2d, set_bias_to_zero: bool = True, lower_bound: float = _DEFAULT_LOWER,
                     upper_bound: float = _DEFAULT_UPPER, stability_factor: float = 1e-6) -> None:
            nn.Conv2d.__init__(self, module.in_channels, module.out_channels, module.kernel_size, module.stride,
                               module.padding, module.dilation, module.groups, module.bias is not None,
                               module.padding_mode)
            ZBetaLayer.__init__(self, set_bias_to_zero, lower_bound, upper_bound, stability_factor)
            copy_layer(self, module)

    class Alpha1Beta0Linear(Alpha1Beta0Layer, nn.Linear):
        """Replacement layer applying the Alpha1-Beta0 rule on a nn.Linear."""

        def __init__(self, module: nn.Linear, set_bias_to_zero: bool = True, stability_factor: float = 1e-6) -> None:
            nn.Linear.__init__(self, module.in_features, module.out_features, bias=module.bias is not None)
            Alpha1Beta0Layer.__init__(self, set_bias_to_zero, stability_factor)
            copy_layer(self, module)

    class Alpha1Beta0Conv2d(Alpha1Beta0Layer, nn.Conv2d):
        """Replacement layer applying the Alpha1-Beta0 rule on a nn.Conv2d."""

        def __init__(self, module: nn.Conv2d, set_bias_to_zero: bool = True, stability_factor: float = 1e-6) -> None:
            nn.Conv2d.__init__(self, module.in_channels, module.out_channels, module.kernel_size, module.stride,
                               module.padding, module.dilation, module.groups, module.bias is not None,
                               module.padding_mode)
            Alpha1Beta0Layer.__init__(self, set_bias_to_zero, stability_factor)
            copy_layer(self, module)

    class StackedSum(nn.Module):
        """Replacement for ``a + b`` enforcing CaBRNet's epsilon rule through residual sums."""

        _prpkit_op = "add"

        def __init__(self, stability_factor: float = 1e-6) -> None:
            super().__init__()
            self.stability_factor = stability_factor
            self.rule = _RuleData({"rule": "stacked_sum", "stability_factor": float(stability_factor)})

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return torch.stack([a, b], dim=0).sum(dim=0)

    class L2SimilaritiesLRPWrapper(nn.Module):
        """Replacement for the L2 similarity layer: ProtoPNet's log similarity of
        torch.cdist distances, with CaBRNet's PRP backward (rule ``prototype_similarity``)."""

        def __init__(self, num_prototypes: int, num_features: int, stability_factor: float = 1e-12) -> None:
            super().__init__()
            self.num_prototypes = num_prototypes
            self.num_features = num_features
            self.stability_factor = stability_factor
            self.rule = _RuleData({"rule": "prototype_similarity", "stability_factor": float(stability_factor)})

        def forward(self, features: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
            n, d, h, w = features.shape
            f = features.view(n, d, -1).transpose(1, 2)
            dist = torch.cdist(f, prototypes.reshape(prototypes.shape[0], -1)) ** 2
            dist = torch.relu(dist.transpose(1, 2).reshape(n, -1, h, w))
            return torch.log((dist + 1) / (dist + 1e-4))

    class DecisionLRPWrapper(nn.Module):
        """Replacement for the decision layer of a ProtoClassifier: outputs the similarity map."""

        def __init__(self, classifier: nn.Module, stability_factor: float = 1e-12) -> None:
            super().__init__()
            self.prototypes = nn.Parameter(classifier.prototypes.detach().clone())
            self.similarity_layer = L2SimilaritiesLRPWrapper(self.prototypes.shape[0], self.prototypes.shape[1],
                                                             stability_factor)

        def forward(self, features: torch.Tensor, **kwargs: Any) -> torch.Tensor:
            return self.similarity_layer(features, self.prototypes)

    _TORCH_CLASSES.update(ZBetaLinear=ZBetaLinear, ZBetaConv2d=ZBetaConv2d, Alpha1Beta0Linear=Alpha1Beta0Linear,
                          Alpha1Beta0Conv2d=Alpha1Beta0Conv2d, StackedSum=StackedSum,
                          L2SimilaritiesLRPWrapper=L2SimilaritiesLRPWrapper, DecisionLRPWrapper=DecisionLRPWrapper)
    return _TORCH_CLASSES


def __getattr__(name: str):
    if name in ("ZBetaLinear", "ZBetaConv2d", "Alpha1Beta0Linear", "Alpha1Beta0Conv2d", "StackedSum",
                "L2SimilaritiesLRPWrapper", "DecisionLRPWrapper"):
        return _torch_classes()[name]
    raise AttributeError(f"module 'prpkit.prp_utils' has no attribute {name!r}")
