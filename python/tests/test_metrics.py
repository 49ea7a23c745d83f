"""prpkit.metrics (native pointing game, deletion / insertion) against straightforward NumPy
implementations written here, CaBRNet's own pointing-game functions, the model's own
forward for every curve point, and `prpkit evaluate` end to end on the bundled model."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import prpkit
from prpkit import cli, metrics
from prpkit.prp_utils import get_cabrnet_lrp_composite_model

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

SAMPLES = sorted(os.path.join(cli.BUNDLED_SAMPLES, f) for f in os.listdir(cli.BUNDLED_SAMPLES))
META = json.load(open(os.path.join(cli.DATA_DIR, "digits_protopnet.json")))
MEAN = np.asarray(META["mean"], np.float32)[:, None, None]
STD = np.asarray(META["std"], np.float32)[:, None, None]


# ---------------------------------------------------------------- NumPy references

def np_energy(attr, seg):
    seg = seg.sum(-1) if seg.ndim == 3 else seg
    total = attr.astype(np.float64).sum()
    return 0.0 if total == 0 else float((attr.astype(np.float64) * (seg > 0)).sum() / total)


def np_mask_relevance(attr, seg, a):
    seg = seg.sum(-1) if seg.ndim == 3 else seg
    flat = np.sort(attr.reshape(-1))
    idx = int(len(flat) * (1 - a))
    if idx >= len(flat):
        return 0.0
    sel = attr > flat[idx]
    return 0.0 if sel.sum() == 0 else float(((seg > 0) & sel).sum() / sel.sum())


def np_perturbed(image, rel, steps, baseline, mode):
    c, h, w = image.shape
    order = np.argsort(-rel.reshape(-1), kind="stable")
    out = []
    for k in range(steps + 1):
        n = k * h * w // steps
        sel = np.zeros(h * w, bool)
        sel[order[:n]] = True
        sel = sel.reshape(h, w)[None]
        out.append(np.where(sel, baseline, image) if mode == "deletion" else np.where(sel, image, baseline))
    fr = np.array([k * h * w // steps / (h * w) for k in range(steps + 1)])
    return np.stack(out).astype(np.float32), fr


def np_trapezoid(y, x):
    y, x = np.asarray(y, np.float64), np.asarray(x, np.float64)
    return np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2)


def np_blur(image, sigma):
    ndimage = pytest.importorskip("scipy.ndimage")
    return np.stack([ndimage.gaussian_filter(ch, sigma, mode="reflect", truncate=4.0) for ch in image])


# ---------------------------------------------------------------- pointing game

@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("a", [0.0, 0.05, 0.1, 0.5, 1.0])
def test_pointing_game_matches_numpy(seed, a):
    rng = np.random.default_rng(seed)
    r = rng.random((5, 17, 13)).astype(np.float32)
    r[0, :3] = 0.5  # ties
    m = (rng.random((5, 17, 13)) > 0.6).astype(np.float32)
    e, mr = metrics.pointing_game(r, m, a)
    for i in range(5):
        assert e[i] == pytest.approx(np_energy(r[i], m[i]), rel=1e-6, abs=1e-7)
        assert mr[i] == pytest.approx(np_mask_relevance(r[i], m[i], a), abs=1e-7)


def test_pointing_game_single_map_colour_mask_and_signs():
    rng = np.random.default_rng(7)
    r = rng.standard_normal((9, 11)).astype(np.float32)
    seg = (rng.random((9, 11, 3)) > 0.7).astype(np.uint8) * 255
    e, mr = metrics.pointing_game(r, seg, 0.2)
    assert isinstance(e, float)
    assert e == pytest.approx(np_energy(r, seg), rel=1e-5)
    assert mr == pytest.approx(np_mask_relevance(r, seg, 0.2), abs=1e-7)
    e2, _ = metrics.pointing_game(r, seg, 0.2, positive_only=True)
    assert e2 == pytest.approx(np_energy(np.maximum(r, 0), seg), rel=1e-5)
    assert metrics.pointing_game(np.zeros((4, 4), np.float32), np.ones((4, 4)), 0.1) == (0.0, 0.0)
    with pytest.raises(ValueError):
        metrics.pointing_game(r, np.ones((3, 3)), 0.1)
    with pytest.raises(ValueError):
        metrics.pointing_game(r, seg, 1.5)


def test_pointing_game_equals_cabrnet():
    # CaBRNet's own two functions, taken from its source (importing the module needs pandas)
    import ast
    import importlib.util
    import types
    spec = importlib.util.find_spec("cabrnet")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("cabrnet is not installed")
    src_path = os.path.join(spec.submodule_search_locations[0], "core", "evaluation", "relevance_analysis.py")
    tree = ast.parse(open(src_path).read())
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)
             and n.name in ("pg_mask_relevance", "pg_energy_relevance")]
    assert len(funcs) == 2
    ra = types.SimpleNamespace()
    ns = {"np": np}
    exec(compile(ast.Module(body=funcs, type_ignores=[]), src_path, "exec"), ns)
    ra.pg_energy_relevance, ra.pg_mask_relevance = ns["pg_energy_relevance"], ns["pg_mask_relevance"]
    rng = np.random.default_rng(3)
    for _ in range(5):
        r = rng.random((32, 32)).astype(np.float32)
        seg = (rng.random((32, 32, 3)) > 0.5).astype(np.uint8)
        e, mr = metrics.pointing_game(r, seg, 0.1)
        assert e == pytest.approx(ra.pg_energy_relevance(r, seg), rel=1e-5)
        assert mr == pytest.approx(ra.pg_mask_relevance(r, seg, 0.1), abs=1e-7)


# ---------------------------------------------------------------- deletion / insertion

@pytest.fixture(scope="module")
def model():
    return prpkit.load(cli.BUNDLED_MODEL)


@pytest.fixture(scope="module")
def composite(model):
    return get_cabrnet_lrp_composite_model(model)


def load_png(path):
    a = np.asarray(Image.open(path).convert("RGB")).astype(np.float32) / 255.0
    return np.ascontiguousarray((a.transpose(2, 0, 1) - MEAN) / STD, dtype=np.float32)


@pytest.mark.parametrize("mode,baseline", [("deletion", "zero"), ("insertion", "blur"), ("deletion", "array"),
                                           ("insertion", "zero")])
def test_curves_equal_the_models_own_forward(model, composite, mode, baseline):
    x = load_png(SAMPLES[2])
    rng = np.random.default_rng(1)
    rel = rng.random((32, 32)).astype(np.float32)
    rel[:4, :4] = 0.25  # ties
    steps = 10
    if baseline == "zero":
        base, arg = np.zeros_like(x), "zero"
    elif baseline == "blur":
        base, arg = np_blur(x, 3.0), "blur"
    else:
        base = arg = rng.standard_normal(x.shape).astype(np.float32)
    imgs, fr = np_perturbed(x, rel, steps, base, mode)
    # similarity target (p, h, w) on the composite's similarity map, one image at a time
    sim = np.asarray(composite(x[None]))[0]
    p = 5
    h, w = np.unravel_index(int(np.argmax(sim[p])), sim[p].shape)
    want = np.array([np.asarray(composite(im[None]))[0, p, h, w] for im in imgs])
    fn = metrics.deletion_curve if mode == "deletion" else metrics.insertion_curve
    scores, auc = fn(composite, x, rel, (p, h, w), steps=steps, baseline=arg, blur_sigma=3.0, batch_size=4)
    tol = 1e-4 * max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(scores, want, atol=tol, rtol=1e-4)
    assert auc == pytest.approx(float(np_trapezoid(want, fr)), abs=tol)
    # class target on the model's logits, with softmax
    logits = np.asarray(model(x[None])[0])
    cls = int(logits.argmax())
    out = [np.asarray(model(im[None])[0])[0] for im in imgs]
    want = np.array([np.exp(o[cls] - o.max()) / np.exp(o - o.max()).sum() for o in out])
    scores, auc = fn(model, x, rel, cls, steps=steps, baseline=arg, blur_sigma=3.0, softmax=True, batch_size=0)
    np.testing.assert_allclose(scores, want, atol=1e-5)
    assert auc == pytest.approx(float(np_trapezoid(want, fr)), abs=1e-5)


def test_batched_curves_equal_single_ones(composite):
    xs = np.stack([load_png(s) for s in SAMPLES[:3]])
    rng = np.random.default_rng(2)
    rel = rng.random((3, 32, 32)).astype(np.float32)
    targets = [(0, 1, 1), (4, 2, 0), (29, 0, 3)]
    s, a, f = metrics.perturbation_curves(composite, xs, rel, targets, mode="deletion", steps=7, batch_size=5)
    assert s.shape == (3, 8) and a.shape == (3,) and f.shape == (8,)
    np.testing.assert_allclose(f, [k * 1024 // 7 / 1024 for k in range(8)], atol=1e-7)
    for i in range(3):
        s1, a1 = metrics.deletion_curve(composite, xs[i], rel[i], targets[i], steps=7)
        np.testing.assert_allclose(s[i], s1, rtol=1e-5, atol=1e-6)
        assert a[i] == pytest.approx(a1, rel=1e-5, abs=1e-6)
    with pytest.raises(ValueError):
        metrics.deletion_curve(composite, xs[0], rel[0], (99, 0, 0), steps=4)
    with pytest.raises(ValueError):
        metrics.deletion_curve(composite, xs[0], rel[0, :5], (0, 0, 0), steps=4)


# ---------------------------------------------------------------- CLI end to end

def run(argv, capsys):
    rc = cli.main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def heatmap(composite, x, p):
    rel, sim = prpkit.prp_relevance(composite, x[None], [p], "max")
    return prpkit.post_process(rel[0, 0], img=cli._Size(32, 32), polarity="absolute",
                               gaussian_ksize=round(5.0 * 32 / 224.0, 3), normalize=True), sim[0, p]


def test_cli_pointing_with_mask_files(tmp_path, capsys, composite):
    masks = tmp_path / "masks"
    masks.mkdir()
    left = np.zeros((32, 32), np.uint8)
    left[:, :16] = 255
    Image.fromarray(left).save(masks / (os.path.splitext(os.path.basename(SAMPLES[0]))[0] + ".png"))
    top = np.zeros((32, 32), np.float32)
    top[:12] = 1
    np.save(masks / (os.path.splitext(os.path.basename(SAMPLES[1]))[0] + ".npy"), top)
    out = tmp_path / "r.jsonl"
    rc, _, err = run(["evaluate", SAMPLES[0], SAMPLES[1], "--metric", "pointing", "--masks", masks,
                      "--top-k", "2", "--area-percentage", "0.2", "--out", out, "--quiet"], capsys)
    assert rc == 0, err
    recs = [json.loads(line) for line in open(out)]
    assert len(recs) == 4
    for rec in recs:
        i = SAMPLES.index(rec["image"])
        heat, _ = heatmap(composite, load_png(rec["image"]), rec["prototype"])
        seg = left if i == 0 else top
        assert rec["energy_relevance"] == pytest.approx(np_energy(heat, seg), rel=1e-5)
        assert rec["mask_relevance"] == pytest.approx(np_mask_relevance(heat, seg, 0.2), abs=1e-7)
        assert rec["mask_area"] == pytest.approx(float((seg > 0).mean()))


def test_cli_pointing_threshold_and_deletion(tmp_path, capsys, composite):
    out = tmp_path / "p.jsonl"
    rc, _, err = run(["evaluate", SAMPLES[3], "--metric", "pointing", "--mask-threshold", "0.5",
                      "--prototypes", "0,9", "--out", out, "--quiet"], capsys)
    assert rc == 0, err
    recs = [json.loads(line) for line in open(out)]
    assert [r["prototype"] for r in recs] == [0, 9]
    pix = np.asarray(Image.open(SAMPLES[3]).convert("RGB")).astype(np.float32) / 255.0
    seg = pix.mean(-1) > 0.5
    for rec in recs:
        heat, _ = heatmap(composite, load_png(SAMPLES[3]), rec["prototype"])
        assert rec["energy_relevance"] == pytest.approx(np_energy(heat, seg), rel=1e-5)
    for metric in ("deletion", "insertion"):
        out = tmp_path / f"{metric}.jsonl"
        rc, _, err = run(["evaluate", SAMPLES[4], SAMPLES[5], "--metric", metric, "--steps", "8",
                          "--top-k", "1", "--out", out, "--quiet"], capsys)
        assert rc == 0, err
        recs = [json.loads(line) for line in open(out)]
        assert len(recs) == 2
        for rec in recs:
            x = load_png(rec["image"])
            heat, sim = heatmap(composite, x, rec["prototype"])
            p, h, w = rec["target_index"]
            assert (h, w) == np.unravel_index(int(np.argmax(sim)), sim.shape)
            fn = metrics.deletion_curve if metric == "deletion" else metrics.insertion_curve
            s, a = fn(composite, x, heat, (p, h, w), steps=8)
            assert len(rec["scores"]) == 9 and len(rec["fractions"]) == 9
            np.testing.assert_allclose(rec["scores"], s, rtol=1e-5, atol=1e-6)
            assert rec["auc"] == pytest.approx(a, rel=1e-5, abs=1e-6)
            if metric == "deletion":  # step 0 is the unperturbed image
                assert rec["scores"][0] == pytest.approx(rec["similarity"], rel=1e-4)
    # class target with softmax: the predicted class's probability
    out = tmp_path / "cls.jsonl"
    rc, _, err = run(["evaluate", SAMPLES[6], "--metric", "deletion", "--target", "class", "--softmax",
                      "--steps", "4", "--top-k", "1", "--out", out, "--quiet"], capsys)
    assert rc == 0, err
    rec = json.loads(open(out).readline())
    assert rec["target_index"] == [rec["predicted_class"]] and 0 < rec["scores"][0] <= 1


def test_cli_evaluate_bad_inputs(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    rc, _, err = run(["evaluate", SAMPLES[0], "--metric", "pointing", "--out", out], capsys)
    assert rc == 2 and "--masks" in err and not out.exists()
    empty = tmp_path / "m"
    empty.mkdir()
    rc, _, err = run(["evaluate", SAMPLES[0], "--metric", "pointing", "--masks", empty, "--out", out], capsys)
    assert rc == 2 and "no mask for" in err and not out.exists()
    rc, _, err = run(["evaluate", SAMPLES[0], "--metric", "deletion", "--steps", "0", "--out", out], capsys)
    assert rc == 2 and "--steps" in err and not out.exists()
    rc, _, err = run(["evaluate", tmp_path / "nope.png", "--metric", "deletion", "--out", out], capsys)
    assert rc == 2 and "nope.png" in err and not out.exists()
    rc, _, err = run(["evaluate", SAMPLES[0], "--metric", "deletion", "--softmax", "--out", out], capsys)
    assert rc == 2 and "--softmax" in err and not out.exists()
    assert err.count("\n") == 1
