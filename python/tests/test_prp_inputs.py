"""Inputs CaBRNet 1.2's prp() accepts, with CaBRNet's meaning, live: thresholds ±inf and NaN,
negative prototype indices and location entries, non-contiguous image tensors; and the
non-integral indices CaBRNet would silently truncate or misuse, which prpkit refuses.

The model is a CaBRNet ProtoPNet with a ResNet18 trunk cut at layer2 on a 32 px input
(4×4 similarity map: CaBRNet runs one Captum call per selected location, so "every
location" stays 16 calls). Tolerance: 1e-4 relative, as the other prp() tests (measured
~1e-6).
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the numpy-only pass skips this module

import prpkit  # noqa: E402

gradients = pytest.importorskip("cabrnet.core.visualization.gradients")
from PIL import Image  # noqa: E402

from test_prp_composite import build_protopnet  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

REL = 1e-4
IMG = Image.new("RGB", (40, 30))
PROTO = 4


@functools.lru_cache(maxsize=None)
def case():
    model = build_protopnet("resnet18", "layer2")
    torch.manual_seed(3)
    return model, torch.randn(1, 3, 32, 32)


def cabrnet(*args, **kwargs):
    model, x = case()
    return gradients.prp(model, IMG, kwargs.pop("x", x), *args, "cpu", **kwargs)


def ours(*args, **kwargs):
    model, x = case()
    return prpkit.prp(model, IMG, kwargs.pop("x", x), *args, **kwargs)


@functools.lru_cache(maxsize=None)
def composite64():
    """CaBRNet's composite in float64 (built in float32 as CaBRNet does, then converted)."""
    return gradients.get_cabrnet_lrp_composite_model(case()[0]).eval().double()


def check(proto, what, allow_zero=False, **kwargs):
    """prpkit's prp() = CaBRNet's within REL; where that fails, the case is ill-conditioned
    in float32 (e.g. a prototype channel within float32 noise of the feature, which the
    similarity backward's 1/((f − p)² + 1e-12) weights amplify): then CaBRNet runs in
    float64 and prpkit's error against it must be ≤ 4× CaBRNet-float32's own."""
    ref, got = cabrnet(proto, **dict(kwargs)), ours(proto, **dict(kwargs))
    assert got.shape == ref.shape == (IMG.height, IMG.width) and got.dtype == np.float32, what
    scale = float(np.abs(ref).max())
    if allow_zero and scale == 0:
        assert not got.any(), f"{what}: CaBRNet gives zeros, prpkit does not"
        return ref
    assert scale > 0, f"{what}: the reference is all zeros"
    err = float(np.abs(got.astype(np.float64) - ref).max()) / scale
    if err > REL:
        x = kwargs.pop("x", case()[1])
        x64 = (x.double() if isinstance(x, torch.Tensor) else torch.from_numpy(x).double())
        ref64 = gradients.prp(composite64(), IMG, x64, proto, "cpu", **kwargs)
        s64 = float(np.abs(ref64).max())
        err_c = float(np.abs(ref - ref64).max()) / s64
        err_p = float(np.abs(got - ref64).max()) / s64
        assert err_p <= 4 * err_c, (f"{what}: vs CaBRNet f32 {err:.3g}; vs CaBRNet f64 {err_p:.3g} > 4 × CaBRNet "
                                    f"f32's own {err_c:.3g}")
    return ref


@pytest.mark.parametrize("threshold", [-np.inf, np.inf, np.nan, float("-inf")])
def test_infinite_and_nan_thresholds(threshold):
    """−inf (and NaN: `S < NaN` is never true) select every location, +inf none."""
    ref = check(PROTO, f"threshold {threshold}", allow_zero=threshold == np.inf, location=None,
                similarity_threshold=threshold)
    if threshold == np.inf:
        assert not ref.any()
    else:  # every location: the same as the lowest finite threshold
        model, x = case()
        with torch.no_grad():
            low = float(composite64().similarities(x.double())[0, PROTO].min()) - 1e-3
        assert np.array_equal(ours(PROTO, location=None, similarity_threshold=low),
                              ours(PROTO, location=None, similarity_threshold=threshold))


@pytest.mark.parametrize("proto", [-1, -3, -12])
def test_negative_prototype_index(proto):
    check(proto, f"proto {proto}", location="max")
    assert np.array_equal(ours(proto, location="max"), ours(12 + proto, location="max"))


def test_prototype_index_out_of_range():
    for proto in (12, -13):
        with pytest.raises(prpkit.InvalidArgumentError, match="prototype"):
            ours(proto, location="max")


@pytest.mark.parametrize("location", [(-1, 2), (2, -1), (-1, -1), (-4, -4), (-2, 0), (0, -3)])
def test_negative_location_entries_mean_what_cabrnet_does(location):
    """A negative entry does not pin its row (column), and the threshold is S[h, w]:
    e.g. (−1, 2) explains every location of column 2 at least as similar as (3, 2)."""
    check(PROTO, f"location {location}", location=location)


def test_non_contiguous_image_tensor():
    _, x = case()
    strided = x.transpose(2, 3).contiguous().transpose(2, 3)  # same values, transposed strides
    assert not strided.is_contiguous() and torch.equal(strided, x)
    check(PROTO, "strided torch", location="max", x=strided)
    baseline = ours(PROTO, location="max")
    assert np.array_equal(ours(PROTO, location="max", x=strided), baseline)
    assert np.array_equal(ours(PROTO, location="max", x=strided.numpy()), baseline)
    assert np.array_equal(ours(PROTO, location="max", x=x[0]), baseline)
    batch = prpkit.prp_batch(case()[0], torch.cat([x, x]).transpose(2, 3).contiguous().transpose(2, 3), [PROTO],
                             imgs=IMG)
    assert np.array_equal(batch[1, 0], baseline)


@pytest.mark.parametrize("proto", [0.5, 1.0, True, False, np.float32(2.0), np.bool_(True), torch.tensor(1.0),
                                   torch.tensor(True), "1", None])
def test_non_integral_prototype_index_is_a_type_error(proto):
    with pytest.raises(TypeError, match="integer"):
        ours(proto, location="max")
    with pytest.raises(TypeError, match="integer"):
        prpkit.prp_batch(case()[0], case()[1], [0, proto])


@pytest.mark.parametrize("location", [(1.0, 2), (1, 2.5), (True, 0), (0, np.bool_(False)), (torch.tensor(1.0), 0)])
def test_non_integral_location_is_a_type_error(location):
    with pytest.raises(TypeError, match="integer"):
        ours(PROTO, location=location)


def test_integral_index_types_are_accepted():
    baseline = ours(PROTO, location=(1, 2))
    for p, loc in [(np.int64(PROTO), (np.int32(1), np.int64(2))), (torch.tensor(PROTO), (torch.tensor(1), 2))]:
        assert np.array_equal(ours(p, location=loc), baseline)
