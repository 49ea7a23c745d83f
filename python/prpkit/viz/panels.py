""""This looks like that" panels: an image's explained prototypes, one row each.

Each row shows the image with its heatmap for one prototype, the prototype's own source
(the training image it was projected onto, with the prototype's heatmap there), and a few
caption lines (prototype, class, similarity). The pictures are made by the caller (e.g.
`overlay` + `bbox_to_percentile`); this module only lays them out.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .images import as_rgb, upscale
from .text import font, text_size

__all__ = ["panel"]

_INK = (0, 0, 0)
_MUTED = (110, 110, 110)


def panel(rows: Sequence[tuple], title: str | None = None,
          headers: tuple[str, str] = ("this image", "looks like this prototype"),
          font_size: int | None = None, padding: int | None = None) -> np.ndarray:
    """Lays out rows of (image view, prototype view or None, caption lines): uint8 RGB.

    Args:
        rows: one tuple per prototype: the image's view (any form `as_rgb` takes), the
            prototype's source view (resized to the image view's size; None draws an empty
            cell saying there is no source), and a sequence of caption strings (the first
            one bold-ish: drawn larger).
        title: a line above everything (e.g. the image's name and predicted class).
        headers: the two picture columns' headings.
        font_size: caption size in px (default: view height / 14, at least 11).
        padding: pixels around and between cells (default font_size / 2).
    """
    from PIL import Image, ImageDraw
    if not rows:
        raise ValueError("panel: no rows")
    views = [as_rgb(r[0]) for r in rows]
    vh, vw = views[0].shape[:2]
    if any(v.shape[:2] != (vh, vw) for v in views):
        raise ValueError("panel: every image view must have the same size")
    size = font_size or max(11, vh // 14)
    pad = padding if padding is not None else max(4, size // 2)
    captions = [[str(s) for s in r[2]] for r in rows]
    big = round(size * 1.25)
    text_w = max([text_size(c[0], big)[0] for c in captions if c] +
                 [text_size(s, size)[0] for c in captions for s in c[1:]] + [0])
    head_h = text_size("Ag", size)[1] + pad
    title_h = (text_size(title, big)[1] + 2 * pad) if title else 0
    W = pad + vw + pad + vw + 2 * pad + text_w + pad
    H = title_h + head_h + len(rows) * (vh + pad) + pad
    out = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(out)
    if title:
        d.text((pad, pad), title, fill=_INK, font=font(big))
    y = title_h
    for k, h in enumerate(headers):
        d.text((pad + k * (vw + pad) + vw // 2, y), h, fill=_MUTED, font=font(size), anchor="ma")
    y += head_h
    for view, row, cap in zip(views, rows, captions):
        out.paste(Image.fromarray(view), (pad, y))
        x2 = 2 * pad + vw
        if row[1] is None:  # drawn on a cell of its own, so that the text is clipped to it
            empty = Image.new("RGB", (vw, vh), (235, 235, 235))
            ImageDraw.Draw(empty).text((vw // 2, vh // 2), "no source image", fill=_MUTED, font=font(size),
                                       anchor="mm")
            out.paste(empty, (x2, y))
        else:
            out.paste(Image.fromarray(upscale(row[1], (vw, vh))), (x2, y))
        tx, ty = x2 + vw + 2 * pad, y + pad
        for j, line in enumerate(cap):
            f = font(big if j == 0 else size)
            d.text((tx, ty), line, fill=_INK if j == 0 else _MUTED, font=f)
            ty += text_size(line, big if j == 0 else size)[1] + pad // 2 + 2
        y += vh + pad
    return np.asarray(out)
