"""What a minimal install (the wheel and NumPy, no torch, no Pillow) must do.

These tests need neither torch nor Pillow, so they run in the full pass and in the
numpy-only pass of scripts/test_wheel.sh (a fresh venv with only the wheel and NumPy).
Parity here is against committed references that no prpkit code computed:
examples/c/tiny_prp.expected (CaBRNet 1.2's PRP composite + Captum 0.9's LRP + CaBRNet's
post_process, written by examples/c/make_tiny_prp_model.py).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import os
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

import prpkit
from prpkit.prp_utils import get_cabrnet_lrp_composite_model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_PRP = os.path.join(REPO, "examples", "c", "tiny_prp.prpk")
TINY_PRP_EXPECTED = os.path.join(REPO, "examples", "c", "tiny_prp.expected")
DATA = os.path.join(os.path.dirname(prpkit.__file__), "data")

# Python code run in a child whose `import PIL` fails, as in an install without Pillow.
NO_PILLOW = "import sys; sys.modules['PIL'] = None; from prpkit.cli import main; sys.exit(main(sys.argv[1:]))"


def test_one_version_number():
    """Package metadata, prpkit.__version__ and the library's prpkit_version() agree."""
    lib = "%d.%d.%d" % prpkit.version()
    assert prpkit.__version__ == lib == importlib.metadata.version("prpkit")
    assert prpkit.version() == (prpkit._core.HEADER_VERSION_MAJOR, prpkit._core.HEADER_VERSION_MINOR,
                                prpkit._core.HEADER_VERSION_PATCH)


def read_expected(path: str) -> dict:
    """The key → values lines of a .expected file (see make_tiny_prp_model.py)."""
    out: dict = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            key, *vals = line.split()
            out.setdefault(key, []).append([float(v) for v in vals])
    return out


def tiny_prp_input() -> np.ndarray:
    i = np.arange(1 * 3 * 32 * 32)
    return (((i * 37) % 17) / 8.0 - 1.0).astype(np.float32).reshape(1, 3, 32, 32)


def test_lrp_matches_captum_on_cabrnet_composite_without_torch():
    """prpkit.LRP on prpkit's CaBRNet composite of a model file = Captum on CaBRNet's own
    composite (committed reference values), with only NumPy installed.
    Tolerance: 1e-4 · max|ref| (float32 sums over ~10⁴ terms in a different order)."""
    exp = read_expected(TINY_PRP_EXPECTED)
    comp = get_cabrnet_lrp_composite_model(prpkit.load(TINY_PRP))
    x = tiny_prp_input()
    for k, p, h, w, score in exp["prototype"]:
        k, p, h, w = int(k), int(p), int(h), int(w)
        rel = np.asarray(prpkit.LRP(comp).attribute(x, target=(p, h, w)))[0]
        scale = {int(a): b for a, b in exp["relevance_maxabs"]}[k]
        for kk, i, want in exp["relevance"]:
            if int(kk) == k:
                assert abs(rel.ravel()[int(i)] - want) <= 1e-4 * scale, (p, int(i))
        want_sum = {int(a): b for a, b in exp["relevance_sum"]}[k]
        assert abs(rel.astype(np.float64).sum() - want_sum) <= 1e-4 * abs(want_sum)


def test_prp_heatmap_matches_cabrnet_without_torch():
    """prpkit.prp on a model file = CaBRNet prp()'s pipeline (composite, LRP at the max,
    post_process with sigma 1, bicubic resize to 20×30), committed reference; 1e-4 · max."""
    exp = read_expected(TINY_PRP_EXPECTED)
    (h_out, w_out), = exp["heatmap_shape"]
    img = types.SimpleNamespace(width=int(w_out), height=int(h_out))  # prp() reads .width/.height
    p = int(exp["prototype"][0][1])
    heat = np.asarray(prpkit.prp(prpkit.load(TINY_PRP), img, tiny_prp_input(), proto_idx=p, location="max",
                                 gaussian_ksize=1, polarity="absolute", normalize=False))
    assert heat.shape == (int(h_out), int(w_out))
    scale = exp["heatmap_maxabs"][0][0]
    for i, want in exp["heatmap"]:
        assert abs(heat.ravel()[int(i)] - want) <= 1e-4 * scale, int(i)


def digits_npy(path: str, n: int = 2) -> None:
    """n bundled held-out digits as an (n, 3, 32, 32) .npy, normalised as the model expects."""
    meta = json.load(open(os.path.join(DATA, "digits_protopnet.json")))
    img = np.load(os.path.join(DATA, "digits_heldout.npz"))["images"][:n].astype(np.float32) / 255.0
    x = np.repeat(img[:, None], 3, axis=1)
    mean = np.asarray(meta["mean"], np.float32)[:, None, None]
    std = np.asarray(meta["std"], np.float32)[:, None, None]
    np.save(path, ((x - mean) / std).astype(np.float32))


def run_without_pillow(cwd, *args: str) -> subprocess.CompletedProcess:
    """The CLI in a child (run outside python/, whose prpkit/ has no built extension)."""
    return subprocess.run([sys.executable, "-c", NO_PILLOW, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_explain_npy_without_pillow(tmp_path):
    """.npy inputs need no Pillow: relevance files and records, no overlays, and a note
    that names the extra."""
    digits_npy(str(tmp_path / "x.npy"))
    out = tmp_path / "out"
    r = run_without_pillow(tmp_path, "explain", str(tmp_path / "x.npy"), "--out", str(out), "--top-k", "2")
    assert r.returncode == 0, r.stderr
    assert "prpkit[images]" in r.stderr
    records = [json.loads(line) for line in open(out / "records.jsonl")]
    assert len(records) == 4 and all(rec["heatmap"] is None for rec in records)
    for rec in records:
        rel = np.load(out / rec["relevance"])
        assert rel.shape == (3, 32, 32) and np.isfinite(rel).all() and np.abs(rel).max() > 0
    assert not [f for f in os.listdir(out) if f.endswith(".png")]


def test_explain_png_without_pillow_names_the_extra(tmp_path):
    sample = os.path.join(DATA, "samples", sorted(os.listdir(os.path.join(DATA, "samples")))[0])
    r = run_without_pillow(tmp_path, "explain", sample, "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    assert r.stderr.startswith("prpkit: error: ") and "prpkit[images]" in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="checks an install without torch")
def test_torch_features_say_what_they_need():
    with pytest.raises(ImportError, match="torch"):
        prpkit.from_torch(object())


def test_c_header_and_library_in_the_package():
    """The wheel carries prpkit.h and the library for C code; the header is the one the
    extension was built with."""
    header = os.path.join(prpkit.get_include(), "prpkit.h")
    text = open(header, encoding="utf-8").read()
    macros = tuple(int(re.search(rf"^#define PRPKIT_VERSION_{p} (\d+)$", text, re.M).group(1))
                   for p in ("MAJOR", "MINOR", "PATCH"))
    assert macros == prpkit.version()
    lib = prpkit.get_library()
    assert os.path.isfile(lib) and os.path.dirname(lib) == os.path.dirname(prpkit.__file__)
    assert re.fullmatch(r"libprpkit\.so\.\d+(\.\d+)?", os.path.basename(lib))


def test_module_prints_build_flags_and_version(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "prpkit", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)
    r = run("--cflags", "--libs")
    assert r.returncode == 0, r.stderr
    lib = prpkit.get_library()
    assert r.stdout.split() == [f"-I{prpkit.get_include()}", f"-L{os.path.dirname(lib)}",
                                f"-l:{os.path.basename(lib)}", f"-Wl,-rpath,{os.path.dirname(lib)}"]
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"prpkit {prpkit.__version__}"
    r = run()
    assert r.returncode == 2 and "a command is required" in r.stderr


@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) is not installed")
def test_extension_is_abi3_and_exports_only_its_init():
    """The extension is built for the stable ABI (one binary for CPython >= 3.11), and its
    compilation units share their helpers privately (-fvisibility=hidden, see _core.h):
    the module's init function is the one symbol it exports, so no helper can clash with
    a symbol of the same name in another library."""
    path = prpkit._core.__file__
    assert path.endswith(".abi3.so"), path
    r = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    linker = {"_init", "_fini", "__bss_start", "_edata", "_end"}  # some linkers define these
    symbols = {line.split()[-1] for line in r.stdout.splitlines() if line.strip()} - linker
    assert symbols == {"PyInit__core"}, sorted(symbols)
