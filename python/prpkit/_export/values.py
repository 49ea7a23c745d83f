"""Values of the conversion that are not plain (N, C, …) tensors of the prpkit graph."""

from __future__ import annotations


class _ChannelsLast:
    """The (N, H, W, C) view that ``x.permute(0, 2, 3, 1)`` makes of the prpkit value `name`
    (N, C, H, W). prpkit keeps the data channels-first: the per-pixel ops that follow (a
    Linear over C, LayerNorm over C, activations) are converted to their channels-first
    forms, and ``permute(0, 3, 1, 2)`` gives `name` back."""

    def __init__(self, name: str) -> None:
        self.name = name


class _TensorAttribute:
    """A tensor the traced code reads as a module attribute (fx get_attr), e.g. ConvNeXt's
    ``layer_scale`` parameter; only a per-channel multiply may consume it."""

    def __init__(self, tensor, qualified_name: str) -> None:
        self.tensor = tensor
        self.qualified_name = qualified_name

    def describe(self) -> str:
        return f"tensor attribute {self.qualified_name} of shape {tuple(self.tensor.shape)}"
