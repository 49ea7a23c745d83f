"""Segmentation masks for the pointing game: found by the images' names, read at the model's
input size."""

from __future__ import annotations

import os

import numpy as np

from .errors import PILLOW_HINT, CLIError
from .inputs import IMAGE_EXTENSIONS


def read_mask(path: str, h: int, w: int) -> np.ndarray:
    """A segmentation mask as (H, W) bool at the model input size: non-zero = inside. Colour
    masks are summed over channels first (CaBRNet); other sizes are resized (nearest)."""
    if path.lower().endswith(".npy"):
        try:
            a = np.load(path, allow_pickle=False)
        except Exception as e:  # noqa: BLE001
            raise CLIError(f"{path}: unreadable mask ({type(e).__name__}: {e})") from None
        if a.ndim == 3:
            a = a.sum(axis=-1)
        if a.ndim != 2 or a.shape != (h, w):
            raise CLIError(f"{path}: mask shape {a.shape} is not the model input's (H, W) = {(h, w)}")
        return a != 0
    try:
        from PIL import Image
    except ImportError:
        raise CLIError(f"{path}: reading PNG/JPEG/... masks needs Pillow ({PILLOW_HINT}); .npy masks do not") from None
    try:
        with Image.open(path) as im:
            if im.size != (w, h):
                im = im.resize((w, h), Image.NEAREST)
            a = np.asarray(im)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise CLIError(f"{path}: unreadable mask ({e})") from None
    if a.ndim == 3:
        a = a.astype(np.int64).sum(axis=-1)
    return a != 0


def find_masks(items, folder: str) -> dict[str, str]:
    if not os.path.isdir(folder):
        raise CLIError(f"--masks {folder}: not a folder")
    by_stem: dict[str, str] = {}
    for f in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(f)
        if ext.lower() in IMAGE_EXTENSIONS + (".npy",) and stem not in by_stem:
            by_stem[stem] = os.path.join(folder, f)
    out = {}
    for it in items:
        stem = os.path.splitext(os.path.basename(it.path))[0]
        for key in (it.name, stem):
            if key in by_stem:
                out[it.name] = by_stem[key]
                break
        else:
            raise CLIError(f"--masks {folder}: no mask for {it.label} (expected {it.name} or {stem} with an "
                           f"image or .npy extension)")
    return out
