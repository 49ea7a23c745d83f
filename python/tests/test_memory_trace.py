"""PRPKIT_MEMORY_TRACE: the library's own account of where a process's memory goes
(bench/memory_and_reuse.py --trace prints it for the benchmark model). With the variable
set, each phase of a PRP heatmap writes one line to standard error; without it, nothing.
Runs on the bundled model in a fresh interpreter (no torch needed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux)")

SCRIPT = """
import numpy as np, prpkit
from prpkit.cli.model import BUNDLED_MODEL
m = prpkit.load(BUNDLED_MODEL)
x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
h = prpkit.prp_batch(m, x, [1], location="max")
print(h.shape)
"""

LINE = re.compile(r"^prpkit-mem (?P<label>.+): rss (?P<rss>[\d.]+) MB, peak (?P<peak>[\d.]+) MB, file (?P<file>[\d.]+) MB, "
                  r"pool live (?P<live>[\d.]+) idle (?P<idle>[\d.]+) MB, packed weights (?P<packed>[\d.]+) MB, pool mapped (?P<mapped>[\d.]+) MB$")


def run(trace: bool, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PRPKIT_MEMORY_TRACE"}
    if trace:
        env["PRPKIT_MEMORY_TRACE"] = "1"
    # Outside python/, where `import prpkit` would find the unbuilt source package.
    return subprocess.run([sys.executable, "-c", SCRIPT], check=True, capture_output=True, text=True, env=env, cwd=cwd)


def test_trace_lines_by_phase(tmp_path):
    out = run(trace=True, cwd=tmp_path)
    lines = [line for line in out.stderr.splitlines() if line.startswith("prpkit-mem ")]
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), [line for line, p in zip(lines, parsed) if not p][:3]
    # "forward done" carries the forward state's parts: "forward done (state: activations 1.2, … MB)".
    labels = [p["label"].split(" (state: ")[0] for p in parsed]
    state = next(p["label"] for p in parsed if p["label"].startswith("forward done (state: "))
    assert "activations" in state and "denominators" in state, state
    for phase in ["composite built", "explainer ready", "forward done"]:
        assert phase in labels, phase
    assert any(label.startswith("backward ") for label in labels)
    assert labels.index("composite built") < labels.index("forward done") < max(
        i for i, label in enumerate(labels) if label.startswith("backward "))
    # Numbers a live process has: a resident set of at least the interpreter, a peak at
    # least the current value, packed weights once the forward ran.
    for p in parsed:
        assert 5 < float(p["rss"]) <= float(p["peak"]) + 0.01
    done = parsed[labels.index("forward done")]
    assert float(done["packed"]) > 0 and float(done["live"]) > 0


def test_no_trace_without_the_variable(tmp_path):
    out = run(trace=False, cwd=tmp_path)
    assert "prpkit-mem" not in out.stderr
