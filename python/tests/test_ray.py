"""The Ray engine on a local cluster started here (2 CPUs): 40+ images give the records and
files of the single-process run byte for byte (explain and evaluate); a worker killed
mid-run (its process, by this test) is retried and the records are complete and unique;
`--resume` on Ray after a killed local run gives the same records. Each actor loads the
model once, from the object store. Skipped without Ray (the numpy-only wheel pass)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("PIL")

import prpkit.distributed as pd  # noqa: E402
from prpkit import cli  # noqa: E402
from run_inputs import folder_bytes, journaled, records, write_npz  # noqa: E402

pytestmark = pytest.mark.ray

N = 40
TOP_K = 2
OPTS = ["--top-k", str(TOP_K), "--no-timings", "--quiet"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # Ray's workers start in the driver's folder and put it first on sys.path: not python/,
    # whose prpkit has no built extension (CI runs pytest there)
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("ray-cluster"))
    try:
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    finally:
        os.chdir(here)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_npz(tmp_path_factory.mktemp("ray") / "images.npz", N, seed=1)


@pytest.fixture(scope="module")
def local_run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out"
    assert cli.main(["explain", data, "--out", str(out), *OPTS]) == 0
    return out


def test_ray_explain_equals_single_process(cluster, data, local_run, tmp_path):
    out = tmp_path / "ray"
    res = pd.explain([data], out, workers=2, top_k=TOP_K, batch_size=3, no_timings=True)
    assert res["records"] == N * TOP_K and res["duplicates_ignored"] == 0
    assert folder_bytes(out) == folder_bytes(local_run)
    st = res["ray"]
    assert st.workers == 2 and st.retried == 0 and st.shards == -(-N // 3)
    assert len(st.per_process) == 2
    assert sum(p["shards"] for p in st.per_process.values()) == st.shards  # both actors worked
    assert all(p["model_loads"] == 1 and p["model_from"] == "bytes" for p in st.per_process.values())


def test_ray_evaluate_equals_single_process(cluster, data, tmp_path):
    opts = {"steps": 4, "top_k": 1, "no_timings": True}
    local = tmp_path / "local.jsonl"
    assert cli.main(["evaluate", data, "--metric", "deletion", "--out", str(local), "--steps", "4", "--top-k", "1",
                     "--no-timings", "--quiet"]) == 0
    res = pd.evaluate([data], tmp_path / "ray.jsonl", "deletion", workers=2, batch_size=4, **opts)
    assert res["records"] == N
    assert (tmp_path / "ray.jsonl").read_bytes() == local.read_bytes()


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _worker_pids() -> list[int]:
    """This test's cluster's actor processes (Ray titles them ray::PRPKitWorker…)."""
    pids = []
    for p in _descendants(os.getpid()):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if f.read().startswith(b"ray::PRPKitWorker"):
                    pids.append(p)
        except OSError:
            pass
    return pids


def test_killed_worker_is_retried_without_lost_or_duplicate_records(cluster, data, local_run, tmp_path):
    out = tmp_path / "ray"
    result: dict = {}

    def run():
        try:
            result["res"] = pd.explain([data], out, workers=2, top_k=TOP_K, batch_size=2, no_timings=True)
        except BaseException as e:  # noqa: BLE001 - reported below
            result["error"] = e

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 120
    while journaled(out) < 4 and t.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    pids = _worker_pids()
    assert len(pids) == 2, pids
    os.kill(pids[0], signal.SIGKILL)
    killed_at = journaled(out)
    t.join(timeout=150)
    assert not t.is_alive()
    assert "error" not in result, result.get("error")
    assert killed_at < N, "the kill must land mid-run"
    res = result["res"]
    st = res["ray"]
    assert st.retried >= 1  # the killed actor's shards were computed again
    assert pids[0] not in st.per_process and len(st.per_process) == 2  # it restarted as a new process
    recs = records(out / "records.jsonl")
    pairs = [(r["index"], r["prototype"]) for r in recs]
    assert len(pairs) == len(set(pairs)) == N * TOP_K
    assert sorted({i for i, _ in pairs}) == list(range(N))
    assert folder_bytes(out) == folder_bytes(local_run)


def test_resume_on_ray_after_a_killed_local_run(cluster, data, local_run, tmp_path):
    """The local run killed by SIGKILL mid-run, then `prpkit explain … --resume --ray ADDRESS`
    (a second process, connecting to this test's cluster) finishes it."""
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "prpkit", "explain", data, "--out", str(out), *OPTS, "--batch-size", "2"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while journaled(out) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.kill()
    proc.communicate(timeout=60)
    done = journaled(out)
    assert proc.returncode == -9 and 3 <= done < N
    r = subprocess.run(argv + ["--resume", f"--ray={cluster}", "--ray-workers", "2"], capture_output=True,
                       text=True, timeout=170, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert folder_bytes(out) == folder_bytes(local_run)


def test_a_worker_that_cannot_start_stops_the_run_with_its_error(cluster, tmp_path):
    """A constructor that raises (here: bytes that are no model file) is not restarted in a
    loop: the run stops at once with the worker's error."""
    from prpkit.cli.explain_work import ExplainWork
    from prpkit.cli.inputs import Item
    from prpkit.cli.stream import RecordStream
    from prpkit.cli.work import RunModel
    stream = RecordStream(str(tmp_path / "records.jsonl"), str(tmp_path), {}, ["x"])
    stream.open(False)
    t0 = time.monotonic()
    with pytest.raises(cli.CLIError, match="a Ray worker could not start .*InvalidModelError"):
        pd.run_on_ray(ExplainWork({}, RunModel(b"not a model file", (-1.0, 1.0))), [Item("x.npy", 0, "x")],
                      stream, batch_size=1, workers=1)
    assert time.monotonic() - t0 < 20
    stream.close()
