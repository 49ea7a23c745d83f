"""Colour maps as 256-entry RGB byte tables, exactly as the references draw them.

- ``jet``: OpenCV's ``COLORMAP_JET`` (what CaBRNet's heatmaps use), from ``tables/jet.txt``.
- ``viridis``: the published 256-entry table (``tables/viridis.txt``); bytes as
  matplotlib's ``cmap(i, bytes=True)`` gives them (``floor(255·value)``).
- ``bwr`` and ``coldnhot``: zennit's diverging maps, built from their colour stops
  (white, resp. black, at entry 128) for signed relevance.

A value v in [0, 1] selects entry ``floor(255·v)``, computed in v's own floating dtype: that
is CaBRNet's ``(255 * sim_map).astype(uint8)`` and zennit's ``imgify`` quantisation, so the
pixels are theirs bit for bit.
"""

from __future__ import annotations

import functools
import os

import numpy as np

__all__ = ["COLORMAPS", "DIVERGING", "colormap_table", "apply_colormap", "normalize", "colorize"]

COLORMAPS = ("jet", "viridis", "bwr", "coldnhot")
"""The colour maps' names."""
DIVERGING = frozenset({"bwr", "coldnhot"})
"""The maps meant for signed values: 0 sits in the middle of their table."""

_TABLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tables")

# zennit's colour stops (entry, RGB), linear in between. Stops without an explicit entry in
# zennit's source are spread evenly between their neighbours and truncated to an integer
# entry there (coldnhot's red at 170 and yellow at 212).
_STOPS = {
    "bwr": ((0, (0, 0, 255)), (128, (255, 255, 255)), (255, (255, 0, 0))),
    "coldnhot": ((0, (0, 255, 255)), (64, (0, 0, 255)), (128, (0, 0, 0)),
                 (170, (255, 0, 0)), (212, (255, 255, 0)), (255, (255, 255, 255))),
}


def _from_stops(stops) -> np.ndarray:
    # Integer arithmetic: entry i between stops (a, ca) and (b, cb) is
    # floor(ca + (cb - ca)·(i - a)/(b - a)), the exact value zennit's palette truncates.
    out = np.empty((256, 3), np.uint8)
    for (a, ca), (b, cb) in zip(stops, stops[1:]):
        i = np.arange(a, b + 1)[:, None]
        ca_, cb_ = np.asarray(ca, np.int64), np.asarray(cb, np.int64)
        out[a:b + 1] = (ca_ * (b - a) + (cb_ - ca_) * (i - a)) // (b - a)
    return out


@functools.lru_cache(maxsize=None)
def _table(name: str) -> np.ndarray:
    if name in _STOPS:
        t = _from_stops(_STOPS[name])
    elif name == "jet":
        t = np.loadtxt(os.path.join(_TABLES, "jet.txt"), dtype=np.int64).astype(np.uint8)
    elif name == "viridis":
        # matplotlib's bytes=True: floor(255 · published float)
        t = (np.loadtxt(os.path.join(_TABLES, "viridis.txt"), dtype=np.float64) * 255).astype(np.uint8)
    else:
        raise ValueError(f"unknown colour map {name!r} (known: {', '.join(COLORMAPS)})")
    assert t.shape == (256, 3)
    t.setflags(write=False)
    return t


def colormap_table(name: str) -> np.ndarray:
    """The (256, 3) uint8 RGB table of colour map ``name`` (one of `COLORMAPS`), read-only."""
    return _table(name)


def _values(values, what: str) -> np.ndarray:
    v = np.asarray(values)
    if not np.issubdtype(v.dtype, np.floating):
        v = v.astype(np.float64)
    if v.size and not np.all(np.isfinite(v)):
        raise ValueError(f"{what}: contains NaN or infinity")
    return v


def apply_colormap(values, cmap: str = "jet") -> np.ndarray:
    """Colours values in [0, 1] (any shape S) with ``cmap``: uint8 RGB of shape S + (3,).

    Entry ``floor(255·v)`` of the table, in v's dtype (float32 stays float32, as in CaBRNet).
    Raises ValueError for values outside [0, 1] (normalise first: `normalize`) or NaN.
    """
    table = _table(cmap)
    v = _values(values, "apply_colormap")
    if v.size and (v.min() < 0 or v.max() > 1):
        raise ValueError(f"apply_colormap: values must lie in [0, 1], got [{v.min():g}, {v.max():g}] "
                         "(use prpkit.viz.normalize)")
    return table[(v * v.dtype.type(255)).astype(np.uint8)]


def normalize(values, symmetric: bool = False, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """Maps values linearly onto [0, 1] (zennit's ``imgify`` norm), in their floating dtype.

    symmetric=False: [min, max] → [0, 1]. symmetric=True: [−max|v|, max|v|] → [0, 1], so 0
    lands on 0.5, the middle of a diverging map (entry 127 of 256 after ``floor(255·v)``,
    as in zennit: 1/128 of the way from white/black). ``vmin``/``vmax`` override the bounds;
    values beyond them are clipped. A constant input (or all zeros) maps to 0 (0.5 if
    symmetric) instead of dividing by zero.
    """
    v = _values(values, "normalize")
    if v.size == 0:
        return v.copy()
    if symmetric:
        hi = np.abs(v).max()
        lo = -hi
    else:
        lo, hi = v.min(), v.max()
    lo = v.dtype.type(lo if vmin is None else vmin)
    hi = v.dtype.type(hi if vmax is None else vmax)
    if not hi > lo:
        if vmin is not None and vmax is not None:
            raise ValueError(f"normalize: vmax ({vmax}) must exceed vmin ({vmin})")
        return np.full_like(v, 0.5 if symmetric else 0.0)
    return np.clip((v - lo) / (hi - lo), 0, 1)


def colorize(values, cmap: str = "bwr", symmetric: bool | None = None) -> np.ndarray:
    """`normalize` then `apply_colormap`: a (H, W) map → uint8 RGB (H, W, 3).

    ``symmetric`` defaults to True for the diverging maps (`DIVERGING`) and False otherwise;
    ``colorize(r, "bwr")`` is zennit's ``imgify(r, cmap="bwr", symmetric=True)``, pixel for pixel.
    """
    _table(cmap)
    sym = cmap in DIVERGING if symmetric is None else symmetric
    return apply_colormap(normalize(values, symmetric=sym), cmap)
