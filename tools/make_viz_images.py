#!/usr/bin/env python3
"""Writes the pictures of the docs made with prpkit.viz from the bundled model:

    python3 tools/make_viz_images.py      # with prpkit installed (and Pillow)

- docs/images/digit0_prototype1.png: `prpkit explain --prototypes 1 --colorbar` on the
  bundled held-out "0" (the README's picture), the CLI's own output file;
- docs/images/viz_views.png: one heatmap in each of prpkit.viz's views (docs/viz.md);
- docs/images/panel_digit2.png: `prpkit explain --top-k 3 --panels` on the bundled "2".

docs/images/report_explain.png (the HTML report in Chromium) is the screenshot of the
browser test: `cd python && PRPKIT_DOC_IMAGES=../docs/images python -m pytest
tests/test_report_browser.py`.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "docs", "images")


class _Size:
    def __init__(self, w: int, h: int) -> None:
        self.width, self.height = w, h


def explain_picture(digit: int, options: list[str], key: str, name: str) -> None:
    """Runs `prpkit explain` on the bundled sample of ``digit`` and keeps the file its first
    record names under ``key`` ("heatmap" or "panel") as docs/images/<name>."""
    from prpkit import cli
    sample = sorted(glob.glob(os.path.join(cli.BUNDLED_SAMPLES, f"digit{digit}_*.png")))[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        assert cli.main(["explain", sample, "--out", out, "--quiet"] + options) == 0
        rec = json.loads(open(os.path.join(out, "records.jsonl")).readline())
        shutil.copyfile(os.path.join(out, rec[key]), os.path.join(IMAGES, name))


def views() -> None:
    from PIL import Image

    import prpkit
    from prpkit import cli, viz
    from prpkit.prp_utils import get_cabrnet_lrp_composite_model
    meta = json.load(open(os.path.join(cli.DATA_DIR, "digits_protopnet.json")))
    sample = sorted(glob.glob(os.path.join(cli.BUNDLED_SAMPLES, "digit0_*.png")))[0]
    img = np.asarray(Image.open(sample).convert("RGB"))
    mean = np.asarray(meta["mean"], np.float32)[:, None, None]
    std = np.asarray(meta["std"], np.float32)[:, None, None]
    x = np.ascontiguousarray(((img.transpose(2, 0, 1) / np.float32(255) - mean) / std)[None], dtype=np.float32)
    composite = get_cabrnet_lrp_composite_model(prpkit.load(cli.BUNDLED_MODEL))
    rel, _ = prpkit.prp_relevance(composite, x, [1], "max")
    size, sigma = _Size(192, 192), round(5.0 * 32 / 224, 3)
    heat = prpkit.post_process(rel[0, 0], img=size, polarity="absolute", gaussian_ksize=sigma, normalize=True)
    signed = prpkit.post_process(rel[0, 0], img=size, polarity=None, gaussian_ksize=sigma, normalize=False)
    signed = signed / np.abs(signed).max()
    big = Image.fromarray(viz.upscale(img, (192, 192)))
    tiles = [
        ("image (bicubic, 6x)", viz.as_rgb(big)),
        ("overlay, jet", viz.overlay(img, heat, "jet")),
        ("overlay, viridis", viz.overlay(img, heat, "viridis")),
        ("overlay, bwr (signed)", viz.overlay(img, signed, "bwr")),
        ("CaBRNet heatmap, p=0.7", viz.as_rgb(viz.heatmap(big, heat, overlay=True, percentile=0.7))),
        ("coldnhot (signed)", viz.colorize(signed, "coldnhot")),
    ]
    g = viz.grid([t for _, t in tiles], columns=3, titles=[n for n, _ in tiles], font_size=14)
    viz.save_png(os.path.join(IMAGES, "viz_views.png"), g)


def main() -> int:
    os.makedirs(IMAGES, exist_ok=True)
    explain_picture(0, ["--prototypes", "1", "--colorbar"], "heatmap", "digit0_prototype1.png")
    views()
    explain_picture(2, ["--top-k", "3", "--panels"], "panel", "panel_digit2.png")
    print("wrote docs/images/digit0_prototype1.png, viz_views.png, panel_digit2.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
