"""z^B's input bounds: the one place their defaults are defined.

CaBRNet's z^B rule bounds the first layer's input by the range a pixel in [0, 1] takes
after the channel normalisation (x − mean) / std, reduced to one scalar each way (the
minimum lower and the maximum upper bound over the channels)."""
from __future__ import annotations

from typing import Sequence

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def zbeta_bounds(mean: Sequence[float], std: Sequence[float]) -> tuple[float, float]:
    """(lower, upper): the normalised range of pixels in [0, 1], in CaBRNet's convention."""
    return (min(-m / s for m, s in zip(mean, std)), max((1 - m) / s for m, s in zip(mean, std)))


#: CaBRNet's defaults, for ImageNet's normalisation.
DEFAULT_LOWER, DEFAULT_UPPER = zbeta_bounds(IMAGENET_MEAN, IMAGENET_STD)
