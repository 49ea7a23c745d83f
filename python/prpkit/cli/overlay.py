"""Heatmap overlays: the map explain shows and its PNG, drawn by prpkit.viz."""

from __future__ import annotations

import numpy as np


def have_pillow() -> bool:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def explain_heat(relevance: np.ndarray, size, sigma: float, cmap: str) -> np.ndarray:
    """The map an overlay shows: CaBRNet's post-processing (|relevance|, blur, bicubic
    resize, min-max) in [0, 1]; for a diverging colour map the signed map scaled by its
    largest magnitude into [-1, 1] (0 stays 0)."""
    import prpkit
    from .. import viz
    if cmap not in viz.DIVERGING:
        return prpkit.post_process(relevance, img=size, polarity="absolute", gaussian_ksize=sigma, normalize=True)
    heat = prpkit.post_process(relevance, img=size, polarity=None, gaussian_ksize=sigma, normalize=False)
    peak = float(np.abs(heat).max())
    return heat / peak if peak > 0 else np.zeros_like(heat)


def overlay_png(path: str, image: np.ndarray, heat: np.ndarray, cmap: str, alpha: float, colorbar: bool) -> None:
    """Writes image (h, w, 3) in [0, 1], upscaled bicubically to heat's size, under the
    coloured heatmap (H, W) at opacity alpha·|heat| (prpkit.viz.overlay); heat in [0, 1],
    or in [-1, 1] for a diverging colour map."""
    from .. import viz
    rgb = viz.overlay(image, heat, cmap, alpha)
    if colorbar:
        rgb = viz.with_colorbar(rgb, cmap, -1.0 if cmap in viz.DIVERGING else 0.0, 1.0, label="relevance")
    viz.save_png(path, rgb)
