"""prpkit.viz pictures: the overlay's formula (opacity alpha·heat; untouched image where the
heat is 0), bicubic upscaling (Pillow's), the colour bar (the map's 256 entries in order),
grids, and `prpkit explain` writing its overlays through prpkit.viz. Expected pixels are
re-derived here in float64 from the definitions; tolerance 0 on bytes except where noted."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prpkit import viz

Image = pytest.importorskip("PIL.Image")
RNG = np.random.default_rng(3)


def _ramp(h, w):
    return np.linspace(0, 1, h * w).reshape(h, w)


# ----------------------------------------------------------------------------- overlay

def test_overlay_formula_and_transparency():
    img = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    heat = _ramp(20, 30)
    heat[:5] = 0.0
    out = viz.overlay(img, heat, "jet", alpha=0.6)
    a = 0.6 * heat[..., None]
    ref = np.rint((1 - a) * img + a * viz.colormap_table("jet")[(heat * 255).astype(np.uint8)])
    assert np.array_equal(out, ref.astype(np.uint8))
    assert np.array_equal(out[:5], img[:5])  # no heat: the image itself, no tint
    assert np.array_equal(viz.overlay(img, heat, "jet", alpha=0.0), img)


def test_overlay_signed_opacity_follows_magnitude():
    img = np.full((4, 5, 3), 100, np.uint8)
    heat = np.array([[-1.0, -0.5, 0.0, 0.5, 1.0]] * 4)
    out = viz.overlay(img, heat, "bwr", alpha=1.0)
    t = viz.colormap_table("bwr")
    assert out[0, 0].tolist() == t[0].tolist() and out[0, 4].tolist() == t[255].tolist()
    assert out[0, 2].tolist() == [100, 100, 100]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        viz.overlay(img, heat, "jet")  # negative heat needs a diverging map


def test_overlay_upscales_bicubically():
    small = RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    heat = np.zeros((64, 64))
    expected = np.asarray(Image.fromarray(small).resize((64, 64), Image.BICUBIC))
    assert np.array_equal(viz.overlay(small, heat), expected)
    assert np.array_equal(viz.upscale(small, (64, 64)), expected)
    # float and (C, H, W) inputs are the same picture
    assert np.array_equal(viz.upscale(small.transpose(2, 0, 1).astype(np.float64) / 255, (64, 64)), expected)


def test_overlay_and_image_errors():
    img = np.zeros((4, 4, 3), np.uint8)
    for bad, match in ((dict(alpha=1.5), "alpha"), (dict(heat=np.zeros((1, 4, 4))), r"\(H, W\)"),
                       (dict(heat=np.full((4, 4), np.nan)), "finite")):
        kw = {"image": img, "heat": np.zeros((4, 4)), **bad}
        with pytest.raises(ValueError, match=match):
            viz.overlay(**kw)
    with pytest.raises(ValueError, match="float images"):
        viz.as_rgb(np.full((4, 4), 2.0))
    with pytest.raises(ValueError, match="uint8 or float"):
        viz.as_rgb(np.zeros((4, 4), np.int32))
    with pytest.raises(ValueError, match="shape"):
        viz.as_rgb(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="positive"):
        viz.upscale(img, (0, 4))


# ----------------------------------------------------------------------------- colour bar and grid

@pytest.mark.parametrize("cmap", viz.COLORMAPS)
def test_colorbar_shows_the_map_in_order(cmap):
    bar = viz.colorbar(300, cmap, -1.0, 1.0, label="relevance")
    assert bar.shape[0] == 300 and bar.dtype == np.uint8
    # the bar lies inside its black outline: the first column holding black is the outline's left side
    black = (bar == 0).all(axis=2)
    x0 = int(np.flatnonzero(black.any(axis=0))[0])
    rows = np.flatnonzero(black[:, x0])
    col = bar[rows[0] + 1:rows[-1], x0 + 3]
    table = viz.colormap_table(cmap)
    ids = [int(np.flatnonzero((table == c).all(1))[0]) for c in col]  # raises if a colour is not the map's
    assert ids[0] == 255 and ids[-1] == 0 and all(a >= b for a, b in zip(ids, ids[1:]))
    assert len(set(ids)) > 200  # 300-px bar: most of the 256 entries appear


def test_with_colorbar_keeps_the_image():
    img = RNG.integers(0, 256, (128, 100, 3), dtype=np.uint8)
    out = viz.with_colorbar(img, "viridis")
    assert out.shape[0] == 128 and out.shape[1] > 100 and np.array_equal(out[:, :100], img)
    with pytest.raises(ValueError, match="vmin < vmax"):
        viz.colorbar(100, "jet", 1.0, 1.0)
    with pytest.raises(ValueError, match="at least 16"):
        viz.colorbar(10)


def test_grid_layout():
    ims = [np.full((10, 12, 3), 40 * k, np.uint8) for k in range(5)]
    g = viz.grid(ims, columns=3, padding=2, background=255)
    assert g.shape == (2 * 10 + 3 * 2, 3 * 12 + 4 * 2, 3)
    for k in range(5):
        r, c = divmod(k, 3)
        y, x = 2 + r * 12, 2 + c * 14
        assert (g[y:y + 10, x:x + 12] == 40 * k).all()
    assert (g[14:24, 30:42] == 255).all()  # the empty sixth cell
    titled = viz.grid(ims, titles=[f"p{k}" for k in range(5)])
    assert titled.shape[0] > viz.grid(ims).shape[0]
    assert (titled != 255).any(axis=2)[:, :].sum() > (viz.grid(ims) != 255).any(axis=2).sum()  # text drawn
    with pytest.raises(ValueError, match="titles"):
        viz.grid(ims, titles=["a"])
    with pytest.raises(ValueError, match="no images"):
        viz.grid([])


def test_save_png_round_trip(tmp_path):
    img = RNG.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    viz.save_png(tmp_path / "a.png", img)
    viz.save_png(tmp_path / "b.png", img)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), img)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


# ----------------------------------------------------------------------------- prpkit explain

@pytest.mark.parametrize("cmap", ["jet", "bwr"])
def test_explain_overlays_are_viz_overlays(tmp_path, cmap):
    import prpkit
    from prpkit import cli
    out = tmp_path / cmap
    assert cli.main(["explain", "--out", str(out), "--prototypes", "3", "--colormap", cmap, "--alpha", "0.8",
                     "--quiet"]) == 0
    rec = json.loads(open(out / "records.jsonl").readline())
    rel = np.load(out / rec["relevance"])
    sigma = round(5.0 * 32 / 224.0, 3)  # the CLI's default blur for the bundled 32×32 model

    class Size:
        width, height = 256, 256
    if cmap == "jet":
        heat = prpkit.post_process(rel, img=Size, polarity="absolute", gaussian_ksize=sigma, normalize=True)
    else:
        heat = prpkit.post_process(rel, img=Size, polarity=None, gaussian_ksize=sigma, normalize=False)
        heat = heat / np.abs(heat).max()
    img = np.asarray(Image.open(rec["image"]).convert("RGB"))
    got = np.asarray(Image.open(out / rec["heatmap"]))
    assert np.array_equal(got, viz.overlay(img, heat, cmap, 0.8))


def test_explain_colorbar_and_alpha_errors(tmp_path, capsys):
    from prpkit import cli
    out = tmp_path / "bar"
    assert cli.main(["explain", "--out", str(out), "--prototypes", "0", "--colorbar", "--quiet"]) == 0
    rec = json.loads(open(out / "records.jsonl").readline())
    png = Image.open(out / rec["heatmap"])
    assert png.height == 256 and png.width > 256
    assert cli.main(["explain", "--out", str(tmp_path / "x"), "--alpha", "1.5"]) == 2
    assert "--alpha" in capsys.readouterr().err
