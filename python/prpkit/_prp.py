"""`prpkit.prp`: CaBRNet 1.2's ``prp()`` heatmap, natively, plus batched forms.

CaBRNet runs one Captum LRP call per selected similarity-map location; prpkit runs one
forward pass and ONE backward pass seeded with the selected similarities (the sum over
locations is the same by linearity), then CaBRNet's post-processing (``post_process``:
grads×input, polarity and channel mean, Gaussian blur with sigma = gaussian_ksize,
bicubic resize to the image size, min-max normalisation), computed natively.
"""

from __future__ import annotations

import json
import operator
import weakref
from typing import Any, Sequence

import numpy as np

from . import _core
from ._composite import _DEFAULT_LOWER, _DEFAULT_UPPER, CompositeModel, composite
from ._convert import prp_source
from ._model import Model, _as_input, _is_tensor, _torch
from ._threads import num_threads

__all__ = ["prp", "prp_batch", "prp_relevance", "post_process"]

_POLARITY = {None: 0, "positive": 1, "negative": 2, "absolute": 3}
_LOCATION_MAX, _LOCATION_AT, _LOCATION_THRESHOLD = 0, 1, 2

# Model or Conversion → (stability factor, explainer): both are immutable, so prp()'s
# composite of a Model is reused while the stability factor stays the same, and the
# explainer of a Conversion (a composite already) always. Torch modules are converted
# (and their conversions cached) by `_convert.prp_source`.
_CACHE: "weakref.WeakKeyDictionary[Any, tuple]" = weakref.WeakKeyDictionary()


def _composite_explainer(model: Model, stability_factor: float) -> "_core.Explainer":
    """prp()'s composite of `model` (set_bias_to_zero, z^B with ImageNet's bounds, the
    similarity head): built once per stability factor (BN folding, W⁺/W⁻, kernel packings),
    not on every call."""
    cached = _CACHE.get(model)
    if cached and cached[0] == float(stability_factor):
        return cached[1]
    explainer = composite(model, set_bias_to_zero=True, stability_factor=stability_factor, use_zbeta=True,
                          zbeta_lower_bound=_DEFAULT_LOWER, zbeta_upper_bound=_DEFAULT_UPPER,
                          similarity_head=True)._explainer
    _CACHE[model] = (float(stability_factor), explainer)
    return explainer


def _explainer_for(model: Any, stability_factor: float, example) -> "_core.Explainer":
    """The native explainer prp() runs on, following prp()'s rules: a model that is
    `lrp_ready` (prpkit's or CaBRNet's composite) is used as it is; otherwise the
    composite is built with set_bias_to_zero=True, use_zbeta=True and `stability_factor`."""
    if isinstance(model, CompositeModel):
        return model._explainer
    if isinstance(model, Model):
        return _composite_explainer(model, stability_factor)
    torch = _torch()
    if torch is None or not isinstance(model, torch.nn.Module):
        raise TypeError(f"prp expects a prpkit.Model, a prpkit composite or a torch.nn.Module, got "
                        f"{type(model).__module__}.{type(model).__qualname__}")
    source = prp_source(model, example)
    if isinstance(source, Model):
        return _composite_explainer(source, stability_factor)
    # CaBRNet's own composite: its modules carry the rules (the stability factor is theirs)
    cached = _CACHE.get(source)
    if cached is None:
        cached = _CACHE[source] = (None, _core.Explainer(source.model._core, json.dumps({"rules": source.rules})))
    return cached[1]


def _index(v: Any, what: str) -> int:
    """An integral index (int, NumPy or 0-d torch integer); floats and bools are a
    TypeError (0.5 must not silently mean prototype 0, nor True prototype 1)."""
    torch = _torch()
    if isinstance(v, (bool, np.bool_)) or (torch is not None and isinstance(v, torch.Tensor) and v.dtype == torch.bool):
        raise TypeError(f"{what} must be an integer, got the bool {v!r}")
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {type(v).__module__}.{type(v).__qualname__} {v!r}") from None


def _batched_image(img_tensor: Any) -> np.ndarray:
    x = _as_input(img_tensor, 0, "img_tensor", copy_strided=True)
    a = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if a.ndim == 3:  # CaBRNet adds the batch dimension
        a = a[None]
    if a.ndim != 4:
        raise ValueError(f"img_tensor must be (C, H, W) or (N, C, H, W), got shape {a.shape}")
    return np.ascontiguousarray(a)


def _location(location: Any, similarity_threshold: float):
    if location is None:
        return _LOCATION_THRESHOLD, 0, 0, float(similarity_threshold)
    if isinstance(location, str):
        if location != "max":
            raise ValueError(f"Invalid target location {location}")
        return _LOCATION_MAX, 0, 0, 0.0
    if isinstance(location, tuple) and len(location) == 2:
        return _LOCATION_AT, _index(location[0], "location[0]"), _index(location[1], "location[1]"), 0.0
    raise ValueError(f"Invalid target location {location}")


def prp_relevance(model: Any, img_tensor: Any, proto_indices: Sequence[int], location: Any = None,
                  stability_factor: float = 1e-6, similarity_threshold: float = 0.1, threads: int | None = None):
    """Raw PRP relevance (before post-processing) of several prototypes for every image.

    Returns ``(relevance, similarity)``: relevance (N, K, C, H, W) for the K prototypes
    of each of the N images, from one forward pass and one batched backward pass;
    similarity (N, P, Hs, Ws), the composite's similarity maps. ``threads``: worker
    threads for this call (None: `prpkit.num_threads` / `prpkit.set_num_threads`).
    """
    x = _batched_image(img_tensor)
    if isinstance(proto_indices, (str, bytes)) or not hasattr(proto_indices, "__iter__"):
        raise TypeError(f"proto_indices must be a sequence of integers, got {type(proto_indices).__qualname__}")
    ids = [_index(p, f"prototype index {i}") for i, p in enumerate(proto_indices)]
    mode, h, w, thr = _location(location, similarity_threshold)
    example = _torch().from_numpy(x) if _torch() is not None else x
    explainer = _explainer_for(model, stability_factor, example)
    # Negative indices count from the end, as CaBRNet's `similarities[0, proto_idx]`.
    p = explainer.output_shapes([x])[0][1]
    ids = np.array([i + p if -p <= i < 0 else i for i in ids], dtype=np.int64)
    with num_threads(threads):
        (rbuf, rshape), (sbuf, sshape) = explainer.prp(x, ids, mode, h, w, thr)
    rel = np.frombuffer(rbuf, np.float32).reshape(rshape)
    rel = rel.reshape((x.shape[0], len(ids)) + tuple(rshape[1:]))
    return rel, np.frombuffer(sbuf, np.float32).reshape(sshape)


def post_process(array: Any, img: Any = None, img_tensor: Any = None, resize: bool = True,
                 polarity: str | None = "absolute", gaussian_ksize: float = 5, normalize: bool = False,
                 grads_x_input: bool = False) -> np.ndarray:
    """CaBRNet's ``post_process`` (natively): ``array`` (C, H, W) → heatmap (H', W')."""
    if polarity not in _POLARITY:
        raise ValueError(f"Invalid polarity {polarity}")
    rel = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
    image = None
    if grads_x_input:
        if img_tensor is None:
            raise ValueError("grads_x_input needs img_tensor")
        image = np.ascontiguousarray(_batched_image(img_tensor)[0])
    out_h = out_w = 0
    if resize:
        if img is None:
            raise ValueError("resize needs img (its width and height)")
        out_w, out_h = int(img.width), int(img.height)
    buf, shape = _core.postprocess(rel, image, _POLARITY[polarity], float(gaussian_ksize or 0),
                                   out_h, out_w, bool(normalize), bool(grads_x_input))
    return np.frombuffer(buf, np.float32).reshape(shape).copy()


def prp(model: Any, img: Any, img_tensor: Any, proto_idx: int, device: Any = "cpu", location: Any = None,
        stability_factor: float = 1e-6, polarity: str | None = "absolute", gaussian_ksize: int = 5,
        normalize: bool = False, grads_x_input: bool = False, similarity_threshold: float = 0.1,
        threads: int | None = None, **kwargs: Any) -> np.ndarray:
    """CaBRNet 1.2's ``prp()``: the PRP heatmap of prototype ``proto_idx`` on one image.

    Args:
        model: a CaBRNet model (torch; its composite is built natively with
            set_bias_to_zero=True, use_zbeta=True and ``stability_factor``), a composite
            (``lrp_ready``: CaBRNet's own or `prpkit.prp_utils`'), or a prpkit Model.
        img: the raw image (PIL); the heatmap is resized to (img.height, img.width).
        img_tensor: the preprocessed image, (C, H, W) or (1, C, H, W), float32 (copied
            if not contiguous).
        proto_idx: prototype index, an integer; negative counts from the end (as
            CaBRNet's ``similarities[0, proto_idx]``).
        device: accepted and ignored (prpkit runs on the CPU).
        location: "max" (the location of the maximum similarity), (h, w), or None (every
            location with similarity ≥ ``similarity_threshold``, summed: −inf selects all,
            +inf none, so the heatmap is all zeros). A negative entry of (h, w) has
            CaBRNet's meaning: that row (column) is not pinned, and the locations kept
            are those with similarity ≥ S[h, w] (Python indexing), e.g. (−1, 2) keeps
            every location of column 2 at least as similar as the one in the last row.
        stability_factor: ε of the composite's rules (CaBRNet's default 1e-6).
        polarity: CaBRNet's post-processing: "positive", "negative", "absolute" or None.
        gaussian_ksize: σ of the Gaussian blur (CaBRNet's name; 0 for none).
        normalize: min-max normalise the heatmap.
        grads_x_input: multiply the relevance by the input first.
        similarity_threshold: the threshold of ``location=None`` (any float, ±inf and NaN
            included, with CaBRNet's meaning).
        threads: worker threads for this call (not in CaBRNet; None: the current setting).

    Returns:
        float32 array (img.height, img.width).

    Raises:
        ValueError: a batch of several images (use `prp_batch`), an invalid location.
        TypeError: a non-integral ``proto_idx`` or location entry (a float, a bool).
        prpkit.InvalidArgumentError: an index outside the similarity map or the prototypes.
    """
    n = _batched_image(img_tensor).shape[0]
    if n != 1:
        raise ValueError(f"prp() explains one image (as CaBRNet's, which raises 'Gradient operations only support "
                         f"single images'); img_tensor holds a batch of {n}: use prpkit.prp_batch for several images")
    with num_threads(threads):
        rel, _ = prp_relevance(model, img_tensor, [proto_idx], location, stability_factor, similarity_threshold)
        return post_process(rel[0, 0], img=img, img_tensor=img_tensor, polarity=polarity,
                            gaussian_ksize=gaussian_ksize, normalize=normalize, grads_x_input=grads_x_input)


def prp_batch(model: Any, img_tensor: Any, proto_indices: Sequence[int], imgs: Any = None, location: Any = "max",
              stability_factor: float = 1e-6, polarity: str | None = "absolute", gaussian_ksize: int = 5,
              normalize: bool = False, grads_x_input: bool = False, similarity_threshold: float = 0.1,
              threads: int | None = None) -> np.ndarray:
    """PRP heatmaps of K prototypes for each of N images: one forward pass and one
    batched backward pass per call.

    Args:
        img_tensor: (N, C, H, W) (or (C, H, W) for one image).
        proto_indices: the K prototypes (the same for every image).
        imgs: None (no resize), one image for all, or a list of N images (PIL-like, with
            .width and .height) whose sizes the heatmaps are resized to.
        threads: worker threads for this call (None: the current setting).
    Returns:
        (N, K, H', W') float32 heatmaps (a list of N (K, H'_n, W'_n) arrays when the
        images have different sizes).
    """
    with num_threads(threads):
        rel, _ = prp_relevance(model, img_tensor, proto_indices, location, stability_factor, similarity_threshold)
        x = _batched_image(img_tensor)
        n, k = rel.shape[:2]
        if imgs is None or not isinstance(imgs, (list, tuple)):
            imgs = [imgs] * n
        if len(imgs) != n:
            raise ValueError(f"imgs has {len(imgs)} entries for {n} images")
        out = []
        for i in range(n):
            maps = [post_process(rel[i, j], img=imgs[i], img_tensor=x[i], resize=imgs[i] is not None,
                                 polarity=polarity, gaussian_ksize=gaussian_ksize, normalize=normalize,
                                 grads_x_input=grads_x_input) for j in range(k)]
            out.append(np.stack(maps))
        shapes = {a.shape for a in out}
        return np.stack(out) if len(shapes) == 1 else out
