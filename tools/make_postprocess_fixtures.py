#!/usr/bin/env python3
"""Writes the post-processing fixtures in Tests/PRPKitTests/Fixtures/postprocess/.

One safetensors file per case, `<kind>_<name>.safetensors`, with metadata `kind`:
- gaussian: `input` (H, W), `expected` = scipy.ndimage.gaussian_filter(input, sigma)
  (metadata `sigma`);
- resize: `input` (H, W), `expected` = cv2.resize(input, (w, h), INTER_CUBIC) with
  cv2's defaults (IPP on), `expected_generic` = the same with cv2.ipp.setUseIPP(False)
  (OpenCV's own resizeGeneric_ path); metadata `out_h`, `out_w`;
- postprocess: `relevance` (C, H, W), optional `image` (1, C, H, W), `expected` =
  CaBRNet's core.visualization.postprocess.post_process(...); metadata `polarity`
  ("none" or CaBRNet's name), `sigma`, `out_h`/`out_w` (0 = no resize), `normalize`,
  `grads_x_input`.

Run from the repository root: python3 tools/make_postprocess_fixtures.py
"""
import os
import sys

import cv2
import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

sys.path.insert(0, "python")
from prpkit import _safetensors  # noqa: E402

import torch  # noqa: E402
from cabrnet.core.visualization.postprocess import post_process  # noqa: E402

OUT = "Tests/PRPKitTests/Fixtures/postprocess"
rng = np.random.default_rng(20240611)


def save(name, tensors, metadata):
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
    _safetensors.save_file(tensors, os.path.join(OUT, name + ".safetensors"),
                           {k: str(v) for k, v in metadata.items()})


def smooth(h, w):
    """A positive, smooth-ish map (like a relevance heatmap) plus noise."""
    yy, xx = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    return (np.exp(-3 * (yy ** 2 + xx ** 2)) + 0.1 * rng.standard_normal((h, w))).astype(np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".safetensors"):
            os.remove(os.path.join(OUT, f))

    # Gaussian: radius 4σ+0.5 often larger than the image (7×7 with σ 5: radius 20).
    gaussian_cases = [
        ("7x7_s1", (7, 7), 1.0), ("7x7_s5", (7, 7), 5.0), ("1x1_s5", (1, 1), 5.0),
        ("1x9_s5", (1, 9), 5.0), ("9x1_s2", (9, 1), 2.0), ("3x2_s5", (3, 2), 5.0),
        ("16x20_s1", (16, 20), 1.0), ("16x20_s2.5", (16, 20), 2.5), ("5x6_s0.5", (5, 6), 0.5),
        ("40x33_s5", (40, 33), 5.0), ("12x12_s0", (12, 12), 0.0), ("64x48_s3", (64, 48), 3.0),
    ]
    for name, shape, sigma in gaussian_cases:
        x = rng.standard_normal(shape).astype(np.float32) * 3
        y = gaussian_filter(x, sigma=sigma) if sigma else x.copy()
        save("gaussian_" + name, {"input": x, "expected": y}, {"kind": "gaussian", "sigma": sigma})

    resize_cases = [
        ((7, 7), (224, 224)), ((7, 7), (7, 7)), ((14, 14), (7, 7)), ((10, 13), (3, 7)),
        ((5, 9), (13, 4)), ((1, 1), (3, 5)), ((1, 6), (4, 1)), ((6, 1), (1, 4)),
        ((7, 7), (17, 23)), ((20, 30), (11, 45)), ((3, 4), (3, 9)), ((224, 224), (7, 7)),
        ((7, 7), (150, 200)), ((28, 28), (33, 29)), ((2, 2), (2, 5)),
    ]
    for (h, w), (oh, ow) in resize_cases:
        x = smooth(h, w) if h * w > 4 else rng.standard_normal((h, w)).astype(np.float32)
        cv2.ipp.setUseIPP(True)
        y = cv2.resize(x, dsize=(ow, oh), interpolation=cv2.INTER_CUBIC)
        cv2.ipp.setUseIPP(False)
        yg = cv2.resize(x, dsize=(ow, oh), interpolation=cv2.INTER_CUBIC)
        cv2.ipp.setUseIPP(True)
        y = y.reshape(oh, ow); yg = yg.reshape(oh, ow)
        save(f"resize_{h}x{w}_to_{oh}x{ow}", {"input": x, "expected": y, "expected_generic": yg},
             {"kind": "resize", "out_h": oh, "out_w": ow})

    # CaBRNet post_process end to end. Constant maps: only sizes where cv2's resize of a
    # constant stays exactly constant (7 -> 224: all fractional offsets are multiples of
    # 1/32); elsewhere cv2 adds ~1 ulp of noise that min-max normalisation blows up to
    # [0, 1], which prpkit deliberately does not reproduce (see PostProcess.swift).
    cases = []
    for pol in ["absolute", "positive", "negative", None]:
        for sigma in [0, 1, 5]:
            cases.append(dict(shape=(3, 7, 7), polarity=pol, sigma=sigma, out=None, normalize=False, gxi=False))
    cases += [
        dict(shape=(3, 7, 7), polarity="absolute", sigma=5, out=(224, 224), normalize=True, gxi=False),
        dict(shape=(3, 7, 7), polarity="absolute", sigma=5, out=(224, 224), normalize=False, gxi=False),
        dict(shape=(3, 7, 7), polarity="positive", sigma=1, out=(30, 17), normalize=True, gxi=False),
        dict(shape=(3, 12, 10), polarity="negative", sigma=0, out=(5, 4), normalize=True, gxi=False),
        dict(shape=(3, 16, 16), polarity=None, sigma=2, out=(16, 16), normalize=True, gxi=False),
        dict(shape=(3, 7, 7), polarity="absolute", sigma=5, out=(120, 160), normalize=True, gxi=True),
        dict(shape=(3, 9, 11), polarity="positive", sigma=0, out=None, normalize=True, gxi=True),
        dict(shape=(1, 5, 5), polarity="absolute", sigma=1, out=(8, 8), normalize=True, gxi=False),
        dict(shape=(3, 32, 32), polarity="absolute", sigma=5, out=(64, 48), normalize=True, gxi=False),
        dict(shape=(3, 7, 7), polarity="absolute", sigma=5, out=(20, 20), normalize=True, gxi=False, const=0.0),
        dict(shape=(3, 7, 7), polarity=None, sigma=1, out=(224, 224), normalize=True, gxi=False, const=2.5),
        dict(shape=(3, 7, 7), polarity="positive", sigma=0, out=None, normalize=True, gxi=False, const=-1.0),
    ]
    for i, c in enumerate(cases):
        shape = c["shape"]
        if "const" in c:
            rel = np.full(shape, c["const"], np.float32)
        else:
            rel = (rng.standard_normal(shape) * np.exp(rng.standard_normal(shape))).astype(np.float32) * 1e-3
        image = rng.standard_normal((1,) + shape).astype(np.float32)
        out = c["out"]
        img = Image.new("RGB", (out[1], out[0]) if out else (shape[2], shape[1]))
        y = post_process(rel.copy(), img, torch.from_numpy(image.copy()), resize=out is not None,
                         polarity=c["polarity"], gaussian_ksize=c["sigma"], normalize=c["normalize"],
                         grads_x_input=c["gxi"])
        y = np.asarray(y, dtype=np.float32)
        assert y.dtype == np.float32
        tensors = {"relevance": rel, "expected": y}
        if c["gxi"]:
            tensors["image"] = image
        pol = c["polarity"] or "none"
        name = (f"postprocess_{i:02d}_{pol}_s{c['sigma']}_" + (f"{out[0]}x{out[1]}" if out else "noresize")
                + ("_norm" if c["normalize"] else "") + ("_gxi" if c["gxi"] else "")
                + ("_const" if "const" in c else ""))
        save(name, tensors, {"kind": "postprocess", "polarity": pol, "sigma": c["sigma"],
                             "out_h": out[0] if out else 0, "out_w": out[1] if out else 0,
                             "normalize": int(c["normalize"]), "grads_x_input": int(c["gxi"])})
    print("wrote", len(os.listdir(OUT)), "fixtures to", OUT)


if __name__ == "__main__":
    main()
