"""Line plots as standalone SVG text (no plotting library): deletion/insertion curves."""

from __future__ import annotations

from html import escape
from typing import Sequence

import numpy as np

__all__ = ["curves_svg"]

# Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    span = hi - lo
    step = 10 ** np.floor(np.log10(span / n))
    for m in (1, 2, 5, 10):
        if span / (m * step) <= n:
            step *= m
            break
    first = np.ceil(lo / step) * step
    return [float(v) for v in np.arange(first, hi + step * 1e-9, step)]


def curves_svg(x: Sequence[float], series: Sequence[tuple[str, Sequence[float]]], title: str = "",
               xlabel: str = "", ylabel: str = "", width: int = 420, height: int = 280) -> str:
    """An SVG document plotting each (label, y) of ``series`` against ``x`` (same length).

    Axes with ticks, a legend when there is more than one series; y spans the data (and 0
    when the data are all positive and start near it). Raises ValueError for mismatched
    lengths or non-finite values.
    """
    xs = np.asarray(x, np.float64)
    if xs.ndim != 1 or xs.size < 2 or not np.all(np.isfinite(xs)) or xs.max() <= xs.min():
        raise ValueError("curves_svg: x must hold at least two finite, distinct values")
    ys = []
    for label, y in series:
        y = np.asarray(y, np.float64)
        if y.shape != xs.shape or not np.all(np.isfinite(y)):
            raise ValueError(f"curves_svg: series {label!r} must hold {xs.size} finite values")
        ys.append(y)
    if not ys:
        raise ValueError("curves_svg: no series")
    lo, hi = min(float(y.min()) for y in ys), max(float(y.max()) for y in ys)
    if lo > 0 and lo < 0.25 * hi:
        lo = 0.0
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    ml, mr, mt, mb = 56, 12, 28 if title else 12, 40
    pw, ph = width - ml - mr, height - mt - mb
    x0, x1 = float(xs.min()), float(xs.max())

    def px(v):
        return ml + (v - x0) / (x1 - x0) * pw

    def py(v):
        return mt + (1 - (v - lo) / (hi - lo)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    if title:
        out.append(f'<text x="{ml}" y="17" font-size="13">{escape(title)}</text>')
    for t in _ticks(lo, hi):
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{ml - 4}" y="{py(t) + 4:.1f}" text-anchor="end">{t:.3g}</text>')
    for t in _ticks(x0, x1):
        out.append(f'<text x="{px(t):.1f}" y="{mt + ph + 14}" text-anchor="middle">{t:.3g}</text>')
    out.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    if xlabel:
        out.append(f'<text x="{ml + pw / 2:.1f}" y="{height - 6}" text-anchor="middle">{escape(xlabel)}</text>')
    if ylabel:
        out.append(f'<text transform="translate(12,{mt + ph / 2:.1f}) rotate(-90)" text-anchor="middle">'
                   f'{escape(ylabel)}</text>')
    for k, ((label, _), y) in enumerate(zip(series, ys)):
        colour = _PALETTE[k % len(_PALETTE)]
        pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xs, y))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.8"/>')
        if len(series) > 1:
            ly = mt + 12 + 14 * k
            out.append(f'<line x1="{ml + pw - 110}" x2="{ml + pw - 92}" y1="{ly - 4}" y2="{ly - 4}" '
                       f'stroke="{colour}" stroke-width="2"/>')
            out.append(f'<text x="{ml + pw - 88}" y="{ly}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
