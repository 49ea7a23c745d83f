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
