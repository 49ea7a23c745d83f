"""The images a command explains: the arguments expanded (files, folders, list files, .npy
tensors), every input validated before anything is computed, then read batch by batch."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from .errors import PILLOW_HINT, CLIError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
LIST_EXTENSIONS = (".txt", ".lst")


class Item:
    """One input image: a picture file, or one entry of a .npy file."""

    __slots__ = ("path", "index", "name")

    def __init__(self, path: str, index: int | None, name: str) -> None:
        self.path, self.index, self.name = path, index, name

    @property
    def label(self) -> str:
        return self.path if self.index is None else f"{self.path}[{self.index}]"


def expand_inputs(specs: Sequence[str]) -> list[tuple[str, str]]:
    """(path, kind) for every argument: files, folders (their images and .npy files, sorted,
    not recursive) and list files (.txt/.lst: one path per line, relative to the list)."""
    out: list[tuple[str, str]] = []
    for spec in specs:
        if not os.path.exists(spec):
            raise CLIError(f"{spec}: no such file or directory")
        if os.path.isdir(spec):
            found = sorted(f for f in os.listdir(spec)
                           if f.lower().endswith(IMAGE_EXTENSIONS + (".npy",)) and not f.startswith("."))
            if not found:
                raise CLIError(f"{spec}: the folder holds no images ({', '.join(IMAGE_EXTENSIONS)}) or .npy files")
            out += [(os.path.join(spec, f), "npy" if f.lower().endswith(".npy") else "image") for f in found]
        elif spec.lower().endswith(".npy"):
            out.append((spec, "npy"))
        elif spec.lower().endswith(LIST_EXTENSIONS):
            base = os.path.dirname(spec)
            try:
                with open(spec, encoding="utf-8") as f:
                    lines = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
            except (OSError, UnicodeDecodeError) as e:
                raise CLIError(f"{spec}: unreadable list file ({e})") from None
            if not lines:
                raise CLIError(f"{spec}: the list file is empty")
            out += expand_inputs([ln if os.path.isabs(ln) else os.path.join(base, ln) for ln in lines])
        else:
            out.append((spec, "image"))
    return out


def _load_npy(path: str) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - numpy raises several types
        raise CLIError(f"{path}: unreadable .npy file ({type(e).__name__}: {e})") from None
    if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.floating):
        raise CLIError(f"{path}: expected a floating-point array, got dtype {getattr(a, 'dtype', type(a))}")
    return a


def collect_items(specs: Sequence[str], in_shape: Sequence[int]) -> list[Item]:
    """Every input, validated (readable, right shape) before anything is computed."""
    c, h, w = in_shape
    items: list[Item] = []
    for path, kind in expand_inputs(specs):
        stem = os.path.splitext(os.path.basename(path))[0]
        if kind == "npy":
            a = _load_npy(path)
            single = a.ndim == 3
            if single:
                a = a[None]
            if a.ndim != 4 or tuple(a.shape[1:]) != (c, h, w):
                raise CLIError(f"{path}: shape {tuple(a.shape)} does not match the model input "
                               f"(C, H, W) = {(c, h, w)} or (N, C, H, W)")
            if not np.all(np.isfinite(a)):
                raise CLIError(f"{path}: contains NaN or infinite values")
            items += [Item(path, i, stem if single else f"{stem}_{i}") for i in range(a.shape[0])]
        else:
            read_image(path, c, h, w)  # validates
            items.append(Item(path, None, stem))
    # unique output names (the same stem in two folders)
    seen: dict[str, int] = {}
    for it in items:
        n = seen.get(it.name, 0)
        seen[it.name] = n + 1
        if n:
            it.name = f"{it.name}_{n + 1}"
    return items


def read_image(path: str, c: int, h: int, w: int) -> tuple[np.ndarray, bool]:
    """A picture as float32 (C, H, W) in [0, 1], resized (bilinear) to the model input if
    needed; returns (pixels, resized)."""
    try:
        from PIL import Image
    except ImportError:
        raise CLIError(f"{path}: reading PNG/JPEG/... images needs Pillow ({PILLOW_HINT}); .npy inputs do not") from None
    if c not in (1, 3):
        raise CLIError(f"{path}: the model takes {c} channels; give .npy inputs")
    try:
        with Image.open(path) as im:
            im = im.convert("RGB" if c == 3 else "L")
            resized = im.size != (w, h)
            if resized:
                im = im.resize((w, h), Image.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise CLIError(f"{path}: unreadable image ({e})") from None
    a = a.astype(np.float32) / 255.0
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return np.ascontiguousarray(a), resized


def load_batch(items: Sequence[Item], in_shape, mean: np.ndarray, std: np.ndarray):
    """(x normalised (N, C, H, W) float32, display pixels (N, H, W, 3) in [0, 1], resized flags)."""
    c, h, w = in_shape
    xs, shows, resized = [], [], []
    cache: dict[str, np.ndarray] = {}
    for it in items:
        if it.index is None:
            pix, rs = read_image(it.path, c, h, w)
            xs.append((pix - mean) / std)
            shows.append(pix)
            resized.append(rs)
        else:
            if it.path not in cache:
                a = _load_npy(it.path)
                cache[it.path] = a[None] if a.ndim == 3 else a
            x = cache[it.path][it.index].astype(np.float32)
            xs.append(x)
            shows.append(np.clip(x * std + mean, 0.0, 1.0))
            resized.append(False)
    x = np.ascontiguousarray(np.stack(xs).astype(np.float32))
    show = np.stack(shows)
    show = np.repeat(show, 3, axis=1) if show.shape[1] == 1 else show[:, :3]
    return x, show.transpose(0, 2, 3, 1), resized
