"""`--report`: the HTML page of a run. Every picture and link it names exists (relative to
the page, no URL outside it), the table has one row per record with the records' numbers,
and for evaluate the curves are SVG files whose polylines are the records' scores."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

pytest.importorskip("PIL")

from prpkit import cli, viz  # noqa: E402

SAMPLES = sorted(os.path.join(cli.BUNDLED_SAMPLES, f) for f in os.listdir(cli.BUNDLED_SAMPLES))
SVG = "{http://www.w3.org/2000/svg}"


class Page(HTMLParser):
    """The page's pictures, links, scripts and table cells."""

    def __init__(self) -> None:
        super().__init__()
        self.imgs, self.links, self.scripts, self.rows, self.heads = [], [], [], [], []
        self._row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a["src"])
        elif tag == "a":
            self.links.append(a["href"])
        elif tag == "script":
            self.scripts.append(a.get("src"))
        elif tag == "tr":
            self._row = []
        elif tag == "td" and self._row is not None:
            self._row.append(a.get("data-v"))
        elif tag == "th":
            self.heads.append(None)

    def handle_endtag(self, tag):
        if tag == "tr" and self._row:
            self.rows.append(self._row)
        if tag == "tr":
            self._row = None


def _page(path):
    p = Page()
    p.feed(open(path, encoding="utf-8").read())
    return p


def _check_links(page, folder):
    for ref in page.imgs + page.links:
        assert "://" not in ref and not ref.startswith("/"), ref
        assert os.path.isfile(os.path.join(folder, ref)), ref
    assert page.scripts and all(s is None for s in page.scripts)  # inline only


def test_explain_report(tmp_path):
    out = tmp_path / "run"
    assert cli.main(["explain", *SAMPLES[:3], "--out", str(out), "--top-k", "2", "--panels", "--report",
                     "--quiet"]) == 0
    recs = [json.loads(line) for line in open(out / "records.jsonl")]
    page = _page(out / "report" / "index.html")
    _check_links(page, out / "report")
    assert len(page.rows) == len(recs) == 6
    assert sorted(page.imgs) == sorted("../" + r["heatmap"] for r in recs)
    assert sorted(page.links) == sorted("../" + r["panel"] for r in recs)
    for row, r in zip(page.rows, recs):
        assert row[2] == str(r["prototype"])
        assert float(row[5]) == pytest.approx(r["similarity"], rel=1e-3)
        assert float(row[8]) == pytest.approx(r["conservation_delta"], rel=1e-3, abs=1e-9)


@pytest.mark.parametrize("metric", ["deletion", "pointing"])
def test_evaluate_report(tmp_path, metric):
    torch = pytest.importorskip("torch")  # noqa: F841 - the perturbation metrics run the model
    out = tmp_path / "eval" / "r.jsonl"
    out.parent.mkdir()
    extra = ["--steps", "8"] if metric == "deletion" else ["--mask-threshold", "0.5"]
    assert cli.main(["evaluate", *SAMPLES[:2], "--metric", metric, "--out", str(out), "--report", "--quiet",
                     *extra]) == 0
    recs = [json.loads(line) for line in open(out)]
    folder = tmp_path / "eval" / "report"
    page = _page(folder / "index.html")
    _check_links(page, folder)
    assert len(page.rows) == len(recs) > 0
    text = open(folder / "index.html", encoding="utf-8").read()
    if metric == "pointing":
        m = np.mean([r["energy_relevance"] for r in recs])
        assert f"{m:.4g}" in text
        return
    m = np.mean([r["auc"] for r in recs])
    assert f"AUC {m:.4g}" in text
    for n, r in enumerate(recs):
        svg = ET.parse(folder / "curves" / f"{n:05d}.svg").getroot()
        pts = svg.find(f"{SVG}polyline").get("points").split()
        assert len(pts) == len(r["scores"]) == 9
    ET.parse(folder / "curves" / "mean.svg")


def test_curves_svg_geometry():
    s = viz.curves_svg([0, 0.5, 1], [("a", [1.0, 2.0, 3.0]), ("b", [3.0, 2.0, 1.0])], width=300, height=200)
    root = ET.fromstring(s)
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2
    a = [tuple(map(float, p.split(","))) for p in lines[0].get("points").split()]
    b = [tuple(map(float, p.split(","))) for p in lines[1].get("points").split()]
    assert a[0][0] < a[1][0] < a[2][0] and a[0][1] > a[1][1] > a[2][1]  # rising: y decreases on screen
    assert a[0][1] == b[2][1] and a[2][1] == b[0][1] and a[1] == b[1]  # mirror images, crossing mid-way
    assert a[1][0] - a[0][0] == pytest.approx(a[2][0] - a[1][0])
    with pytest.raises(ValueError, match="finite"):
        viz.curves_svg([0, 1], [("a", [0.0, float("nan")])])
    with pytest.raises(ValueError, match="two finite"):
        viz.curves_svg([0], [("a", [0.0])])
