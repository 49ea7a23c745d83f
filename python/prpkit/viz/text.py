"""Text on pictures: one font for every caption and tick label of prpkit.viz."""

from __future__ import annotations

import functools

__all__ = ["font", "text_size"]


@functools.lru_cache(maxsize=None)
def font(size: int):
    """Pillow's built-in font at ``size`` px (its scalable face when Pillow has FreeType,
    else its fixed bitmap face): no font file needed on the machine."""
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or without FreeType
        return ImageFont.load_default()


def text_size(text: str, size: int) -> tuple[int, int]:
    """(width, height) in pixels of ``text`` drawn at ``size``."""
    left, top, right, bottom = font(size).getbbox(text)
    return int(right - min(left, 0)), int(bottom - min(top, 0))
