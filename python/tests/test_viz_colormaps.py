"""prpkit.viz colour maps against the references' own tables, live: OpenCV's
COLORMAP_JET (cv2.applyColorMap), matplotlib's viridis (the published floats and its bytes),
zennit's bwr / coldnhot palettes and imgify. Tolerance 0: the tables are bytes and the
quantisation floor(255·v) is done in the input's dtype as the references do, so every
pixel must be equal. The references are installed by scripts/setup.sh; the tests that need
one skip only where it is missing (the wheel's numpy-only pass)."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from prpkit import viz

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RNG = np.random.default_rng(16)


def _tool():
    spec = importlib.util.spec_from_file_location("tables", os.path.join(ROOT, "tools", "make_colormap_tables.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _committed(name: str) -> str:
    import prpkit.viz.colormaps as cm
    with open(os.path.join(cm._TABLES, name), encoding="ascii") as f:
        return f.read()


def _values(dtype):
    # every table entry, both ends, and random values in between
    v = np.concatenate([np.arange(256) / 255, [0.0, 1.0, 0.5, np.nextafter(1.0, 0.0)], RNG.random(4000)])
    return v.astype(dtype)


# ----------------------------------------------------------------------------- jet (OpenCV)

def test_jet_is_opencv_colormap_jet():
    cv2 = pytest.importorskip("cv2")
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)[:, 0, ::-1]
    assert np.array_equal(viz.colormap_table("jet"), lut)
    assert _tool().jet().split("\n", 2)[2] == _committed("jet.txt").split("\n", 2)[2]  # bytes, not the header's version


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_jet_pixels_equal_cabrnet_quantisation(dtype):
    cv2 = pytest.importorskip("cv2")
    v = _values(dtype).reshape(-1, 1)
    ref = cv2.applyColorMap((255 * v).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    assert np.array_equal(viz.apply_colormap(v, "jet"), ref)


def test_jet_table_is_the_closed_form_jet():
    # Independent of OpenCV: jet's three ramps rounded to nearest, except the one entry
    # where OpenCV's float32 base table lands below the half (documented in the tool).
    i = np.arange(256)
    closed = np.stack([np.rint(np.clip(382.5 - np.abs(4 * i - 255 * c), 0, 255)) for c in (3, 2, 1)], 1)
    diff = np.argwhere(closed != viz.colormap_table("jet"))
    assert diff.tolist() == [[159, 2]] and viz.colormap_table("jet")[159, 2] == 1 and closed[159, 2] == 2


# ----------------------------------------------------------------------------- viridis

def test_viridis_is_the_published_table():
    mpl = pytest.importorskip("matplotlib")
    from matplotlib import _cm_listed
    floats = np.loadtxt(os.path.join(os.path.dirname(viz.colormaps.__file__), "tables", "viridis.txt"))
    assert np.array_equal(floats, np.asarray(_cm_listed._viridis_data))
    assert _tool().viridis() == _committed("viridis.txt")
    # matplotlib's 8-bit colours: cmap(i, bytes=True)
    assert np.array_equal(viz.colormap_table("viridis"), mpl.colormaps["viridis"](np.arange(256), bytes=True)[:, :3])


def test_viridis_pixels_equal_matplotlib_on_table_entries():
    mpl = pytest.importorskip("matplotlib")
    # matplotlib indexes floor(256·v) where prpkit (like CaBRNet and zennit) takes floor(255·v);
    # on v = k/255 both select entry k.
    v = np.arange(256) / 255
    assert np.array_equal(viz.apply_colormap(v, "viridis"), mpl.colormaps["viridis"](v, bytes=True)[:, :3])


def test_viridis_endpoints():
    t = viz.colormap_table("viridis")
    assert t[0].tolist() == [68, 1, 84] and t[255].tolist() == [253, 231, 36]


# ----------------------------------------------------------------------------- zennit's signed maps

@pytest.fixture(scope="module")
def zennit_image():
    zi = pytest.importorskip("zennit.image")
    orig = zi.palette
    # zennit hands Pillow a NumPy palette, which Pillow ≥ 12 rejects; give it a list
    zi.palette = lambda cmap="bwr", level=1.0: orig(cmap, level).reshape(-1).tolist()
    yield zi
    zi.palette = orig


@pytest.mark.parametrize("name", ["bwr", "coldnhot"])
def test_diverging_tables_equal_zennit_palettes(name, zennit_image):
    assert np.array_equal(viz.colormap_table(name), np.asarray(zennit_image.CMAPS[name].palette()))


@pytest.mark.parametrize("name", ["bwr", "coldnhot"])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_colorize_equals_zennit_imgify(name, symmetric, dtype, zennit_image):
    r = (RNG.standard_normal((37, 53)) * RNG.random((37, 53)) ** 3).astype(dtype)
    ref = np.asarray(zennit_image.imgify(r, cmap=name, symmetric=symmetric).convert("RGB"))
    assert np.array_equal(viz.colorize(r, name, symmetric=symmetric), ref)


def test_diverging_maps_are_centred():
    bwr, cnh = viz.colormap_table("bwr"), viz.colormap_table("coldnhot")
    assert bwr[128].tolist() == [255, 255, 255] and cnh[128].tolist() == [0, 0, 0]
    assert bwr[0].tolist() == [0, 0, 255] and bwr[255].tolist() == [255, 0, 0]
    assert cnh[0].tolist() == [0, 255, 255] and cnh[255].tolist() == [255, 255, 255]
    # 0 normalises to the middle, ±max to the ends, whatever the sign balance
    n = viz.normalize(np.array([-0.5, 0.0, 2.0]), symmetric=True)
    assert n.tolist() == [0.375, 0.5, 1.0]


# ----------------------------------------------------------------------------- errors and edge cases

def test_bad_values_and_names():
    with pytest.raises(ValueError, match="unknown colour map"):
        viz.apply_colormap(np.zeros(3), "rainbow")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        viz.apply_colormap(np.array([0.2, 1.5]), "jet")
    with pytest.raises(ValueError, match="NaN"):
        viz.apply_colormap(np.array([np.nan]), "jet")
    with pytest.raises(ValueError, match="NaN"):
        viz.colorize(np.array([[1.0, np.inf]]), "bwr")
    with pytest.raises(ValueError, match="vmax"):
        viz.normalize(np.ones(3), vmin=1.0, vmax=1.0)
    with pytest.raises(ValueError):
        viz.colormap_table("jet")[0, 0] = 1  # read-only


def test_constant_maps_do_not_divide_by_zero():
    assert np.array_equal(viz.normalize(np.zeros((2, 2))), np.zeros((2, 2)))
    assert np.array_equal(viz.normalize(np.zeros((2, 2)), symmetric=True), np.full((2, 2), 0.5))
    assert (viz.colorize(np.zeros((2, 2)), "bwr") == viz.colormap_table("bwr")[127]).all()


def test_integer_inputs_and_clipping_bounds():
    assert np.array_equal(viz.apply_colormap(np.array([0, 1]), "jet"), viz.colormap_table("jet")[[0, 255]])
    n = viz.normalize(np.array([-3.0, 0.0, 1.0, 3.0]), vmin=0.0, vmax=2.0)
    assert n.tolist() == [0.0, 0.0, 0.5, 1.0]
