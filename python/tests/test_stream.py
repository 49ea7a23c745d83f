"""Streaming, resumable runs of `prpkit explain` / `evaluate`: records identical whatever the
batch size; a real subprocess killed mid-run (SIGINT, SIGTERM, SIGKILL) leaves nothing a
resume trusts half-written, and --resume then gives the uninterrupted run's records and
files byte for byte; torn tails and changed options are caught; the input forms (globs,
text and CSV lists with labels, .npz batches with labels)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from prpkit import cli

pytest.importorskip("PIL")

from run_inputs import folder_bytes, journaled, records, without_timings, write_npz  # noqa: E402

N_KILL = 30          # images of the interrupted runs (one heatmap each: ≈ 2-5 s on this machine)
EXPLAIN = ["--top-k", "1", "--no-timings", "--quiet"]


def explain(argv) -> int:
    return cli.main(["explain", *map(str, argv)])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    return write_npz(d / "batch.npz", N_KILL)


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """The uninterrupted run: records.jsonl and every file."""
    out = tmp_path_factory.mktemp("ref") / "out"
    assert explain([data, "--out", out, *EXPLAIN, "--batch-size", "4"]) == 0
    return out


def test_batch_size_does_not_change_a_byte(data, reference, tmp_path):
    """Images batched into one forward and one PRP call give exactly the numbers of one at a
    time (the kernels' reductions never depend on the batch), in the same order."""
    one = tmp_path / "one"
    assert explain([data, "--out", one, *EXPLAIN, "--batch-size", "1"]) == 0
    assert folder_bytes(one) == folder_bytes(reference)
    recs = records(one / "records.jsonl")
    assert [r["index"] for r in recs] == list(range(N_KILL))  # input order


def _run_and_kill(argv, out, sig, after: int) -> tuple[int, int]:
    """Starts `prpkit explain` in a subprocess, sends ``sig`` once ``after`` images are
    journaled; returns (exit status, images journaled at the kill)."""
    proc = subprocess.Popen([sys.executable, "-m", "prpkit", "explain", *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(out))  # not python/, whose prpkit has no built extension
    deadline = time.monotonic() + 120
    while journaled(out) < after and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    done = journaled(out)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, done, err


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGKILL, -9)])
def test_killed_run_resumes_to_the_same_bytes(sig, status, data, reference, tmp_path):
    out = tmp_path / "out"
    argv = [data, "--out", out, "--top-k", "1", "--no-timings", "--batch-size", "2"]
    rc, done, err = _run_and_kill(argv, out, sig, after=3)
    assert rc == status, err
    assert 3 <= done < N_KILL, "the signal must land mid-run"
    if sig != signal.SIGKILL:
        assert "--resume" in err and "interrupted" in err, err
    # nothing at a final name is half written: the files present match the reference's bytes
    ref = folder_bytes(reference)
    for name, data_bytes in folder_bytes(out).items():
        if name != "records.jsonl":
            assert data_bytes == ref[name], name
    # the records file is a prefix of the reference's (SIGKILL may cut its last line)
    assert ref["records.jsonl"].startswith((out / "records.jsonl").read_bytes().rsplit(b"\n", 1)[0])
    assert explain([data, "--out", out, "--resume", *EXPLAIN, "--batch-size", "3"]) == 0
    assert folder_bytes(out) == ref
    assert not [f for f in os.listdir(out) if ".prpkit-tmp-" in f]


def test_resume_with_timings_keeps_the_numbers(data, reference, tmp_path):
    """With timings (the default), the only field that differs is timings_ms."""
    out = tmp_path / "out"
    rc, _, err = _run_and_kill([data, "--out", out, "--top-k", "1"], out, signal.SIGTERM, after=2)
    assert rc == 143, err
    assert explain([data, "--out", out, "--resume", "--top-k", "1", "--quiet"]) == 0
    recs = records(out / "records.jsonl")
    assert all("timings_ms" in r for r in recs)
    assert without_timings(recs) == records(reference / "records.jsonl")


def test_resume_distrusts_torn_tails(data, reference, tmp_path, capsys):
    """A half record line, a half journal line, a truncated PNG or .npy of a journaled
    image: the resume drops them (and everything after) and redoes those images."""
    out = tmp_path / "out"
    assert explain([data, "--out", out, *EXPLAIN]) == 0
    journal = out / ".records.jsonl.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    entries = [json.loads(line) for line in lines[1:]]
    # image 20: its picture torn; image 25: its relevance torn; a half line after image 27
    png = out / entries[20]["files"][0][0]
    png.write_bytes(png.read_bytes()[:100])
    npy = out / entries[25]["files"][1][0]
    npy.write_bytes(npy.read_bytes()[:-8])
    journal.write_bytes(b"".join(lines[:1 + 28]) + lines[29][:20])
    with open(out / "records.jsonl", "r+b") as f:
        f.truncate(entries[27]["end"])
        f.seek(0, 2)
        f.write(b'{"image": "batch.npz", "index": 28, "proto')
    (out / f".{png.name}.prpkit-tmp-12345").write_bytes(b"a picture cut by a kill")  # a stale temporary
    assert explain([data, "--out", out, "--resume", *EXPLAIN]) == 0
    assert folder_bytes(out) == folder_bytes(reference)
    assert not [f for f in os.listdir(out) if ".prpkit-tmp-" in f]
    # and a resume of a complete run computes nothing and changes nothing
    before = (out / "records.jsonl").stat().st_mtime_ns
    assert explain([data, "--out", out, "--resume", "--top-k", "1", "--no-timings"]) == 0
    assert f"({N_KILL} already complete)" in capsys.readouterr().out
    assert (out / "records.jsonl").stat().st_mtime_ns == before


def test_resume_refuses_other_options_or_inputs(data, reference, tmp_path, capsys):
    out = tmp_path / "out"
    assert explain([data, "--out", out, *EXPLAIN]) == 0
    capsys.readouterr()
    assert explain([data, "--out", out, "--resume", "--top-k", "2", "--no-timings", "--quiet"]) == 2
    assert "top_k differ from the run being resumed" in capsys.readouterr().err
    other = write_npz(tmp_path / "other.npz", 5)
    assert explain([other, "--out", out, "--resume", *EXPLAIN]) == 2
    assert "the inputs are not those of the run being resumed" in capsys.readouterr().err
    # another batch size is the same run
    assert explain([data, "--out", out, "--resume", *EXPLAIN, "--batch-size", "5"]) == 0


def test_evaluate_killed_and_resumed(data, tmp_path):
    argv = [data, "--metric", "deletion", "--steps", "4", "--top-k", "1", "--no-timings", "--batch-size", "2"]
    ref = tmp_path / "ref.jsonl"
    assert cli.main(["evaluate", *map(str, argv), "--out", str(ref), "--quiet"]) == 0
    out = tmp_path / "res.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "prpkit", "evaluate", *map(str, argv), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    journal = tmp_path / ".res.jsonl.journal"
    deadline = time.monotonic() + 120
    while (not journal.exists() or journal.read_bytes().count(b"\n") < 4) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -9
    assert 0 < len(out.read_bytes().splitlines()) < N_KILL
    assert cli.main(["evaluate", *map(str, argv), "--out", str(out), "--resume", "--quiet"]) == 0
    assert out.read_bytes() == ref.read_bytes()
    assert [r["index"] for r in records(out)] == list(range(N_KILL))


# ----------------------------------------------------------------------------- input forms

def test_glob_csv_text_and_npz_labels(tmp_path):
    from PIL import Image
    samples = sorted(os.listdir(cli.BUNDLED_SAMPLES))
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for f in samples[:4]:
        Image.open(os.path.join(cli.BUNDLED_SAMPLES, f)).save(imgs / f)
    (tmp_path / "list.csv").write_text("path,label\n" + "".join(f"imgs/{f},{f[5]}\n" for f in samples[:3]))
    (tmp_path / "list.txt").write_text(f"imgs/{samples[0]} cat\n# a comment\nimgs/{samples[1]}\n")
    npz = write_npz(tmp_path / "b.npz", 3)
    out = tmp_path / "out"
    assert explain([str(imgs / "digit[01]*.png"), tmp_path / "list.csv", tmp_path / "list.txt", npz,
                    "--out", out, *EXPLAIN]) == 0
    recs = records(out / "records.jsonl")
    got = [(os.path.basename(r["image"]), r["index"], r.get("array"), r.get("label")) for r in recs]
    assert got == ([(samples[0], None, None, None), (samples[1], None, None, None)]
                   + [(f, None, None, int(f[5])) for f in samples[:3]]
                   + [(samples[0], None, None, "cat"), (samples[1], None, None, None)]
                   + [("b.npz", i, "images", int(samples[i][5])) for i in range(3)])
    # the same picture named twice gets distinct output names
    assert len({r["heatmap"] for r in recs}) == len(recs)


@pytest.mark.parametrize("content, message", [
    ("path,label,extra\nx.png,1,2\n", "expected rows path[,label]"),
    ("path\n", "the list file is empty"),
])
def test_bad_csv_lists(tmp_path, capsys, content, message):
    (tmp_path / "l.csv").write_text(content)
    assert explain([tmp_path / "l.csv", "--out", tmp_path / "o", "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bad_globs_and_npz(tmp_path, capsys):
    assert explain([str(tmp_path / "*.png"), "--out", tmp_path / "o"]) == 2
    assert "matches no files" in capsys.readouterr().err
    np.savez(tmp_path / "z.npz", images=np.zeros((2, 3, 32, 32), np.float32), labels=np.zeros(3, np.int64))
    assert explain([tmp_path / "z.npz", "--out", tmp_path / "o"]) == 2
    assert "one label per image" in capsys.readouterr().err
    np.savez(tmp_path / "w.npz", images=np.zeros((2, 3, 32, 32), np.int16))
    assert explain([tmp_path / "w.npz", "--out", tmp_path / "o"]) == 2
    assert "expected floating-point images" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_ray_options_checked_before_anything_runs(data, tmp_path, capsys, monkeypatch):
    out = tmp_path / "o"
    assert explain([data, "--out", out, "--ray-workers", "2", "--quiet"]) == 2
    assert "--ray-workers needs --ray" in capsys.readouterr().err
    assert explain(["--out", out, "--ray", data, "--quiet"]) == 2  # an input read as the address
    assert "an input, not a Ray address" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert explain([data, "--out", out, "--ray", "--quiet"]) == 2
    assert "--ray needs Ray (pip install 'prpkit[ray]')" in capsys.readouterr().err
    assert not out.exists()
