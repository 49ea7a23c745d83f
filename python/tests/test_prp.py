"""`prpkit.prp` / `prp_batch` / `prp_relevance` against CaBRNet 1.2's ``prp()``, live.

The reference is ``cabrnet.core.visualization.gradients.prp`` (one Captum LRP call per
selected location on CaBRNet's composite, then CaBRNet's ``post_process``). The model is
a CaBRNet ProtoPNet with a ResNet18 trunk cut at layer2 (12×12 similarity map on a 96 px
input, 12 prototypes), so the whole module runs in a few seconds. The raw image ``IMG``
is a 200×150 PIL image: the heatmap is resized from 96×96 to 150×200 (bicubic).

Tolerance: max|prpkit − CaBRNet| ≤ REL_TOL · max|CaBRNet| with REL_TOL = 2e-5 (the
composite tests use 1e-4 on the raw relevance). The raw relevance differs from Captum's
by summation order only (~1e-6 relative); post-processing adds nothing measurable:
the Gaussian filter matches scipy bit for bit and the bicubic resize matches OpenCV's
(IPP) float path within ~1e-6 relative. Measured: 3e-7 … 2e-6. With ``normalize=True`` the
min-max step amplifies an absolute error by max|y|/(max y − min y) (y: the heatmap before
normalisation), so the bound is multiplied by that factor (computed from prpkit's own
un-normalised heatmap; it is ~1 for absolute polarity but can be larger otherwise).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module

import prpkit
from prpkit.prp_utils import get_cabrnet_lrp_composite_model as prpkit_composite

gradients = pytest.importorskip("cabrnet.core.visualization.gradients")
cabrnet_prp_utils = pytest.importorskip("cabrnet.core.visualization.prp_utils")
from PIL import Image  # noqa: E402

from test_prp_composite import build_protopnet  # noqa: E402

REL_TOL = 2e-5
SIZE = 96
IMG = Image.new("RGB", (200, 150), (90, 120, 30))  # width 200, height 150 ≠ tensor 96×96
PROTO = 5
AT = (3, 8)
N_THRESHOLD = 4  # locations selected by THRESHOLD (asserted)


@functools.lru_cache(maxsize=None)
def case():
    """(CaBRNet model, CaBRNet composite, prpkit composite, input, similarity map (P, Hs, Ws))."""
    model = build_protopnet("resnet18", "layer2")
    torch.manual_seed(1)
    x = torch.randn(1, 3, SIZE, SIZE)
    reference = cabrnet_prp_utils.get_cabrnet_lrp_composite_model(model).eval()
    with torch.no_grad():
        sim = reference.similarities(x)[0].numpy()
    return model, reference, prpkit_composite(model, example_input=x), x, sim


def threshold_for(sim: np.ndarray, p: int, count: int) -> float:
    """A threshold selecting exactly `count` locations of prototype p's map: halfway
    between the count-th and (count+1)-th largest similarity (gap ≫ float32 noise)."""
    s = np.sort(sim[p].ravel())[::-1]
    assert s[count - 1] - s[count] > 1e-4, "similarities too close for a robust threshold"
    return float(0.5 * (s[count - 1] + s[count]))


def arrival(kind: str):
    model, reference, composite, _, _ = case()
    return {"plain": model, "cabrnet_composite": reference, "prpkit_composite": composite}[kind]


def reference_prp(kind: str, *args, **kwargs) -> np.ndarray:
    """CaBRNet's prp() on the same arrival (prpkit's composite is not a torch module:
    its reference is the plain CaBRNet model, which CaBRNet canonises itself)."""
    model, reference, _, _, _ = case()
    target = reference if kind == "cabrnet_composite" else model
    return gradients.prp(target, *args, device="cpu", **kwargs)


def assert_heatmap(got, ref, what, amplification=1.0, allow_zero=False):
    assert isinstance(got, np.ndarray) and got.dtype == np.float32, f"{what}: {type(got)} {getattr(got, 'dtype', '')}"
    assert got.shape == ref.shape == (IMG.height, IMG.width), f"{what}: {got.shape} vs {ref.shape}"
    scale = float(np.abs(ref).max())
    if allow_zero and scale == 0:
        assert not got.any(), f"{what}: reference is all zeros, prpkit's is not (max {np.abs(got).max():.3g})"
        print(f"{what}: all zeros on both sides")
        return
    assert scale > 0, f"{what}: reference is all zeros"
    diff = float(np.abs(got.astype(np.float64) - ref.astype(np.float64)).max())
    bound = REL_TOL * amplification * scale
    assert diff <= bound, f"{what}: max|diff| = {diff:.3g} > {bound:.3g} (rel {diff / scale:.2e})"
    print(f"{what}: max|diff|/max|ref| = {diff / scale:.2e}")


def location_arg(name: str):
    _, _, _, _, sim = case()
    if name == "max":
        return "max", {}
    if name == "at":
        return AT, {}
    return None, {"similarity_threshold": threshold_for(sim, PROTO, N_THRESHOLD)}


# ---- prp() equals CaBRNet's prp() --------------------------------------------------------

@pytest.mark.parametrize("kind", ["plain", "cabrnet_composite", "prpkit_composite"])
@pytest.mark.parametrize("loc", ["max", "at", "threshold"])
def test_prp_equals_cabrnet(kind, loc):
    _, _, _, x, _ = case()
    location, extra = location_arg(loc)
    ref = reference_prp(kind, IMG, x, PROTO, location=location, **extra)
    got = prpkit.prp(arrival(kind), IMG, x, PROTO, location=location, **extra)
    assert_heatmap(got, ref, f"{kind} {loc}")


def test_threshold_selects_the_intended_locations():
    """The threshold chosen above selects N_THRESHOLD locations in CaBRNet's map and in prpkit's."""
    _, _, composite, x, sim = case()
    thr = threshold_for(sim, PROTO, N_THRESHOLD)
    assert int((sim[PROTO] >= thr).sum()) == N_THRESHOLD
    _, sim_prpkit = prpkit.prp_relevance(composite, x, [PROTO], None, similarity_threshold=thr)
    assert sim_prpkit.shape == (1,) + sim.shape
    assert np.abs(sim_prpkit[0] - sim).max() <= 1e-4 * np.abs(sim).max()
    assert int((sim_prpkit[0, PROTO] >= thr).sum()) == N_THRESHOLD


POSTPROCESS = {
    "positive": dict(polarity="positive"),
    # PRP relevance of this model is non-negative everywhere (α1β0 + z^B on a positive
    # seed), so "negative" alone gives zeros on both sides; × input makes it non-trivial.
    "negative": dict(polarity="negative"),
    "negative_x_input": dict(polarity="negative", grads_x_input=True),
    "polarity_none": dict(polarity=None),
    "ksize0": dict(gaussian_ksize=0),
    "ksize2": dict(gaussian_ksize=2),
    "normalize": dict(normalize=True),
    "normalize_signed": dict(polarity=None, gaussian_ksize=0, normalize=True),
    "grads_x_input": dict(grads_x_input=True),
    "grads_x_input_signed": dict(grads_x_input=True, polarity=None, gaussian_ksize=2),
    "normalize_x_input_signed": dict(grads_x_input=True, polarity=None, gaussian_ksize=0, normalize=True),
}


@pytest.mark.parametrize("loc", ["max", "threshold"])
@pytest.mark.parametrize("opts", list(POSTPROCESS))
def test_prp_post_processing_equals_cabrnet(opts, loc):
    _, _, _, x, _ = case()
    location, extra = location_arg(loc)
    kwargs = dict(POSTPROCESS[opts], location=location, **extra)
    ref = reference_prp("plain", IMG, x, PROTO, **kwargs)
    got = prpkit.prp(arrival("plain"), IMG, x, PROTO, **kwargs)
    amplification = 1.0
    if kwargs.get("normalize"):
        raw = prpkit.prp(arrival("plain"), IMG, x, PROTO, **dict(kwargs, normalize=False))
        amplification = float(np.abs(raw).max() / (raw.max() - raw.min()))
        assert float(ref.min()) == 0.0 and abs(float(ref.max()) - 1.0) < 1e-6
    assert_heatmap(got, ref, f"{opts} {loc}", amplification, allow_zero=opts == "negative")


@pytest.mark.parametrize("normalize", [False, True])
def test_threshold_above_every_similarity_gives_zeros(normalize):
    """No location qualifies: CaBRNet's accumulator stays zero, and so must prpkit's."""
    _, _, _, x, sim = case()
    thr = float(sim[PROTO].max()) + 1.0
    ref = reference_prp("plain", IMG, x, PROTO, location=None, similarity_threshold=thr, normalize=normalize)
    got = prpkit.prp(arrival("plain"), IMG, x, PROTO, location=None, similarity_threshold=thr, normalize=normalize)
    assert ref.shape == got.shape == (IMG.height, IMG.width)
    assert not ref.any(), "CaBRNet's reference is expected to be all zeros"
    assert got.dtype == np.float32 and not got.any()
    rel, _ = prpkit.prp_relevance(arrival("prpkit_composite"), x, [PROTO], None, similarity_threshold=thr)
    assert rel.shape == (1, 1, 3, SIZE, SIZE) and not rel.any()


# ---- batched forms ------------------------------------------------------------------------

BATCH = [0, PROTO, 11]


@pytest.mark.parametrize("loc", ["max", "threshold"])
def test_prp_batch_equals_separate_calls(loc):
    """K = 3 prototypes in one call = 3 prpkit.prp calls. The batched backward stacks the
    K seeds as GEMM columns; each column's arithmetic is the same, so equality is expected
    to be exact (asserted up to 1e-6·max, i.e. a few float32 ulps, in case a kernel changes
    its blocking with the width)."""
    composite = arrival("prpkit_composite")
    _, _, _, x, sim = case()
    location, extra = location_arg(loc)
    batch = prpkit.prp_batch(composite, x, BATCH, imgs=IMG, location=location, **extra)
    assert batch.shape == (1, len(BATCH), IMG.height, IMG.width) and batch.dtype == np.float32
    worst = 0.0
    for k, p in enumerate(BATCH):
        single = prpkit.prp(composite, IMG, x, p, location=location, **extra)
        scale = float(np.abs(single).max())
        if loc == "threshold" and not (sim[p] >= extra["similarity_threshold"]).any():
            assert not single.any() and not batch[0, k].any()
            continue
        diff = float(np.abs(batch[0, k] - single).max())
        worst = max(worst, diff / scale)
        assert diff <= 1e-6 * scale, f"prototype {p}: max|diff| = {diff:.3g} (max {scale:.3g})"
    print(f"prp_batch vs prp ({loc}): worst max|diff|/max = {worst:.2e}")


def test_prp_batch_many_images_equals_one_by_one():
    """N = 2 images × K = 3 prototypes, with per-image raw images of different sizes."""
    composite = arrival("prpkit_composite")
    _, _, _, x, _ = case()
    torch.manual_seed(2)
    x2 = torch.cat([x, torch.randn(1, 3, SIZE, SIZE)])
    imgs = [IMG, Image.new("RGB", (64, 80))]
    out = prpkit.prp_batch(composite, x2, BATCH, imgs=imgs, location="max")
    assert isinstance(out, list) and [a.shape for a in out] == [(3, 150, 200), (3, 80, 64)]
    for n in range(2):
        for k, p in enumerate(BATCH):
            single = prpkit.prp(composite, imgs[n], x2[n:n + 1], p, location="max")
            assert np.abs(out[n][k] - single).max() <= 1e-6 * np.abs(single).max(), (n, p)


def test_threshold_relevance_is_the_sum_of_single_locations():
    """Linearity: the raw relevance for location None (one backward pass seeded with the
    selected similarities) = Σ over the selected (h, w) of the "at (h, w)" relevance
    (each already weighted by S[h, w]). Tolerance: float32 summation of N_THRESHOLD
    terms, 1e-5 · Σ|terms|."""
    composite = arrival("prpkit_composite")
    _, _, _, x, sim = case()
    thr = threshold_for(sim, PROTO, N_THRESHOLD)
    total, s = prpkit.prp_relevance(composite, x, [PROTO], None, similarity_threshold=thr)
    locations = [tuple(int(v) for v in hw) for hw in np.argwhere(s[0, PROTO] >= thr)]
    assert len(locations) == N_THRESHOLD
    parts = [prpkit.prp_relevance(composite, x, [PROTO], hw)[0].astype(np.float64) for hw in locations]
    expected = np.sum(parts, axis=0)
    magnitude = np.sum(np.abs(parts), axis=0).max()
    diff = np.abs(total - expected).max()
    assert diff <= 1e-5 * magnitude, f"max|diff| = {diff:.3g}, Σ|terms| max = {magnitude:.3g}"
    # "max" is the "at" of the arg-max (first in row-major order)
    h, w = np.unravel_index(np.argmax(s[0, PROTO]), s.shape[2:])
    at_max, _ = prpkit.prp_relevance(composite, x, [PROTO], (int(h), int(w)))
    by_max, _ = prpkit.prp_relevance(composite, x, [PROTO], "max")
    assert np.array_equal(at_max, by_max)


# ---- argument handling --------------------------------------------------------------------

@pytest.mark.parametrize("location", ["min", "MAX", (1,), (1, 2, 3), [1, 2]])
def test_invalid_location_raises_value_error(location):
    """As CaBRNet: ValueError("Invalid target location ...")."""
    _, _, _, x, _ = case()
    with pytest.raises(ValueError, match="Invalid target location"):
        prpkit.prp(arrival("prpkit_composite"), IMG, x, PROTO, location=location)


@pytest.mark.parametrize("location", [(12, 0), (0, 12), (100, 100), (-13, 0), (0, -13)])
def test_location_outside_the_similarity_map(location):
    """An (h, w) outside the 12×12 map (−12…11 per entry, negative entries having CaBRNet's
    meaning, see test_prp_inputs.py): prpkit.InvalidArgumentError (a ValueError) naming the
    location. (CaBRNet raises IndexError.)"""
    _, _, _, x, _ = case()
    with pytest.raises(prpkit.InvalidArgumentError, match="outside"):
        prpkit.prp(arrival("prpkit_composite"), IMG, x, PROTO, location=location)
    with pytest.raises(ValueError):
        prpkit.prp_relevance(arrival("prpkit_composite"), x, [PROTO], location)


def test_prototype_index_out_of_range():
    _, _, _, x, _ = case()
    with pytest.raises(prpkit.InvalidArgumentError, match="prototype"):
        prpkit.prp(arrival("prpkit_composite"), IMG, x, 12, location="max")


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:3", torch.device("cpu"), torch.device("meta"), None])
def test_device_is_accepted_and_ignored(device):
    _, _, _, x, _ = case()
    baseline = prpkit.prp(arrival("plain"), IMG, x, PROTO, location="max")
    got = prpkit.prp(arrival("plain"), IMG, x, PROTO, device, location="max")
    assert np.array_equal(got, baseline)
    got = prpkit.prp(arrival("plain"), IMG, x, PROTO, device=device, location="max")
    assert np.array_equal(got, baseline)
