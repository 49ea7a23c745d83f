"""The HTML report in a real browser: headless Chromium (Debian's `chromium`, installed by
scripts/setup.sh) opens the pages of `explain --report` and `evaluate --report`; after
loading, the page's own count of pictures that decoded must equal the number it holds (no
broken link), a page with one picture removed must report one fewer (the check can fail),
and a screenshot is taken. Every browser call is bounded (60 s). With PRPKIT_DOC_IMAGES
set to a folder, the screenshot is kept there (the README's picture)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from prpkit import cli  # noqa: E402

SAMPLES = sorted(os.path.join(cli.BUNDLED_SAMPLES, f) for f in os.listdir(cli.BUNDLED_SAMPLES))
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium on PATH (scripts/setup.sh installs it)")
STATUS = re.compile(r'id="status"[^>]*data-loaded="(\d+)"[^>]*data-total="(\d+)"|'
                    r'id="status"[^>]*data-total="(\d+)"[^>]*data-loaded="(\d+)"')


def _chromium(*args: str, profile) -> subprocess.CompletedProcess:
    # --no-sandbox: CI runs as root; a fresh profile per call: no state between runs
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--allow-file-access-from-files", f"--user-data-dir={profile}",
           "--virtual-time-budget=10000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def _loaded(page, tmp_path) -> tuple[int, int]:
    res = _chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile-dom")
    m = STATUS.search(res.stdout)
    assert m, f"no image count in the page Chromium rendered (rc {res.returncode}): {res.stderr[-2000:]}"
    g = m.groups()
    return (int(g[0]), int(g[1])) if g[0] is not None else (int(g[3]), int(g[2]))


def _screenshot(page, path, tmp_path, size="1280,900") -> None:
    _chromium(f"--screenshot={path}", f"--window-size={size}", "--hide-scrollbars", page.as_uri(),
              profile=tmp_path / "profile-shot")
    im = Image.open(path).convert("RGB")
    assert im.size == tuple(int(v) for v in size.split(","))
    colours = np.unique(np.asarray(im.resize((64, 48))).reshape(-1, 3), axis=0)
    assert len(colours) > 20  # drawn: not a blank page


def test_explain_report_in_chromium(tmp_path):
    out = tmp_path / "run"
    assert cli.main(["explain", *SAMPLES[:4], "--out", str(out), "--top-k", "3", "--panels", "--report",
                     "--quiet"]) == 0
    page = out / "report" / "index.html"
    assert _loaded(page, tmp_path) == (12, 12)
    shot = tmp_path / "report.png"
    _screenshot(page, shot, tmp_path)
    if os.environ.get("PRPKIT_DOC_IMAGES"):
        shutil.copyfile(shot, os.path.join(os.environ["PRPKIT_DOC_IMAGES"], "report_explain.png"))
    # one broken link: the page says so
    first = json.loads(open(out / "records.jsonl").readline())
    os.remove(out / first["heatmap"])
    loaded, total = _loaded(page, tmp_path)
    assert total == 12 and loaded == 11


def test_evaluate_report_in_chromium(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "eval" / "deletion.jsonl"
    out.parent.mkdir()
    assert cli.main(["evaluate", *SAMPLES[:2], "--metric", "deletion", "--steps", "8", "--out", str(out),
                     "--report", "--quiet"]) == 0
    page = tmp_path / "eval" / "report" / "index.html"
    assert _loaded(page, tmp_path) == (7, 7)  # the mean curve + one curve per record (2 images × 3)
    _screenshot(page, tmp_path / "evaluate.png", tmp_path)
