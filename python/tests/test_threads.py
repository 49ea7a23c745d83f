"""Two Python threads on one model: the GIL is released inside forward, both threads are
inside the library at once, and the numbers equal those of sequential calls."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module

import prpkit

MIN_CALL_SECONDS = 0.08


def conv_net() -> torch.nn.Module:
    torch.manual_seed(21)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()


@pytest.fixture(scope="module")
def setup():
    """A model and a batch size large enough that one call takes >= MIN_CALL_SECONDS
    (the kernels' speed varies; the batch adapts)."""
    model = prpkit.from_torch(conv_net(), torch.zeros(1, 3, 32, 32))
    rng = np.random.default_rng(3)
    batch = 1
    while True:
        x = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)
        t0 = time.perf_counter()
        model(x)
        if time.perf_counter() - t0 >= MIN_CALL_SECONDS or batch >= 4096:
            break
        batch *= 2
    xs = [rng.standard_normal((batch, 3, 32, 32), dtype=np.float32) for _ in range(2)]
    return model, xs


def test_gil_released_during_forward(setup):
    """While a worker thread computes, the main thread keeps running Python code."""
    model, xs = setup
    done = threading.Event()
    span = {}

    def work():
        span["in"] = time.perf_counter()
        model(xs[0])
        span["out"] = time.perf_counter()
        done.set()

    t = threading.Thread(target=work)
    t.start()
    ticks = []
    while not done.is_set():
        ticks.append(time.perf_counter())
    t.join()
    inside = [v for v in ticks if span["in"] <= v <= span["out"]]
    duration = span["out"] - span["in"]
    gaps = np.diff([span["in"]] + inside + [span["out"]])
    print(f"call {duration * 1e3:.1f} ms, {len(inside)} main-thread ticks inside, max gap {gaps.max() * 1e3:.1f} ms")
    # Holding the GIL would leave one gap as long as the whole call.
    assert gaps.max() < 0.5 * duration


def test_two_threads_inside_at_once_same_numbers(setup):
    model, xs = setup
    sequential = [model(x) for x in xs]
    barrier = threading.Barrier(2)
    spans: list = [None, None]
    results: list = [None, None]
    errors: list = []

    def work(i):
        try:
            barrier.wait()
            t_in = time.perf_counter()
            results[i] = model(xs[i])
            spans[i] = (t_in, time.perf_counter())
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    overlap = min(s[1] for s in spans) - max(s[0] for s in spans)
    shortest = min(s[1] - s[0] for s in spans)
    print(f"calls {[round((s[1] - s[0]) * 1e3, 1) for s in spans]} ms, overlap {overlap * 1e3:.1f} ms")
    # With the GIL held, the second call could only start after the first returned.
    assert overlap > 0.5 * shortest
    for r, s in zip(results, sequential):
        np.testing.assert_array_equal(r, s)


def test_many_threads_many_calls(setup):
    model, xs = setup
    small = [x[:2].copy() for x in xs]
    expected = [model(x) for x in small]
    errors: list = []

    def work(i):
        try:
            for k in range(4):
                j = (i + k) % 2
                np.testing.assert_array_equal(model(small[j]), expected[j])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_threads_keyword_and_block(setup):
    """`threads=` and `prpkit.num_threads` set the worker count of the calling thread only,
    nest, restore the outer count, and leave the numbers of a given count unchanged."""
    model, xs = setup
    x = xs[0][:4].copy()
    outer = prpkit.get_num_threads()
    reference = model(x, threads=1)
    with prpkit.num_threads(3):
        assert prpkit.get_num_threads() == 3
        with prpkit.num_threads(1):
            assert prpkit.get_num_threads() == 1
            np.testing.assert_array_equal(model(x), reference)
        assert prpkit.get_num_threads() == 3
        seen = []
        t = threading.Thread(target=lambda: seen.append(prpkit.get_num_threads()))
        t.start()
        t.join()
        assert seen == [outer], "another thread keeps the process-wide count"
        with prpkit.num_threads(None):
            assert prpkit.get_num_threads() == 3
    assert prpkit.get_num_threads() == outer
    np.testing.assert_array_equal(model(x, threads=1), reference)
    with pytest.raises(prpkit.InvalidArgumentError):
        model(x, threads=-1)
    with pytest.raises(TypeError):
        model(x, threads=1.5)
    assert prpkit.get_num_threads() == outer


def test_threads_keyword_on_explainers(setup):
    model, xs = setup
    x = xs[0][:2].copy()
    lrp1, lrp2 = prpkit.LRP(model, threads=1), prpkit.LRP(model, threads=2)
    np.testing.assert_array_equal(lrp1.attribute(x, target=3), lrp2.attribute(x, target=3))
    assert prpkit.get_num_threads() >= 1


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_fork_after_parallel_calls(setup):
    """A child forked after the workers started gets a working pool of its own."""
    import os
    model, xs = setup
    x = xs[0][:2].copy()
    expected = model(x, threads=2)
    pid = os.fork()
    if pid == 0:  # child: must not deadlock on the parent's (absent) workers
        try:
            ok = all(np.array_equal(model(x, threads=2), expected) for _ in range(3))
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    pytest.fail("forked child hung in a parallel call")
