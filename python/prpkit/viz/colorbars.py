"""A colour bar: the scale of a heatmap, drawn beside it."""

from __future__ import annotations

import numpy as np

from .colormaps import apply_colormap, colormap_table
from .images import as_rgb
from .text import font, text_size

__all__ = ["colorbar", "with_colorbar"]


def _label(v: float) -> str:
    return f"{v:.3g}"  # ASCII minus: Pillow's built-in face has no U+2212


def colorbar(height: int, cmap: str = "jet", vmin: float = 0.0, vmax: float = 1.0, ticks: int = 3,
             label: str | None = None, font_size: int | None = None) -> np.ndarray:
    """A vertical bar (``vmax`` at the top) with ``ticks`` labelled values: uint8 RGB
    (height, width, 3) on white, its width set by the labels.

    Args:
        height: pixels (≥ 16).
        cmap: a name of `COLORMAPS`; every one of its 256 entries appears, in order.
        vmin, vmax: the values at the bottom and top (the labels; they do not change colours).
        ticks: number of labelled values, evenly spaced from vmin to vmax (≥ 2), or 0.
        label: optional caption above the labels' column (e.g. "relevance").
        font_size: default height/20, at least 10 px.
    """
    from PIL import Image, ImageDraw
    if height < 16:
        raise ValueError(f"colorbar: height must be at least 16 px, got {height}")
    if ticks == 1 or ticks < 0:
        raise ValueError(f"colorbar: ticks must be 0 or at least 2, got {ticks}")
    if not (np.isfinite(vmin) and np.isfinite(vmax) and vmax > vmin):
        raise ValueError(f"colorbar: need finite vmin < vmax, got {vmin}, {vmax}")
    colormap_table(cmap)
    size = font_size or max(10, height // 20)
    pad = max(2, size // 3)
    bar_w = max(8, height // 16)
    values = [vmin + (vmax - vmin) * k / (ticks - 1) for k in range(ticks)] if ticks else []
    texts = [_label(v) for v in values]
    text_w = max([text_size(t, size)[0] for t in texts] + [text_size(label, size)[0] if label else 0])
    top = text_size("0", size)[1] // 2 + pad + ((text_size(label, size)[1] + pad) if label else 0)
    bottom = text_size("0", size)[1] // 2 + pad
    inner = height - top - bottom
    if inner < 8:
        raise ValueError(f"colorbar: height {height} leaves no room for the bar at font size {size}")
    width = pad + bar_w + pad + text_w + pad
    out = Image.new("RGB", (width, height), "white")
    ramp = np.linspace(1.0, 0.0, inner)[:, None].repeat(bar_w, axis=1)
    out.paste(Image.fromarray(apply_colormap(ramp, cmap)), (pad, top))
    d = ImageDraw.Draw(out)
    d.rectangle((pad - 1, top - 1, pad + bar_w, top + inner), outline=(0, 0, 0))
    f = font(size)
    if label:
        d.text((pad, pad), label, fill=(0, 0, 0), font=f)
    for k, t in enumerate(texts):
        y = top + round((inner - 1) * (1 - k / (ticks - 1)))
        d.line((pad + bar_w, y, pad + bar_w + pad // 2 + 1, y), fill=(0, 0, 0))
        d.text((2 * pad + bar_w, y), t, fill=(0, 0, 0), font=f, anchor="lm")
    return np.asarray(out)


def with_colorbar(image, cmap: str = "jet", vmin: float = 0.0, vmax: float = 1.0, **kwargs) -> np.ndarray:
    """``image`` with a `colorbar` of its height on its right (same keyword arguments)."""
    rgb = as_rgb(image)
    bar = colorbar(rgb.shape[0], cmap, vmin, vmax, **kwargs)
    return np.concatenate([rgb, bar], axis=1)
