"""Memory behaviour visible from Python: model files are memory-mapped (loading costs no
memory for the weights until they are used), and replacing a loaded model file on disk —
with prpkit's own writers — leaves the loaded model intact.

RSS is read from /proc/self/status in a fresh interpreter (Linux); the bounds leave wide
margins around sizes that differ by tens of megabytes, so they cannot pass by accident.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the numpy-only pass skips this module

import prpkit  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux)")


def big_linear(path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4096, 4096), torch.nn.ReLU()).eval()  # 64 MB of weights
    prpkit.save(prpkit.from_torch(net, torch.zeros(1, 4096)), path)
    return net


def test_loading_maps_the_weights(tmp_path):
    path = str(tmp_path / "big.prpkit")
    net = big_linear(path)
    x = np.random.default_rng(0).standard_normal((1, 4096), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import numpy as np, prpkit
        def rss():
            return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) // 1024
        before = rss()
        m = prpkit.load({path!r})
        loaded = rss()
        y = m(np.load({str(tmp_path / "x.npy")!r}))
        used = rss()
        np.save({str(tmp_path / "y.npy")!r}, y)
        print(before, loaded, used)
    """)
    run = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, cwd=tmp_path)
    before, loaded, used = map(int, run.stdout.split())
    assert loaded - before < 16, f"loading a 64 MB model grew RSS by {loaded - before} MB"
    assert used - before > 48, f"the forward pass reads the weights: RSS grew by only {used - before} MB"
    with torch.no_grad():
        np.testing.assert_allclose(np.load(tmp_path / "y.npy"), net(torch.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-5)


def test_replacing_a_loaded_model_file_keeps_the_loaded_model(tmp_path):
    path = str(tmp_path / "m.prpkit")
    net = big_linear(path)
    loaded = prpkit.load(path)
    x = np.random.default_rng(1).standard_normal((2, 4096), dtype=np.float32)
    expected = loaded(x).copy()
    other = torch.nn.Sequential(torch.nn.Linear(4096, 16), torch.nn.ReLU()).eval()
    prpkit.save(prpkit.from_torch(other, torch.zeros(1, 4096)), path)  # library writer
    np.testing.assert_array_equal(loaded(x), expected)
    from prpkit._export import graph_from_torch, save_model
    graph, params = graph_from_torch(other, torch.zeros(1, 4096))
    save_model(path, graph, params)  # the Python writer
    np.testing.assert_array_equal(loaded(x), expected)
    assert prpkit.load(path)(x).shape == (2, 16)
    assert not [f for f in os.listdir(tmp_path) if ".tmp-" in f], "no temporary file left behind"
    del net
