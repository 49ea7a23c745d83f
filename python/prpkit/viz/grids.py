"""Many maps in one picture: a grid of equally sized cells, optionally captioned."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .images import as_rgb
from .text import font, text_size

__all__ = ["grid"]


def grid(images: Sequence, columns: int | None = None, padding: int = 4, background: int = 255,
         titles: Sequence[str] | None = None, font_size: int | None = None) -> np.ndarray:
    """Lays ``images`` out row by row: uint8 RGB.

    Args:
        images: a non-empty sequence of images (any form `as_rgb` takes), also (N, H, W, 3)
            or (N, H, W) arrays. Smaller images are centred in cells of the largest size.
        columns: cells per row (default ceil(√N)).
        padding: pixels between and around cells.
        background: gray level of the padding and empty cells (0–255).
        titles: one caption per image (or None), drawn above its cell.
        font_size: captions' size in px (default: cell height / 12, at least 10).
    """
    from PIL import Image, ImageDraw
    rgbs = [as_rgb(im) for im in images]
    n = len(rgbs)
    if n == 0:
        raise ValueError("grid: no images")
    if titles is not None and len(titles) != n:
        raise ValueError(f"grid: {len(titles)} titles for {n} images")
    if padding < 0 or not 0 <= background <= 255:
        raise ValueError("grid: padding must be ≥ 0 and background in 0..255")
    cols = columns or math.ceil(math.sqrt(n))
    if cols < 1:
        raise ValueError(f"grid: columns must be ≥ 1, got {columns}")
    rows = math.ceil(n / cols)
    ch = max(r.shape[0] for r in rgbs)
    cw = max(r.shape[1] for r in rgbs)
    size = font_size or max(10, ch // 12)
    title_h = (max(text_size(t, size)[1] for t in titles) + padding) if titles else 0
    W = cols * cw + (cols + 1) * padding
    H = rows * (ch + title_h) + (rows + 1) * padding
    out = Image.new("RGB", (W, H), (background,) * 3)
    d = ImageDraw.Draw(out)
    for k, rgb in enumerate(rgbs):
        r, c = divmod(k, cols)
        x = padding + c * (cw + padding)
        y = padding + r * (ch + title_h + padding)
        if titles and titles[k]:
            d.text((x + cw // 2, y), titles[k], fill=(0, 0, 0) if background > 127 else (255, 255, 255),
                   font=font(size), anchor="ma")
        out.paste(Image.fromarray(rgb), (x + (cw - rgb.shape[1]) // 2, y + title_h + (ch - rgb.shape[0]) // 2))
    return np.asarray(out)
