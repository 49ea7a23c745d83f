"""Relevance metrics for evaluation harnesses, computed natively and in batches
(``prpkit_pointing_game`` / ``prpkit_perturbation_curves`` of include/prpkit.h).

Pointing game — CaBRNet 1.2's definitions (cabrnet/core/evaluation/relevance_analysis.py,
``pg_energy_relevance`` and ``pg_mask_relevance``):

* ``energy`` = Σ_{mask} R / Σ R (raw R, as CaBRNet; 0 when Σ R = 0);
* ``mask_relevance`` at area fraction ``a``: t = sort(R)[int(H·W·(1 − a))];
  the fraction of the pixels with R > t (strictly) that lie inside the mask; 0 when
  no pixel is selected.

A mask pixel is inside when it is non-zero; an (H, W, C) mask is summed over its last
axis first (CaBRNet's ``np.sum(object_seg, axis=-1)``).

Deletion / insertion — RISE (Petsiuk et al. 2018); CaBRNet has none. Pixels are ranked
by relevance, descending (ties: lower row-major index first); step k ∈ 0…S changes the
first n_k = ⌊k·H·W / S⌋ ranked pixels in every channel. Deletion replaces them by the
baseline (default zeros = the normalisation mean in the model's input space), insertion
copies them from the image onto the baseline (default: the image blurred per channel by
scipy.ndimage.gaussian_filter with σ = ``blur_sigma``, default 5). The score after each
step is the model's output at ``target`` (optionally its softmax over dimension 1); the
AUC is the trapezoidal rule over x_k = n_k / (H·W) ∈ [0, 1]. All S + 1 perturbed
images form one batch, run in forward passes of ``batch_size`` images.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import _core
from ._model import Model

__all__ = ["pointing_game", "deletion_curve", "insertion_curve", "perturbation_curves"]


def _f32(a: Any, what: str) -> np.ndarray:
    try:
        a = np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a)
    except Exception as e:  # noqa: BLE001
        raise TypeError(f"{what}: expected an array, got {type(a).__name__} ({e})") from None
    return np.ascontiguousarray(a, dtype=np.float32)


def _relevance_2d(relevance: Any, batched: bool) -> np.ndarray:
    """(H, W) / (N, H, W) relevance; a (C, H, W) / (N, C, H, W) map is summed over channels."""
    r = _f32(relevance, "relevance")
    if r.ndim == (4 if batched else 3):
        r = np.ascontiguousarray(r.sum(axis=-3, dtype=np.float32))
    return r


def pointing_game(relevance: Any, mask: Any, area_percentage: float = 0.1, *,
                  positive_only: bool = False) -> tuple[np.ndarray, np.ndarray] | tuple[float, float]:
    """CaBRNet's pointing-game relevance: ``(energy, mask_relevance)``.

    ``relevance``: (H, W) → two floats; (N, H, W) → two (N,) arrays. ``mask``: (H, W),
    (H, W, C) (summed over the last axis, as CaBRNet) or (N, H, W); non-zero = inside.
    ``area_percentage`` is CaBRNet's, a fraction in [0, 1] (0.1 = the top 10 %).
    ``positive_only`` (not CaBRNet) clamps the relevance at 0 first."""
    r = _f32(relevance, "relevance")
    m = np.asarray(mask)
    if m.ndim == 3 and r.ndim == 2:
        m = m.sum(axis=-1)
    m = np.ascontiguousarray((m != 0).astype(np.float32))
    e, mr = _core.pointing_game(r, m, float(area_percentage), 1 if positive_only else 0)
    e, mr = np.frombuffer(e, np.float32).copy(), np.frombuffer(mr, np.float32).copy()
    if r.ndim == 2:
        return float(e[0]), float(mr[0])
    return e, mr


def _core_model(model: Any) -> "_core.Model":
    if isinstance(model, Model):
        return model._core
    if isinstance(model, _core.Model):
        return model
    raise TypeError(f"model: expected a prpkit.Model, got {type(model).__name__}")


def perturbation_curves(model: Any, images: Any, relevance: Any, targets: Sequence, *, mode: str = "deletion",
                        steps: int = 32, baseline: Any = None, blur_sigma: float | None = None,
                        output_index: int = 0, softmax: bool = False,
                        batch_size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deletion or insertion curves of N images at once.

    ``images`` (N, C, H, W) in the model's input space; ``relevance`` (N, H, W) (or
    (N, C, H, W), summed over channels); ``targets``: N index tuples into output
    ``output_index`` after the batch dimension (``(class,)`` or ``(p, h, w)``; an int is
    ``(int,)``). ``baseline``: None (zeros for deletion, the blurred image for
    insertion), ``"zero"``, ``"blur"`` or an array (C, H, W) / (N, C, H, W).
    Returns ``(scores (N, steps + 1), auc (N,), fractions (steps + 1,))``."""
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', got {mode!r}")
    x = _f32(images, "images")
    r = _relevance_2d(relevance, batched=True)
    if x.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {x.shape}")
    n = x.shape[0]
    rows = [tuple(int(v) for v in ((t,) if np.isscalar(t) else t)) for t in targets]
    if len(rows) != n:
        raise ValueError(f"{len(rows)} targets for {n} images")
    rank = len(rows[0]) if rows else 0
    if any(len(t) != rank for t in rows):
        raise ValueError("targets must all have the same length")
    if baseline is None:
        baseline = "zero" if mode == "deletion" else "blur"
    sigma = 0.0
    base = None
    if isinstance(baseline, str):
        if baseline == "blur":
            sigma = 5.0 if blur_sigma is None else float(blur_sigma)
        elif baseline != "zero":
            raise ValueError(f"baseline must be 'zero', 'blur' or an array, got {baseline!r}")
    else:
        base = _f32(baseline, "baseline")
    flat = [v for t in rows for v in t]
    s, a, f = _core.perturbation_curves(_core_model(model), x, r, flat, rank, base,
                                        0 if mode == "deletion" else 1, bool(softmax), int(steps),
                                        int(output_index), int(batch_size), float(sigma))
    return (np.frombuffer(s, np.float32).reshape(n, steps + 1).copy(), np.frombuffer(a, np.float32).copy(),
            np.frombuffer(f, np.float32).copy())


def _single(model, image, relevance, target, mode, **kw) -> tuple[np.ndarray, float]:
    x = _f32(image, "image")
    if x.ndim != 3:
        raise ValueError(f"image must be (C, H, W), got shape {x.shape}")
    r = _f32(relevance, "relevance")
    r = r.sum(axis=0, dtype=np.float32) if r.ndim == 3 else r
    b = kw.get("baseline")
    if b is not None and not isinstance(b, str):
        kw["baseline"] = _f32(b, "baseline")
    s, a, _ = perturbation_curves(model, x[None], r[None], [target], mode=mode, **kw)
    return s[0], float(a[0])


def deletion_curve(model: Any, image: Any, relevance: Any, target: Any, *, steps: int = 32, baseline: Any = "zero",
                   **kw) -> tuple[np.ndarray, float]:
    """RISE deletion of one image (C, H, W) with its relevance (H, W): ``(scores (steps + 1,), auc)``.
    ``baseline``: ``"zero"`` (default), ``"blur"`` (``blur_sigma``, default 5) or an array.
    Other keywords: ``output_index``, ``softmax``, ``batch_size`` (see `perturbation_curves`)."""
    return _single(model, image, relevance, target, "deletion", steps=steps, baseline=baseline, **kw)


def insertion_curve(model: Any, image: Any, relevance: Any, target: Any, *, steps: int = 32, baseline: Any = "blur",
                    **kw) -> tuple[np.ndarray, float]:
    """RISE insertion of one image (C, H, W) with its relevance (H, W): ``(scores (steps + 1,), auc)``.
    ``baseline``: ``"blur"`` (default; ``blur_sigma``, default 5), ``"zero"`` or an array."""
    return _single(model, image, relevance, target, "insertion", steps=steps, baseline=baseline, **kw)
