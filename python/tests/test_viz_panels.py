""""This looks like that" panels: prpkit.viz.panel's layout, the bundled model's prototype
sources (each is the training patch its prototype was projected onto), and `prpkit explain
--panels` end to end — its PNG equals the panel rebuilt here from independently computed
views (PRP of the prototype at its projected location on its source image), byte for byte."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")

import prpkit  # noqa: E402
from prpkit import cli, viz  # noqa: E402
from prpkit.prp_utils import get_cabrnet_lrp_composite_model  # noqa: E402

META = json.load(open(os.path.join(cli.DATA_DIR, "digits_protopnet.json")))
MEAN = np.asarray(META["mean"], np.float32)[:, None, None]
STD = np.asarray(META["std"], np.float32)[:, None, None]
SIGMA = round(5.0 * 32 / 224.0, 3)  # the CLI's default blur for 32×32 inputs


class Size:
    width, height = 256, 256


def _x(path):
    a = np.asarray(Image.open(path).convert("RGB"), np.float32).transpose(2, 0, 1) / 255.0
    return np.ascontiguousarray(((a - MEAN) / STD)[None], dtype=np.float32), a.transpose(1, 2, 0)


@pytest.fixture(scope="module")
def composite():
    return get_cabrnet_lrp_composite_model(prpkit.load(cli.BUNDLED_MODEL))


def _view(show, heat):
    boxed = viz.bbox_to_percentile(viz.overlay(show, heat, "jet", 0.7), heat, 0.7, thickness=2)
    return viz.as_rgb(boxed)


def _heat(composite, x, p, loc):
    rel, sim = prpkit.prp_relevance(composite, x, [p], loc)
    return prpkit.post_process(rel[0, 0], img=Size, polarity="absolute", gaussian_ksize=SIGMA, normalize=True), sim


def test_panel_layout():
    a = np.zeros((40, 30, 3), np.uint8) + np.uint8([10, 200, 30])  # colours no gray text can make
    b = np.zeros((20, 15, 3), np.uint8) + np.uint8([200, 30, 10])  # upscaled to the image view's size
    out = viz.panel([(a, b, ["prototype 1", "similarity 2.0"]), (a, None, ["prototype 2"])], title="t",
                    font_size=11, padding=4)
    assert out.dtype == np.uint8 and out.ndim == 3
    # each view appears whole, in order: find the dark 40×30 blocks and the bright one
    dark = (out == [10, 200, 30]).all(axis=2)
    assert dark.sum() == 2 * 40 * 30
    assert (out == [200, 30, 10]).all(axis=2).sum() == 40 * 30
    ys = np.flatnonzero(dark.any(axis=1))
    assert ys[-1] - ys[0] + 1 == 2 * 40 + 4  # two rows, padding between
    with pytest.raises(ValueError, match="no rows"):
        viz.panel([])
    with pytest.raises(ValueError, match="same size"):
        viz.panel([(a, None, []), (b, None, [])])


def test_bundled_prototype_sources_are_their_projections(composite):
    entries = META["projection"]
    assert sorted(e["proto_idx"] for e in entries) == list(range(30))
    for e in entries:
        x, _ = _x(os.path.join(cli.DATA_DIR, e["image"]))
        s = np.asarray(composite.similarities(x))[0, e["proto_idx"]]
        # the prototype is that patch's feature vector: its best match, at distance ~0
        # (log similarity log(1/1e-4) = 9.21 at distance 0; > 9 means distance < ~2e-5)
        assert np.unravel_index(int(s.argmax()), s.shape) == (e["h"], e["w"])
        assert s[e["h"], e["w"]] > 9.0
        assert META["prototype_class"][e["proto_idx"]] == int(os.path.basename(e["image"])[1:4]) // 3


def test_explain_panels_equal_rebuilt_panel(tmp_path, composite):
    sample = sorted(os.listdir(cli.BUNDLED_SAMPLES))[2]
    path = os.path.join(cli.BUNDLED_SAMPLES, sample)
    out = tmp_path / "run"
    assert cli.main(["explain", path, "--out", str(out), "--top-k", "2", "--panels", "--quiet"]) == 0
    recs = [json.loads(line) for line in open(out / "records.jsonl")]
    assert [r["panel"] for r in recs] == [sample[:-4] + "_panel.png"] * 2
    x, show = _x(path)
    by_proto = {e["proto_idx"]: e for e in META["projection"]}
    rows = []
    for r in recs:
        p = r["prototype"]
        heat, sim = _heat(composite, x, p, "max")
        e = by_proto[p]
        xs, shows = _x(os.path.join(cli.DATA_DIR, e["image"]))
        sheat, _ = _heat(composite, xs, p, (e["h"], e["w"]))
        h, w = r["locations"][0]
        cap = [f"prototype {p}, class {META['class_names'][META['prototype_class'][p]]}",
               f"similarity {float(sim[0, p, h, w]):.3f}", f"at ({h}, {w})"]
        rows.append((_view(show, heat), _view(shows, sheat), cap))
    expected = viz.panel(rows, title=f"{sample}: predicted {recs[0]['predicted_label']}")
    got = np.asarray(Image.open(out / recs[0]["panel"]))
    assert got.shape == expected.shape and np.array_equal(got, expected)


def _model_copy(tmp_path, edit):
    d = tmp_path / "model"
    d.mkdir(parents=True)
    shutil.copy(cli.BUNDLED_MODEL, d / "m.prpkit")
    shutil.copytree(os.path.join(cli.DATA_DIR, "prototypes"), d / "prototypes")
    meta = json.loads(json.dumps(META))
    edit(meta)
    (d / "m.json").write_text(json.dumps(meta))
    return d / "m.prpkit"


def test_panels_without_sources_and_bad_metadata(tmp_path, capsys):
    sample = os.path.join(cli.BUNDLED_SAMPLES, sorted(os.listdir(cli.BUNDLED_SAMPLES))[0])
    no_images = _model_copy(tmp_path / "a", lambda m: [e.pop("image") for e in m["projection"]])
    out = tmp_path / "a" / "run"
    assert cli.main(["explain", sample, "--model", str(no_images), "--out", str(out), "--prototypes", "1",
                     "--panels", "--quiet"]) == 0
    panel = np.asarray(Image.open(out / json.loads(open(out / "records.jsonl").readline())["panel"]))
    assert ((panel == 235).all(axis=2)).sum() > 200 * 200  # the empty "no source image" cell
    cases = {
        "does not exist": lambda m: m["projection"][1].update(image="prototypes/nope.png"),
        "outside the 8×8 similarity map": lambda m: m["projection"][1].update(h=8),
        "needs proto_idx, h, w and image": lambda m: m["projection"][1].pop("w"),
        "the model has 30": lambda m: m["projection"][1].update(proto_idx=30),
    }
    for k, (message, edit) in enumerate(cases.items()):
        model = _model_copy(tmp_path / f"b{k}", edit)
        assert cli.main(["explain", sample, "--model", str(model), "--out", str(tmp_path / f"b{k}" / "run"),
                         "--panels", "--quiet"]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / f"b{k}" / "run").exists()


def test_convert_takes_cabrnet_projection_info_then_panels(tmp_path, capsys):
    # CaBRNet's own project() on an ImageFolder, saved in CaBRNet's CSV layout (that of
    # cabrnet.core.utils.save.save_projection_info: csv.DictWriter, the header from the first
    # entry's keys; the module itself needs pandas); prpkit convert names each prototype's
    # source file, and explain --panels shows it.
    torch = pytest.importorskip("torch")
    pytest.importorskip("cabrnet")
    yaml = pytest.importorskip("yaml")
    tv = pytest.importorskip("torchvision")
    from cabrnet.archs.generic.model import CaBRNet
    import csv
    from loguru import logger
    logger.remove()
    config = {
        "extractor": {"backbone": {"arch": "resnet18", "weights": "None", "layer": "layer2"},
                      "add_on": {"conv1": {"type": "Conv2d", "params": {"out_channels": 16, "kernel_size": 1}},
                                 "sigmoid1": {"type": "Sigmoid"}}},
        "classifier": {"module": "cabrnet.archs.protopnet.decision", "name": "ProtoPNetClassifier",
                       "params": {"num_classes": 2, "num_proto_per_class": 2}},
        "similarity": {"name": "ProtoPNetSimilarity"},
        "top_arch": {"module": "cabrnet.archs.protopnet.model", "name": "ProtoPNet"},
    }
    (tmp_path / "model.yml").write_text(yaml.safe_dump(config))
    rng = np.random.default_rng(5)
    for c in ("a", "b"):
        (tmp_path / "train" / c).mkdir(parents=True)
        for k in range(3):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "train" / c / f"{k}.png")
    torch.manual_seed(4)
    model = CaBRNet.build_from_config(str(tmp_path / "model.yml")).eval()
    tf = tv.transforms.Compose([tv.transforms.ToTensor(), tv.transforms.Normalize([0.5] * 3, [0.25] * 3)])
    data = tv.datasets.ImageFolder(str(tmp_path / "train"), transform=tf)
    info = model.project(torch.utils.data.DataLoader(data, batch_size=4, shuffle=False), device="cpu")
    with open(tmp_path / "projection_info.csv", "w") as f:
        writer = csv.DictWriter(f, fieldnames=list(info[0].keys()))
        writer.writeheader()
        for row in info:
            writer.writerow(row)
    torch.save(model.state_dict(), tmp_path / "state.pth")
    out = tmp_path / "models" / "proto.prpkit"
    out.parent.mkdir()
    assert cli.main(["convert", "--cabrnet-config", str(tmp_path / "model.yml"), "--checkpoint",
                     str(tmp_path / "state.pth"), "--input-shape", "3,32,32", "--out", str(out), "--mean", "0.5",
                     "--std", "0.25", "--projection-info", str(tmp_path / "projection_info.csv"),
                     "--projection-images", str(tmp_path / "train"), "--quiet"]) == 0
    meta = json.loads((tmp_path / "models" / "proto.json").read_text())
    assert len(meta["projection"]) == 4
    composite = get_cabrnet_lrp_composite_model(prpkit.load(str(out)))
    for e in meta["projection"]:
        src = os.path.normpath(os.path.join(tmp_path / "models", e["image"]))
        assert src == data.samples[e["img_idx"]][0]
        x = np.ascontiguousarray(data[e["img_idx"]][0].numpy()[None])
        s = np.asarray(composite.similarities(x))[0, e["proto_idx"]]
        assert np.unravel_index(int(s.argmax()), s.shape) == (e["h"], e["w"])  # the projected patch
    assert cli.main(["explain", str(data.samples[0][0]), "--model", str(out), "--out", str(tmp_path / "ex"),
                     "--top-k", "2", "--panels", "--quiet"]) == 0
    panel = np.asarray(Image.open(tmp_path / "ex" / "0_panel.png"))
    assert ((panel == 235).all(axis=2)).sum() < 2000  # every row has its source (no empty 256×256 cell)
    # bad inputs: one line, exit 2
    for extra, message in ((["--projection-images", str(tmp_path / "train")], "needs --projection-info"),
                           (["--projection-info", str(tmp_path / "nope.csv")], "unreadable projection"),
                           (["--projection-info", str(tmp_path / "p.pkl")], "pickled")):
        assert cli.main(["convert", "--cabrnet-config", str(tmp_path / "model.yml"), "--input-shape", "3,32,32",
                         "--out", str(tmp_path / "bad.prpkit"), "--quiet"] + extra) == 2
        assert message in capsys.readouterr().err
