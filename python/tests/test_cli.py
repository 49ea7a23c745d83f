"""The `prpkit` command line on the bundled model: explain end to end (files, shapes, JSON,
values equal to the Python API), bad-input exits, and the bundled model's accuracy
(`prpkit info`: test_cli_info.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import prpkit
from prpkit import cli
from prpkit.prp_utils import get_cabrnet_lrp_composite_model

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

META = json.load(open(os.path.join(cli.DATA_DIR, "digits_protopnet.json")))
SAMPLES = sorted(os.path.join(cli.BUNDLED_SAMPLES, f) for f in os.listdir(cli.BUNDLED_SAMPLES))
MEAN = np.asarray(META["mean"], np.float32)[:, None, None]
STD = np.asarray(META["std"], np.float32)[:, None, None]


def preprocess(gray_or_rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W) or (H, W, 3) → normalised float32 (3, H, W), as the model card says."""
    a = gray_or_rgb.astype(np.float32) / 255.0
    a = np.repeat(a[None], 3, 0) if a.ndim == 2 else a.transpose(2, 0, 1)
    return np.ascontiguousarray((a - MEAN) / STD, dtype=np.float32)


def load_png(path: str) -> np.ndarray:
    return preprocess(np.asarray(Image.open(path).convert("RGB")))


@pytest.fixture(scope="module")
def model():
    return prpkit.load(cli.BUNDLED_MODEL)


@pytest.fixture(scope="module")
def composite(model):
    # the bundled normalisation is ImageNet's, so these are CaBRNet's default z^B bounds
    return get_cabrnet_lrp_composite_model(model)


def run(argv, capsys):
    rc = cli.main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def read_records(out_dir):
    with open(os.path.join(out_dir, "records.jsonl")) as f:
        return [json.loads(line) for line in f]


# ----------------------------------------------------------------------------- explain

@pytest.fixture(scope="module")
def predicted_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "explained"
    assert cli.main(["explain", "--out", str(out), "--predicted-class", "--quiet"]) == 0
    return out


def test_bundled_files_exist():
    assert os.path.getsize(cli.BUNDLED_MODEL) < 3_000_000
    assert len(SAMPLES) == 10
    assert META["num_prototypes"] == len(META["prototype_class"]) == 30


def test_explain_predicted_class_files_and_json(predicted_run, model):
    recs = read_records(predicted_run)
    assert len(recs) == 10 * 3  # 10 samples × the 3 prototypes of the predicted class
    expected = {"image", "index", "prototype", "prototype_class", "predicted_class", "location_mode", "locations",
                "similarity", "max_similarity", "relevance_sum", "conservation_delta", "heatmap", "relevance",
                "timings_ms"}
    files = set(os.listdir(predicted_run))
    for r in recs:
        assert expected <= set(r)
        assert r["prototype_class"] == r["predicted_class"] == META["prototype_class"][r["prototype"]]
        assert r["location_mode"] == "max" and len(r["locations"]) == 1
        assert {"load", "forward", "prp", "write"} <= set(r["timings_ms"])
        assert r["heatmap"] in files and r["relevance"] in files
        rel = np.load(os.path.join(predicted_run, r["relevance"]))
        assert rel.shape == (3, 32, 32) and rel.dtype == np.float32
        png = Image.open(os.path.join(predicted_run, r["heatmap"]))
        assert png.mode == "RGB" and png.size == (256, 256)
        assert r["conservation_delta"] == pytest.approx(r["similarity"] - float(rel.sum(dtype=np.float64)), abs=1e-9)
    # the sample file names carry their label: the model classifies most of them correctly
    correct = sum(r["predicted_class"] == int(os.path.basename(r["image"])[5]) for r in recs[::3])
    assert correct >= 9
    assert not [f for f in os.listdir(os.path.dirname(predicted_run)) if f.startswith(".prpkit-explain-")]


def test_explain_values_equal_python_api(predicted_run, composite):
    for r in read_records(predicted_run):
        x = load_png(r["image"])[None]
        rel, sim = prpkit.prp_relevance(composite, x, [r["prototype"]], "max")
        got = np.load(os.path.join(predicted_run, r["relevance"]))
        scale = float(np.abs(rel).max())
        assert np.abs(got - rel[0, 0]).max() <= 1e-5 * scale, r["heatmap"]
        s = sim[0, r["prototype"]]
        h, w = np.unravel_index(int(np.argmax(s)), s.shape)
        assert r["locations"] == [[int(h), int(w)]]
        assert r["similarity"] == pytest.approx(float(s[h, w]), rel=1e-6)
        assert r["max_similarity"] == pytest.approx(float(s.max()), rel=1e-6)
        # the forward pass of the plain model gives the same prediction
        logits = composite._source(x)[0]
        assert int(np.argmax(logits)) == r["predicted_class"]


def test_explain_deterministic(predicted_run, tmp_path):
    out = tmp_path / "again"
    assert cli.main(["explain", "--out", str(out), "--predicted-class", "--quiet"]) == 0
    for r in read_records(out):
        for key in ("heatmap", "relevance"):
            with open(out / r[key], "rb") as a, open(predicted_run / r[key], "rb") as b:
                assert a.read() == b.read(), r[key]


def test_explain_npy_location_all_and_at(tmp_path, composite, capsys):
    xs = np.stack([load_png(p) for p in SAMPLES[:3]])
    np.save(tmp_path / "batch.npy", xs)
    for loc, thr in (("all", 0.5), ("2,3", 0.1)):
        out = tmp_path / f"out_{loc.replace(',', '_')}"
        rc, _, err = run(["explain", tmp_path / "batch.npy", "--out", out, "--prototypes", "4,17",
                          "--location", loc, "--threshold", thr, "--quiet"], capsys)
        assert rc == 0, err
        recs = read_records(out)
        assert [(r["index"], r["prototype"]) for r in recs] == [(i, p) for i in range(3) for p in (4, 17)]
        location = None if loc == "all" else (2, 3)
        rel, sim = prpkit.prp_relevance(composite, xs, [4, 17], location, similarity_threshold=thr)
        for r in recs:
            i, k = r["index"], [4, 17].index(r["prototype"])
            got = np.load(out / r["relevance"])
            assert r["relevance"] == f"batch_{i}_p{r['prototype']:03d}.npy"
            assert np.abs(got - rel[i, k]).max() <= 1e-5 * max(float(np.abs(rel[i, k]).max()), 1e-12)
            s = sim[i, r["prototype"]]
            if loc == "all":
                sel = s >= thr
                assert r["locations"] == [[int(a), int(b)] for a, b in np.argwhere(sel)]
                assert r["similarity"] == pytest.approx(float(s[sel].sum(dtype=np.float64)), rel=1e-6)
            else:
                assert r["locations"] == [[2, 3]]
                assert r["similarity"] == pytest.approx(float(s[2, 3]), rel=1e-6)


def test_explain_top_k_and_list_file(tmp_path, composite, capsys):
    lst = tmp_path / "images.txt"
    lst.write_text("\n".join(SAMPLES[:2]) + "\n")
    out = tmp_path / "topk"
    rc, _, err = run(["explain", lst, "--out", out, "--top-k", "4", "--colormap", "viridis", "--quiet"], capsys)
    assert rc == 0, err
    recs = read_records(out)
    assert len(recs) == 8
    for j, path in enumerate(SAMPLES[:2]):
        sim = composite.similarities(load_png(path)[None])[0]
        top = list(np.argsort(-sim.reshape(30, -1).max(1), kind="stable")[:4])
        assert [r["prototype"] for r in recs[4 * j:4 * j + 4]] == top


# ----------------------------------------------------------------------------- errors

def _bad_cases(tmp):
    (tmp / "bad.png").write_bytes(b"not an image")
    np.save(tmp / "wrong.npy", np.zeros((2, 1, 28, 28), np.float32))
    np.save(tmp / "ints.npy", np.zeros((3, 32, 32), np.int32))
    (tmp / "empty").mkdir()
    return {
        "missing file": (["explain", tmp / "missing.png"], "no such file"),
        "unreadable image": (["explain", SAMPLES[0], tmp / "bad.png"], "unreadable image"),
        "wrong shape": (["explain", tmp / "wrong.npy"], "does not match the model input"),
        "integer npy": (["explain", tmp / "ints.npy"], "floating-point"),
        "empty folder": (["explain", tmp / "empty"], "holds no images"),
        "bad prototype": (["explain", SAMPLES[0], "--prototypes", "30"], "--prototypes"),
        "bad location": (["explain", SAMPLES[0], "--location", "8,0"], "outside"),
        "bad location text": (["explain", SAMPLES[0], "--location", "middle"], "--location"),
        "missing model": (["explain", SAMPLES[0], "--model", tmp / "none.prpkit"], "no such model file"),
        "not a model": (["explain", SAMPLES[0], "--model", tmp / "bad.png"], "cannot load the model"),
        "bad mean": (["explain", SAMPLES[0], "--mean", "0.5,0.5"], "--mean"),
    }


BAD_CASES = ["missing file", "unreadable image", "wrong shape", "integer npy", "empty folder", "bad prototype",
             "bad location", "bad location text", "missing model", "not a model", "bad mean"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_explain_bad_input(case, tmp_path, capsys):
    argv, message = _bad_cases(tmp_path)[case]
    out = tmp_path / "out"
    rc, stdout, err = run(argv + ["--out", out], capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prpkit: error: ") and message in lines[0], err
    assert not out.exists()  # nothing written
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".prpkit-explain-")]


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs a folder nobody can write into (/proc)")
@pytest.mark.parametrize("command", [["explain", SAMPLES[0], "--top-k", "1"],
                                     ["evaluate", SAMPLES[0], "--metric", "deletion", "--steps", "2"]])
def test_unwritable_out_is_one_line_and_exit_2(command, capsys):
    """/proc exists and is a folder, but nothing can be created in it (not even by root):
    one line naming --out and the reason, exit 2, no internal temporary path."""
    out = "/proc/prpkit-out" + (".jsonl" if command[0] == "evaluate" else "")
    rc, _, err = run(command + ["--out", out, "--quiet"], capsys)
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"prpkit: error: {out}: cannot write the results there ("), err
    assert ".prpkit-" not in err


def test_python_dash_m(tmp_path):
    res = subprocess.run([sys.executable, "-m", "prpkit", "info"], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "classifier.distances" in res.stdout
    res = subprocess.run([sys.executable, "-m", "prpkit", "explain", "nope.png", "--out", "o"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.strip() == "prpkit: error: nope.png: no such file or directory"


@pytest.mark.skipif(shutil.which("prpkit") is None, reason="the prpkit console script is not on PATH")
def test_console_script(tmp_path):
    res = subprocess.run(["prpkit", "explain", SAMPLES[3], "--out", str(tmp_path / "o"), "--top-k", "1"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert len(read_records(tmp_path / "o")) == 1


# ----------------------------------------------------------------------------- accuracy

def test_bundled_accuracy_at_least_stated(model):
    """The held-out split (digits_heldout.npz), through prpkit's native forward pass."""
    data = np.load(os.path.join(cli.DATA_DIR, "digits_heldout.npz"))
    images, labels = data["images"], data["labels"]
    assert len(labels) == META["split"]["heldout"] == 360
    x = np.stack([preprocess(im) for im in images])
    logits, _ = model(x)
    accuracy = float((np.asarray(logits).argmax(1) == labels).mean())
    assert accuracy >= META["stated_test_accuracy"], accuracy
    assert META["stated_test_accuracy"] >= 0.9
    # the samples are held-out images: the PNG round trip is exact
    for s in META["samples"]:
        png = np.asarray(Image.open(os.path.join(cli.DATA_DIR, s["file"])).convert("L"))
        assert np.array_equal(png, images[s["heldout_index"]])


# ----------------------------------------------------------------------------- convert

def test_convert_module_path(tmp_path, capsys, monkeypatch):
    torch = pytest.importorskip("torch")
    (tmp_path / "tiny_net.py").write_text(
        "import torch\n"
        "def build():\n"
        "    torch.manual_seed(0)\n"
        "    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),\n"
        "                               torch.nn.Linear(4 * 6 * 6, 5)).eval()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "tiny.prpkit"
    rc, _, err = run(["convert", "--module", "tiny_net:build", "--input-shape", "3,8,8", "--out", out, "--quiet"],
                     capsys)
    assert rc == 0, err
    import tiny_net
    ref = tiny_net.build()
    x = torch.randn(2, 3, 8, 8)
    got = prpkit.load(out)(x.numpy())
    np.testing.assert_allclose(got, ref(x).detach().numpy(), rtol=1e-5, atol=1e-5)
    assert not (tmp_path / "tiny.json").exists()  # no metadata asked for
    rc, _, err = run(["convert", "--module", "tiny_net:missing", "--input-shape", "3,8,8",
                      "--out", tmp_path / "m.prpkit"], capsys)
    assert rc == 2 and "has no attribute" in err and not (tmp_path / "m.prpkit").exists()
    if os.path.isdir("/proc"):  # a folder nothing can be created in: one line, exit 2
        rc, _, err = run(["convert", "--module", "tiny_net:build", "--input-shape", "3,8,8",
                          "--out", "/proc/prpkit-out.prpkit", "--quiet"], capsys)
        assert rc == 2 and len(err.strip().splitlines()) == 1, err
        assert err.startswith("prpkit: error: /proc/prpkit-out.prpkit: cannot write the results there ("), err
        assert ".prpkit-" not in err


def test_convert_cabrnet_config_then_explain(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    pytest.importorskip("cabrnet")
    yaml = pytest.importorskip("yaml")
    from loguru import logger
    logger.remove()
    from cabrnet.archs.generic.model import CaBRNet
    config = {
        "extractor": {"backbone": {"arch": "resnet18", "weights": "None", "layer": "layer2"},
                      "add_on": {"conv1": {"type": "Conv2d", "params": {"out_channels": 16, "kernel_size": 1}},
                                 "relu1": {"type": "ReLU"},
                                 "conv2": {"type": "Conv2d", "params": {"out_channels": 16, "kernel_size": 1}},
                                 "sigmoid1": {"type": "Sigmoid"}}},
        "classifier": {"module": "cabrnet.archs.protopnet.decision", "name": "ProtoPNetClassifier",
                       "params": {"num_classes": 3, "num_proto_per_class": 2}},
        "similarity": {"name": "ProtoPNetSimilarity"},
        "top_arch": {"module": "cabrnet.archs.protopnet.model", "name": "ProtoPNet"},
    }
    (tmp_path / "model.yml").write_text(yaml.safe_dump(config))
    torch.manual_seed(3)
    ref = CaBRNet.build_from_config(str(tmp_path / "model.yml")).eval()
    torch.save(ref.state_dict(), tmp_path / "state.pth")
    out = tmp_path / "proto.prpkit"
    rc, _, err = run(["convert", "--cabrnet-config", tmp_path / "model.yml", "--checkpoint", tmp_path / "state.pth",
                      "--input-shape", "3,64,64", "--out", out, "--mean", "0.5", "--std", "0.25", "--quiet"], capsys)
    assert rc == 0, err
    meta = json.loads((tmp_path / "proto.json").read_text())
    assert meta["prototype_class"] == [0, 0, 1, 1, 2, 2] and meta["mean"] == [0.5] and meta["std"] == [0.25]
    x = torch.randn(1, 3, 64, 64)
    logits, _ = prpkit.load(out)(x.numpy())
    np.testing.assert_allclose(logits, ref(x)[0].detach().numpy(), rtol=1e-4, atol=1e-4)
    np.save(tmp_path / "x.npy", x.numpy())
    rc, _, err = run(["explain", tmp_path / "x.npy", "--model", out, "--predicted-class", "--out",
                      tmp_path / "ex", "--quiet"], capsys)
    assert rc == 0, err
    recs = read_records(tmp_path / "ex")
    assert len(recs) == 2 and all(r["prototype_class"] == r["predicted_class"] for r in recs)
    assert np.load(tmp_path / "ex" / recs[0]["relevance"]).shape == (3, 64, 64)
