"""CaBRNet's views of a similarity map (``cabrnet.core.visualization.view``): same names,
arguments and pixels.

``sim_map`` is a (H, W) map normalised to [0, 1] at the image's size (e.g.
`prpkit.post_process(..., normalize=True)`). ``percentile`` p selects the pixels whose value
exceeds 1 − p: CaBRNet's configurations use 0.7 for a box around the most relevant 30 % of
the value range (the top of the range, not a quantile of the pixels).

Images go in as Pillow images (or anything `as_rgb` takes) and come out as Pillow images,
as in CaBRNet. Where CaBRNet asserts, these raise ValueError.
"""

from __future__ import annotations

import numpy as np

from .colormaps import apply_colormap
from .images import as_rgb

__all__ = ["compute_bbox", "bbox_to_percentile", "crop_to_percentile", "heatmap"]


def _pil(img):
    from PIL import Image
    return img if isinstance(img, Image.Image) else Image.fromarray(as_rgb(img))


def _sim(sim_map, where: str) -> np.ndarray:
    s = np.asarray(sim_map)
    if s.ndim != 2 or 0 in s.shape:
        raise ValueError(f"{where}: sim_map must be a non-empty (H, W) map, got shape {s.shape}")
    if not np.all(np.isfinite(s)) or s.min() < 0 or s.max() > 1:
        raise ValueError(f"{where}: expected a similarity map normalised to [0, 1] (without NaN)")
    return s


def _percentile(p: float, where: str) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{where}: percentile must lie in [0, 1], got {p}")
    return p


def compute_bbox(array, threshold: float) -> tuple[int, int, int, int]:
    """The smallest box outside which every value of ``array`` (H, W) is ≤ ``threshold``.

    Returns (x_min, x_max, y_min, y_max) with x along the width (columns) and y along the
    height (rows), max exclusive (CaBRNet's convention). If no value exceeds the threshold
    the box is empty: (0, 0, 0, 0) (CaBRNet returns a meaningless inverted box there).
    """
    a = np.asarray(array)
    if a.ndim != 2:
        raise ValueError(f"compute_bbox: expected a 2-D array, got {a.ndim} dimensions")
    rows = np.flatnonzero(a.max(axis=1) > threshold)
    if rows.size == 0:
        return 0, 0, 0, 0
    cols = np.flatnonzero(a.max(axis=0) > threshold)
    return int(cols[0]), int(cols[-1]) + 1, int(rows[0]), int(rows[-1]) + 1


def crop_to_percentile(img, sim_map, percentile: float, **kwargs):
    """The part of ``img`` inside the box of the values of ``sim_map`` above 1 − percentile.

    Raises ValueError when no value exceeds the threshold (nothing to crop to).
    """
    s = _sim(sim_map, "crop_to_percentile")
    x0, x1, y0, y1 = compute_bbox(s, 1.0 - _percentile(percentile, "crop_to_percentile"))
    if x1 <= x0:
        raise ValueError(f"crop_to_percentile: no value of sim_map exceeds 1 - percentile = {1.0 - percentile:g}")
    return _pil(img).crop(box=(x0, y0, x1, y1))


def bbox_to_percentile(img, sim_map, percentile: float, thickness: int = 4, **kwargs):
    """A copy of ``img`` with a yellow box (``thickness`` px) around the values of
    ``sim_map`` above 1 − percentile; no box when none does.

    As in CaBRNet the rectangle's corners are (x_min, y_min) and (x_max, y_max) inclusive,
    i.e. its right and bottom edges lie one pixel beyond the selected area.
    """
    from PIL import ImageDraw
    s = _sim(sim_map, "bbox_to_percentile")
    x0, x1, y0, y1 = compute_bbox(s, 1.0 - _percentile(percentile, "bbox_to_percentile"))
    out = _pil(img).copy()
    if x1 > x0 and y1 > y0:
        ImageDraw.Draw(out).rectangle(xy=((x0, y0), (x1, y1)), width=thickness, outline="yellow")
    return out


def heatmap(img, sim_map, overlay: bool = False, percentile: float = 0, thickness: int = 4, **kwargs):
    """``sim_map`` coloured with OpenCV's jet; with ``overlay`` blended over ``img`` as
    ``uint8(0.4·jet + 0.6·img)`` (CaBRNet's weights, truncated as CaBRNet does); with
    ``percentile`` > 0 also the box of `bbox_to_percentile`. ``img`` fixes the size: its
    (height, width) must equal ``sim_map``'s shape.
    """
    pil = _pil(img)
    s = _sim(sim_map, "heatmap")
    if (pil.height, pil.width) != s.shape:
        raise ValueError(f"heatmap: image is {pil.height}×{pil.width} but sim_map is {s.shape[0]}×{s.shape[1]}")
    from PIL import Image
    colour = apply_colormap(s, "jet")
    if overlay:
        colour = (0.4 * colour + 0.6 * as_rgb(pil)).astype(np.uint8)
    out = Image.fromarray(colour)
    if percentile > 0.0:
        return bbox_to_percentile(out, s, percentile=percentile, thickness=thickness)
    return out
