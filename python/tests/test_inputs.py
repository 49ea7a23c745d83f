"""The input policy of Model.__call__ / forward (see prpkit._model's documentation)."""
from __future__ import annotations

import array

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module

import prpkit
from conftest import randomize_batch_norms

SHAPE = (1, 3, 32, 32)


def small_cnn() -> torch.nn.Module:
    torch.manual_seed(8)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 1000))
    randomize_batch_norms(net, 9)
    return net.eval()


@pytest.fixture(scope="module")
def model():
    """The policy does not depend on the model: a small CNN keeps these tests fast."""
    return prpkit.from_torch(small_cnn(), torch.zeros(SHAPE))


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(5).standard_normal(SHAPE, dtype=np.float32)


def test_float32_contiguous_used_in_place(model, x):
    before = x.copy()
    y = model(x)
    assert y.dtype == np.float32 and y.shape == (1, 1000) and y.flags.c_contiguous and y.flags.writeable
    np.testing.assert_array_equal(x, before)  # input untouched
    # A read-only input is fine (inputs are only read).
    ro = x.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(model(ro), y)
    # Other buffers with a float32 format are accepted; results are NumPy.
    mv = memoryview(array.array("f", x.ravel().tolist())).cast("B").cast("f", SHAPE)
    np.testing.assert_array_equal(model(mv), y)
    # torch tensors, also with requires_grad, give torch tensors.
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = model(t)
    assert isinstance(yt, torch.Tensor) and yt.dtype == torch.float32 and not yt.requires_grad
    np.testing.assert_array_equal(yt.numpy(), y)


def test_wrong_rank_is_value_error_with_core_message(model, x):
    with pytest.raises(ValueError) as e:
        model(x[0])
    assert isinstance(e.value, prpkit.InvalidArgumentError) and e.value.status_name == "PRPKIT_ERROR_INVALID_ARGUMENT"
    assert "rank" in str(e.value).lower()
    with pytest.raises(prpkit.InvalidArgumentError):
        model(x.reshape(1, 1, 3, 32, 32))


def test_wrong_channels_is_value_error_with_core_message(model):
    bad = np.zeros((1, 4, 32, 32), np.float32)
    with pytest.raises(prpkit.InvalidArgumentError) as e:
        model(bad)
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert "4" in msg and "3" in msg, msg


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.dtype(">f4")])
def test_other_dtypes_are_type_error(model, x, dtype):
    with pytest.raises(TypeError, match="float32"):
        model(x.astype(dtype))


def test_torch_float64_is_type_error(model, x):
    with pytest.raises(TypeError, match="float32"):
        model(torch.from_numpy(x).double())


def test_non_contiguous_is_value_error(model, x):
    wide = np.zeros((1, 3, 32, 64), np.float32)
    with pytest.raises(ValueError, match="contiguous"):
        model(wide[..., ::2])
    with pytest.raises(ValueError, match="contiguous"):
        model(np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2))
    with pytest.raises(ValueError, match="contiguous"):
        model(torch.from_numpy(x).contiguous(memory_format=torch.channels_last))
    # A non-contiguous float32 memoryview fails in the C layer with the same policy.
    with pytest.raises(ValueError, match="contiguous"):
        model(memoryview(array.array("f", [0.0] * 16))[::2])


def test_none_and_non_arrays_are_type_error(model, x):
    with pytest.raises(TypeError, match="None"):
        model(None)
    with pytest.raises(TypeError):
        model(x.tolist())
    with pytest.raises(TypeError):
        model(3.0)
    with pytest.raises(TypeError, match="float32"):
        model(b"\x00" * 16)  # a buffer, but bytes
    with pytest.raises(TypeError, match="takes 1 input"):
        model()
    with pytest.raises(TypeError, match="takes 1 input"):
        model(x, x)


def test_out_argument(model, x):
    ref = model(x)
    out = np.full((1, 1000), np.nan, np.float32)
    res = model(x, out=out)
    assert res is out
    np.testing.assert_array_equal(out, ref)
    out_t = torch.full((1, 1000), float("nan"))
    assert model(torch.from_numpy(x), out=(out_t,)) is out_t
    np.testing.assert_array_equal(out_t.numpy(), ref)

    ro = np.zeros((1, 1000), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        model(x, out=ro)
    with pytest.raises(ValueError, match="shape"):
        model(x, out=np.zeros((2, 1000), np.float32))
    with pytest.raises(TypeError, match="float32"):
        model(x, out=np.zeros((1, 1000), np.float64))
    with pytest.raises(ValueError, match="contiguous"):
        model(x, out=np.zeros((1, 2000), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="output"):
        model(x, out=[np.zeros((1, 1000), np.float32)] * 2)
    with pytest.raises(TypeError, match="None"):
        model(x, out=[None])
