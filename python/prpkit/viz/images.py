"""Pictures in and out: RGB byte arrays from what users hold, bicubic upscaling, PNG files.

Every function of prpkit.viz takes an image as a Pillow image, a uint8 array (H, W) or
(H, W, 3), or a float array with values in [0, 1] (rounded to bytes), and gives back a
uint8 (H, W, 3) array; `to_image` and `save_png` turn one into a Pillow image or a file.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_rgb", "upscale", "to_image", "save_png"]


def as_rgb(image) -> np.ndarray:
    """An image → uint8 RGB (H, W, 3). Gray is repeated; an alpha channel is dropped.

    Float arrays must lie in [0, 1] (rounded to nearest: ``rint(255·v)``); (C, H, W) arrays
    with C in {1, 3} are accepted and transposed.
    """
    if hasattr(image, "convert") and hasattr(image, "mode"):  # a Pillow image
        return np.asarray(image.convert("RGB"))
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[2] not in (1, 3, 4):
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3) or 0 in a.shape:
        raise ValueError(f"image: expected (H, W), (H, W, 3) or (3, H, W), got shape {np.shape(image)}")
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 1:
            raise ValueError("image: float images must hold finite values in [0, 1]")
        a = np.rint(a * 255).astype(np.uint8)
    elif a.dtype != np.uint8:
        raise ValueError(f"image: expected uint8 or float values, got {a.dtype}")
    return np.ascontiguousarray(np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a)


def upscale(image, size: tuple[int, int]) -> np.ndarray:
    """Resizes an image to ``size`` = (width, height) pixels with Pillow's bicubic filter
    (the usual way to show a 32×32 or 224×224 input beside a heatmap of a larger size)."""
    from PIL import Image
    w, h = (int(s) for s in size)
    if w <= 0 or h <= 0:
        raise ValueError(f"upscale: size must be positive, got {size}")
    rgb = as_rgb(image)
    if rgb.shape[:2] == (h, w):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((w, h), Image.BICUBIC))


def to_image(rgb):
    """uint8 (H, W, 3) array (or any image `as_rgb` takes) → Pillow RGB image."""
    from PIL import Image
    return Image.fromarray(as_rgb(rgb))


def save_png(path, rgb) -> None:
    """Writes an image as an RGB PNG (deterministic bytes: no timestamps)."""
    to_image(rgb).save(path, format="PNG", optimize=False)
