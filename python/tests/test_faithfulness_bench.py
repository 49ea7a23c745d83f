"""bench/faithfulness.py: its statistics, and a short run on the bundled model (the full
table is the benchmark, not a test)."""

import importlib.util
import os

import numpy as np
import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "faithfulness.py")
if not os.path.exists(BENCH):  # an installed-package test run without the repository
    pytest.skip("bench/faithfulness.py is not next to these tests", allow_module_level=True)
spec = importlib.util.spec_from_file_location("faithfulness", BENCH)
faithfulness = importlib.util.module_from_spec(spec)
spec.loader.exec_module(faithfulness)


def test_clustered_se_with_singleton_clusters_is_the_ordinary_se():
    v = np.random.default_rng(0).normal(size=50)
    mean, se = faithfulness.clustered_mean(v, np.arange(50))
    assert mean == pytest.approx(v.mean())
    assert se == pytest.approx(v.std(ddof=1) / np.sqrt(50), rel=1e-12)


def test_clustered_se_counts_clusters_not_observations():
    """Copies of one observation inside its cluster add no information: the SE of k
    identical copies per cluster is the SE of the cluster values (G/(G−1) correction)."""
    g = np.random.default_rng(1).normal(size=20)
    _, se1 = faithfulness.clustered_mean(g, np.arange(20))
    _, se3 = faithfulness.clustered_mean(np.repeat(g, 3), np.repeat(np.arange(20), 3))
    assert se3 == pytest.approx(se1, rel=1e-12)


def test_paired_difference_and_share():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.0, 1.0, 5.0])
    p = faithfulness.paired(a, b, np.arange(4), lower_is_better=True)
    assert p["delta"] == pytest.approx(0.0)
    assert p["share_better"] == pytest.approx((2 + 0.5) / 4)  # two better, one tie
    assert p["se"] == pytest.approx(np.std(a - b, ddof=1) / 2)


def test_border_mass():
    heat = np.zeros((2, 8, 8), np.float32)
    heat[0, 0, 0] = 1            # all in the border
    heat[1] = 1                  # uniform: the outer ring of an 8×8 map is 28 of 64 pixels
    m = faithfulness.border_mass(heat, 1)
    assert m[0] == 1 and m[1] == pytest.approx(28 / 64)


def test_short_run_on_the_bundled_model(capsys):
    assert faithfulness.main(["--limit", "2", "--steps", "4", "--top-k", "2"]) == 0
    out = capsys.readouterr().out
    for name in (faithfulness.CABRNET, faithfulness.CORRECTED, faithfulness.GRADIENT, faithfulness.RANDOM):
        assert f"| {name} |" in out
    assert "4 pairs (2 images)" in out


def test_methods_selects_by_full_name(capsys):
    """The method names hold commas: --methods separates them by ';'; an unknown name is an error."""
    assert faithfulness.main(["--limit", "1", "--steps", "2", "--top-k", "1",
                              "--methods", f"{faithfulness.CORRECTED}; {faithfulness.RANDOM}"]) == 0
    out = capsys.readouterr().out
    assert f"| {faithfulness.CORRECTED} |" in out and f"| {faithfulness.RANDOM} |" in out
    assert f"| {faithfulness.CABRNET} |" not in out
    with pytest.raises(SystemExit):
        faithfulness.main(["--limit", "1", "--methods", "PRP"])
