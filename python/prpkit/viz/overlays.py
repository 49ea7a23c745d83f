"""A heatmap laid over its image, with an opacity that follows the heat.

A uniform blend tints the whole picture (a jet overlay at 0.5 turns every irrelevant pixel
navy); here a pixel of heat h is drawn with opacity ``alpha·h`` (``alpha·|h|`` for signed
maps), so where nothing is relevant the image shows through unchanged. CaBRNet's own
uniform 0.4/0.6 view is `prpkit.viz.heatmap`.
"""

from __future__ import annotations

import numpy as np

from .colormaps import DIVERGING, apply_colormap
from .images import as_rgb, upscale

__all__ = ["overlay"]


def overlay(image, heat, cmap: str = "jet", alpha: float = 0.7) -> np.ndarray:
    """Blends ``heat`` (H, W) coloured by ``cmap`` over ``image``: uint8 RGB (H, W, 3).

    Args:
        image: the picture (any form `as_rgb` takes); upscaled bicubically to (W, H) when
            its size differs.
        heat: values in [0, 1] (e.g. `prpkit.post_process(..., normalize=True)`); for a
            diverging map (``bwr``, ``coldnhot``) values in [−1, 1], 0 being no relevance.
        cmap: a name of `COLORMAPS`.
        alpha: opacity at |heat| = 1, in [0, 1].

    Pixel = ``rint((1 − a)·image + a·colour)`` with ``a = alpha·h`` (``alpha·|h|`` if diverging).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"overlay: alpha must lie in [0, 1], got {alpha}")
    h = np.asarray(heat, dtype=np.float64)
    if h.ndim != 2 or 0 in h.shape:
        raise ValueError(f"overlay: heat must be a non-empty (H, W) map, got shape {np.shape(heat)}")
    signed = cmap in DIVERGING
    lo = -1.0 if signed else 0.0
    if not np.all(np.isfinite(h)) or h.min() < lo or h.max() > 1:
        raise ValueError(f"overlay: heat must hold finite values in [{lo:g}, 1] for {cmap!r}")
    colour = apply_colormap((h + 1) / 2 if signed else h, cmap).astype(np.float64)
    img = upscale(image, (h.shape[1], h.shape[0])).astype(np.float64)
    a = (alpha * (np.abs(h) if signed else h))[..., None]
    return np.rint((1 - a) * img + a * colour).astype(np.uint8)
