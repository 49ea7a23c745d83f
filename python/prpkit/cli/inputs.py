"""The images a command explains: the arguments expanded (files, folders, globs, list files
with optional labels, .npy/.npz tensors), every input validated before anything is computed,
then read batch by batch."""

from __future__ import annotations

import csv
import glob
import os
from typing import Sequence

import numpy as np

from .errors import PILLOW_HINT, CLIError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
ARRAY_EXTENSIONS = (".npy", ".npz")
LIST_EXTENSIONS = (".txt", ".lst")
CSV_EXTENSIONS = (".csv",)
# Integer arrays of an .npz holding the images' labels (one per image), by name.
NPZ_LABEL_KEYS = ("labels", "label", "y", "targets")
GLOB_CHARS = "*?["
_FINITE_CHUNK = 1 << 22  # elements checked for NaN/inf at a time (a memory-mapped .npy is never read whole)


class Item:
    """One input image: a picture file, or one entry of a .npy file (``index``) or of an
    array of an .npz file (``key``, ``index``); ``truth`` is its label from a list file or
    the .npz (None without one)."""

    __slots__ = ("path", "index", "name", "key", "truth")

    def __init__(self, path: str, index: int | None, name: str, key: str | None = None,
                 truth: int | str | None = None) -> None:
        self.path, self.index, self.name, self.key, self.truth = path, index, name, key, truth

    @property
    def label(self) -> str:
        """How messages and resume journals name the input: path, path[i] or path[key][i]."""
        if self.index is None:
            return self.path
        return f"{self.path}[{self.index}]" if self.key is None else f"{self.path}[{self.key}][{self.index}]"


def _parse_label(text: str) -> int | str:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return text


def _list_lines(spec: str) -> list[str]:
    try:
        with open(spec, encoding="utf-8", newline="") as f:
            lines = [ln.rstrip("\r\n") for ln in f]
    except (OSError, UnicodeDecodeError) as e:
        raise CLIError(f"{spec}: unreadable list file ({e})") from None
    lines = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise CLIError(f"{spec}: the list file is empty")
    return lines


def _resolve(base: str, p: str) -> str:
    return p if os.path.isabs(p) else os.path.join(base, p)


def _text_list(spec: str) -> list[tuple[str, int | str | None]]:
    """A .txt/.lst list: one path per line, optionally followed by whitespace and a label
    (``cat/001.png 3``); a line that is itself an existing path has no label."""
    base, out = os.path.dirname(spec), []
    for ln in _list_lines(spec):
        ln = ln.strip()
        path = _resolve(base, ln)
        parts = ln.rsplit(None, 1)
        if not os.path.exists(path) and len(parts) == 2 and os.path.exists(_resolve(base, parts[0])):
            out.append((_resolve(base, parts[0]), _parse_label(parts[1])))
        else:
            out.append((path, None))
    return out


def _csv_list(spec: str) -> list[tuple[str, int | str | None]]:
    """A .csv list: the first column a path (relative to the list), the second, if any, a
    label; a first row whose first cell is path/image/file/filename is a header."""
    base = os.path.dirname(spec)
    rows = [r for r in csv.reader(_list_lines(spec)) if r and r[0].strip()]
    if rows and rows[0][0].strip().lower() in ("path", "image", "file", "filename"):
        rows = rows[1:]
    if not rows:
        raise CLIError(f"{spec}: the list file is empty")
    bad = [r for r in rows if len(r) > 2]
    if bad:
        raise CLIError(f"{spec}: expected rows path[,label], got {','.join(bad[0])!r}")
    return [(_resolve(base, r[0].strip()), _parse_label(r[1]) if len(r) == 2 and r[1].strip() else None)
            for r in rows]


def expand_inputs(specs: Sequence[str], truth=None) -> list[tuple[str, str, int | str | None]]:
    """(path, kind, label) for every argument: files, folders (their images and .npy/.npz
    files, sorted, not recursive), globs (``'data/**/*.png'``, sorted), and list files
    (.txt/.lst: a path per line with an optional label; .csv: path[,label]), their paths
    relative to the list."""
    out: list[tuple[str, str, int | str | None]] = []
    for spec in specs:
        if not os.path.exists(spec) and any(ch in spec for ch in GLOB_CHARS):
            matches = sorted(glob.glob(spec, recursive=True))
            if not matches:
                raise CLIError(f"{spec}: the pattern matches no files")
            out += expand_inputs(matches, truth)
            continue
        if not os.path.exists(spec):
            raise CLIError(f"{spec}: no such file or directory")
        low = spec.lower()
        if os.path.isdir(spec):
            found = sorted(f for f in os.listdir(spec)
                           if f.lower().endswith(IMAGE_EXTENSIONS + ARRAY_EXTENSIONS) and not f.startswith("."))
            if not found:
                raise CLIError(f"{spec}: the folder holds no images ({', '.join(IMAGE_EXTENSIONS)}) "
                               f"or .npy/.npz files")
            out += expand_inputs([os.path.join(spec, f) for f in found], truth)
        elif low.endswith(ARRAY_EXTENSIONS):
            out.append((spec, low[-3:], truth))
        elif low.endswith(LIST_EXTENSIONS + CSV_EXTENSIONS):
            entries = _csv_list(spec) if low.endswith(CSV_EXTENSIONS) else _text_list(spec)
            for path, label in entries:
                out += expand_inputs([path], label)
        else:
            out.append((spec, "image", truth))
    return out


def _load_npy(path: str) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False, mmap_mode="r")
    except Exception as e:  # noqa: BLE001 - numpy raises several types
        raise CLIError(f"{path}: unreadable .npy file ({type(e).__name__}: {e})") from None
    if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.floating):
        raise CLIError(f"{path}: expected a floating-point array, got dtype {getattr(a, 'dtype', type(a))}")
    return a


def _load_npz(path: str) -> tuple[list[tuple[str, np.ndarray]], np.ndarray | None]:
    """The floating-point arrays of an .npz (in the file's order) and its label array, if any."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = [(k, z[k]) for k in z.files]
    except Exception as e:  # noqa: BLE001
        raise CLIError(f"{path}: unreadable .npz file ({type(e).__name__}: {e})") from None
    labels = None
    images = []
    for k, a in arrays:
        if k in NPZ_LABEL_KEYS and np.issubdtype(a.dtype, np.integer) and a.ndim == 1:
            labels = a
        elif np.issubdtype(a.dtype, np.floating):
            images.append((k, a))
        else:
            raise CLIError(f"{path}: array {k!r} has dtype {a.dtype}; expected floating-point images "
                           f"(labels go in an integer array named {' / '.join(NPZ_LABEL_KEYS)})")
    if not images:
        raise CLIError(f"{path}: the .npz holds no floating-point image array")
    return images, labels


def _check_array(a: np.ndarray, where: str, chw) -> np.ndarray:
    a = a[None] if a.ndim == 3 else a
    if a.ndim != 4 or tuple(a.shape[1:]) != tuple(chw):
        raise CLIError(f"{where}: shape {tuple(a.shape)} does not match the model input "
                       f"(C, H, W) = {tuple(chw)} or (N, C, H, W)")
    flat = a.reshape(-1)
    for s in range(0, flat.size, _FINITE_CHUNK):
        if not np.all(np.isfinite(flat[s:s + _FINITE_CHUNK])):
            raise CLIError(f"{where}: contains NaN or infinite values")
    return a


def collect_items(specs: Sequence[str], in_shape: Sequence[int]) -> list[Item]:
    """Every input, validated (readable, right shape) before anything is computed."""
    c, h, w = in_shape
    items: list[Item] = []
    for path, kind, truth in expand_inputs(specs):
        stem = os.path.splitext(os.path.basename(path))[0]
        if kind == "npy":
            raw = _load_npy(path)
            a = _check_array(raw, path, (c, h, w))
            single = raw.ndim == 3
            items += [Item(path, i, stem if single else f"{stem}_{i}", truth=truth) for i in range(a.shape[0])]
        elif kind == "npz":
            arrays, labels = _load_npz(path)
            if labels is not None and (len(arrays) != 1 or len(labels) != len(_check_array(arrays[0][1], path, (c, h, w)))):
                raise CLIError(f"{path}: a label array needs exactly one image array with one label per image")
            for k, raw in arrays:
                a = _check_array(raw, f"{path}[{k}]", (c, h, w))
                for i in range(a.shape[0]):
                    lab = int(labels[i]) if labels is not None else truth
                    items.append(Item(path, i, f"{stem}_{k}_{i}", key=k, truth=lab))
        else:
            read_image(path, c, h, w)  # validates
            items.append(Item(path, None, stem, truth=truth))
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
    cache: dict[tuple[str, str | None], np.ndarray] = {}
    for it in items:
        if it.index is None:
            pix, rs = read_image(it.path, c, h, w)
            xs.append((pix - mean) / std)
            shows.append(pix)
            resized.append(rs)
        else:
            ck = (it.path, it.key)
            if ck not in cache:
                if it.key is None:
                    a = _load_npy(it.path)
                else:
                    a = dict(_load_npz(it.path)[0])[it.key]
                cache[ck] = a[None] if a.ndim == 3 else a
            x = np.asarray(cache[ck][it.index], dtype=np.float32)
            xs.append(x)
            shows.append(np.clip(x * std + mean, 0.0, 1.0))
            resized.append(False)
    x = np.ascontiguousarray(np.stack(xs).astype(np.float32))
    show = np.stack(shows)
    show = np.repeat(show, 3, axis=1) if show.shape[1] == 1 else show[:, :3]
    return x, show.transpose(0, 2, 3, 1), resized
