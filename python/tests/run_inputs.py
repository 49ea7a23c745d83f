"""Inputs for the streaming, resume and Ray tests: the bundled samples, normalised, with
seeded noise, as an .npz of N images and their labels (the digit of each sample)."""

from __future__ import annotations

import json
import os

import numpy as np

from prpkit import cli


def sample_batch(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3, 32, 32) float32 normalised images and their (n,) int64 labels."""
    from PIL import Image
    meta = json.load(open(os.path.join(cli.DATA_DIR, "digits_protopnet.json")))
    mean = np.asarray(meta["mean"], np.float32)[:, None, None]
    std = np.asarray(meta["std"], np.float32)[:, None, None]
    files = sorted(os.listdir(cli.BUNDLED_SAMPLES))
    xs, labels = [], []
    for f in files:
        a = np.asarray(Image.open(os.path.join(cli.BUNDLED_SAMPLES, f)).convert("RGB"), np.float32) / 255.0
        xs.append((a.transpose(2, 0, 1) - mean) / std)
        labels.append(int(f[5]))  # digit<d>_heldout<k>.png
    xs, labels = np.stack(xs), np.asarray(labels)
    rng = np.random.default_rng(seed)
    reps = -(-n // len(xs))
    big = np.concatenate([xs + 0.05 * rng.standard_normal(xs.shape).astype(np.float32) for _ in range(reps)])[:n]
    return np.ascontiguousarray(big, np.float32), np.tile(labels, reps)[:n].astype(np.int64)


def write_npz(path, n: int, seed: int = 0) -> str:
    x, y = sample_batch(n, seed)
    np.savez(path, images=x, labels=y)
    return str(path)


def folder_bytes(folder) -> dict[str, bytes]:
    """Every file of an output folder (hidden journal excluded) → its bytes."""
    out = {}
    for f in sorted(os.listdir(folder)):
        p = os.path.join(folder, f)
        if os.path.isfile(p) and not f.startswith("."):
            with open(p, "rb") as fh:
                out[f] = fh.read()
    return out


def records(path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def without_timings(recs: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "timings_ms"} for r in recs]


def journaled(out) -> int:
    """How many images explain's journal in ``out`` lists as complete (a cut last line counts)."""
    try:
        with open(os.path.join(out, ".records.jsonl.journal"), "rb") as f:
            return f.read().count(b"\n") - 1
    except FileNotFoundError:
        return 0
