"""Heatmap overlays: colour maps and the PNG that blends a heatmap over its image."""

from __future__ import annotations

import numpy as np


_VIRIDIS = np.array([  # matplotlib's viridis at 0, 1/8, ..., 1 (piecewise-linear in between)
    [0.267004, 0.004874, 0.329415], [0.282623, 0.140926, 0.457517], [0.253935, 0.265254, 0.529983],
    [0.206756, 0.371758, 0.553117], [0.163625, 0.471133, 0.558148], [0.127568, 0.566949, 0.550556],
    [0.134692, 0.658636, 0.517649], [0.266941, 0.748751, 0.440573], [0.993248, 0.906157, 0.143936]])


def colormap(v: np.ndarray, name: str) -> np.ndarray:
    """Values in [0, 1] (H, W) → RGB in [0, 1] (H, W, 3)."""
    v = np.clip(np.nan_to_num(v.astype(np.float64)), 0.0, 1.0)
    if name == "jet":  # the classic jet (as OpenCV's COLORMAP_JET / CaBRNet's heatmaps)
        return np.stack([np.clip(1.5 - np.abs(4 * v - 3), 0, 1), np.clip(1.5 - np.abs(4 * v - 2), 0, 1),
                         np.clip(1.5 - np.abs(4 * v - 1), 0, 1)], axis=-1)
    if name == "viridis":
        t = v * (len(_VIRIDIS) - 1)
        i = np.minimum(t.astype(np.int64), len(_VIRIDIS) - 2)
        f = (t - i)[..., None]
        return _VIRIDIS[i] * (1 - f) + _VIRIDIS[i + 1] * f
    raise ValueError(name)


def have_pillow() -> bool:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def overlay_png(path: str, image: np.ndarray, heat: np.ndarray, cmap: str, alpha: float) -> None:
    """Writes image (h, w, 3) in [0, 1], upscaled (nearest) to heat's size, blended with the
    coloured heatmap (H, W) in [0, 1]: (1 − alpha)·image + alpha·colour."""
    from PIL import Image
    H, W = heat.shape
    img = np.asarray(Image.fromarray(np.rint(image * 255).astype(np.uint8)).resize((W, H), Image.NEAREST),
                     dtype=np.float64) / 255.0
    out = (1 - alpha) * img + alpha * colormap(heat, cmap)
    Image.fromarray(np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)).save(path, optimize=False)
