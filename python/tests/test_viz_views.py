"""prpkit.viz's CaBRNet views (heatmap, bbox_to_percentile, crop_to_percentile, compute_bbox)
against CaBRNet 1.2's own functions (cabrnet.core.visualization.view), live, on similarity
maps made by CaBRNet's post-processing and by prpkit's. Tolerance 0 (same pixels): the jet
table is OpenCV's, the blend is CaBRNet's float64 0.4/0.6 formula truncated to bytes, and
the box is drawn by the same Pillow call; an integer difference would be a real change of
view, not rounding."""

from __future__ import annotations

import numpy as np
import pytest

from prpkit import viz

Image = pytest.importorskip("PIL.Image")
view = pytest.importorskip("cabrnet.core.visualization.view")  # needs cv2 (opencv-python-headless)

RNG = np.random.default_rng(1616)


def _sim_maps(h, w):
    """Normalised maps of several kinds: one blob, two blobs, a float32 map from a bicubic
    resize (the post-processing's output), a map touching the borders, a single hot pixel."""
    yy, xx = np.mgrid[0:h, 0:w]
    blob = np.exp(-((yy - 0.3 * h) ** 2 + (xx - 0.6 * w) ** 2) / (0.02 * h * w))
    two = blob + 0.8 * np.exp(-((yy - 0.8 * h) ** 2 + (xx - 0.1 * w) ** 2) / (0.01 * h * w))
    small = RNG.random((7, 7)).astype(np.float32)
    cubic = np.asarray(Image.fromarray(small, mode="F").resize((w, h), Image.BICUBIC))
    border = np.zeros((h, w))
    border[0, :] = 1.0
    border[:, -1] = 0.9
    hot = np.zeros((h, w), np.float32)
    hot[h // 2, w // 3] = 1.0
    maps = [blob, two, cubic, border, hot]
    return [((m - m.min()) / (m.max() - m.min())).astype(m.dtype) for m in maps]


def _images(h, w):
    rgb = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return [Image.fromarray(rgb), Image.fromarray(rgb[..., 0]), Image.fromarray(rgb).convert("L")]


@pytest.mark.parametrize("h,w", [(64, 48), (224, 224)])
def test_heatmap_same_pixels_as_cabrnet(h, w):
    for img in _images(h, w):
        for s in _sim_maps(h, w):
            for kwargs in ({}, {"overlay": True}, {"overlay": True, "percentile": 0.7},
                           {"percentile": 0.3, "thickness": 1}, {"overlay": True, "percentile": 0.95, "thickness": 6}):
                ours = viz.heatmap(img, s, **kwargs)
                ref = view.heatmap(img, s, **kwargs)
                assert ours.mode == ref.mode and ours.size == ref.size, (img.mode, kwargs)
                assert np.array_equal(np.asarray(ours), np.asarray(ref)), (img.mode, s.dtype, kwargs)


@pytest.mark.parametrize("percentile", [0.1, 0.5, 0.7, 0.9, 1.0])
def test_bbox_and_crop_same_as_cabrnet(percentile):
    h, w = 80, 60
    for img in _images(h, w):
        for s in _sim_maps(h, w):
            thr = 1.0 - percentile
            box = view.compute_bbox(s, thr)
            if (s > thr).any():
                assert viz.compute_bbox(s, thr) == box
                assert np.array_equal(np.asarray(viz.crop_to_percentile(img, s, percentile)),
                                      np.asarray(view.crop_to_percentile(img, s, percentile)))
            for t in (1, 4):
                ours = viz.bbox_to_percentile(img, s, percentile, thickness=t)
                ref = view.bbox_to_percentile(img, s, percentile, thickness=t)
                assert ours.mode == ref.mode
                assert np.array_equal(np.asarray(ours), np.asarray(ref)), (img.mode, percentile, t)


def test_views_on_prpkit_post_processed_map():
    # The real pipeline: a relevance map post-processed by prpkit, shown by both views.
    import prpkit
    rel = RNG.standard_normal((3, 32, 32)).astype(np.float32)

    class Size:
        width, height = 96, 96
    s = prpkit.post_process(rel, img=Size, polarity="absolute", gaussian_ksize=1.0, normalize=True)
    img = Image.fromarray(RNG.integers(0, 256, (96, 96, 3), dtype=np.uint8))
    for kwargs in ({"overlay": True, "percentile": 0.7}, {}):
        assert np.array_equal(np.asarray(viz.heatmap(img, s, **kwargs)), np.asarray(view.heatmap(img, s, **kwargs)))


def test_empty_selection():
    s = np.full((10, 12), 0.2)
    img = Image.fromarray(np.zeros((10, 12, 3), np.uint8))
    assert viz.compute_bbox(s, 0.5) == (0, 0, 0, 0)
    # no box drawn, as CaBRNet
    assert np.array_equal(np.asarray(viz.bbox_to_percentile(img, s, 0.5)), np.asarray(view.bbox_to_percentile(img, s, 0.5)))
    with pytest.raises(ValueError, match="no value of sim_map exceeds"):
        viz.crop_to_percentile(img, s, 0.5)


def test_bad_inputs():
    img = Image.fromarray(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="normalised"):
        viz.heatmap(img, np.full((8, 8), 1.5))
    with pytest.raises(ValueError, match="normalised"):
        viz.bbox_to_percentile(img, np.full((8, 8), np.nan), 0.7)
    with pytest.raises(ValueError, match="8×8 but sim_map is 4×8"):
        viz.heatmap(img, np.zeros((4, 8)))
    with pytest.raises(ValueError, match="percentile"):
        viz.crop_to_percentile(img, np.zeros((8, 8)), 1.5)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        viz.heatmap(img, np.zeros((1, 8, 8)))


def test_views_accept_arrays():
    rgb = RNG.integers(0, 256, (16, 20, 3), dtype=np.uint8)
    s = _sim_maps(16, 20)[0]
    assert np.array_equal(np.asarray(viz.heatmap(rgb, s, overlay=True)),
                          np.asarray(view.heatmap(Image.fromarray(rgb), s, overlay=True)))
