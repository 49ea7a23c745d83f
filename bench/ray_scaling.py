"""Scaling of `prpkit explain` / `evaluate` on Ray: images × prototypes per second for 1 and 2
Ray workers against the single-process run, and the cost of one heatmap.

Workload: the bundled digits ProtoPNet (3×32×32 inputs, 30 prototypes), N images (the
bundled samples with seeded noise, one .npz) × their top-K prototypes; explain writes an
overlay PNG, a relevance .npy and a record per heatmap; `--workload pointing` runs
`evaluate --metric pointing --mask-threshold 0.5` instead (no pictures: PRP,
post-processing and the metric). Each Ray actor reserves one CPU and runs one native
thread; the single-process run uses one thread too, so the rows compare like with like.
A run's time includes starting its actors (each loads the model from the object store) —
the fixed cost a short run pays; each actor's computing time (RayStats busy_s) gives the
throughput of one worker while it works; the per-heatmap cost is measured apart:
- "PRP only": one prp_relevance call per batch of 16 images × K prototypes, divided;
- "record": a single-process run's wall time per record (PRP + overlay + files).
Repeats each configuration (--repeats, default 3) and prints the minimum and median. The
machine's load average is printed first: other processes on a 2-core machine take from the
2-worker row first.

Usage: python3 bench/ray_scaling.py [--images 96] [--top-k 2] [--repeats 3] [--workload explain|pointing]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python", "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=96)
    ap.add_argument("--top-k", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=8, help="images per shard / batch (default 8)")
    ap.add_argument("--workload", choices=("explain", "pointing"), default="explain")
    a = ap.parse_args()

    import numpy as np
    import ray
    import prpkit
    import prpkit.distributed as pd
    from prpkit import cli
    from prpkit.prp_utils import get_cabrnet_lrp_composite_model
    from run_inputs import sample_batch

    print(f"load average (1, 5, 15 min): {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"{os.cpu_count()} CPUs; ray {ray.__version__}")
    work = tempfile.mkdtemp(prefix="prpkit-ray-bench-")
    x, y = sample_batch(a.images, seed=3)
    data = os.path.join(work, "images.npz")
    np.savez(data, images=x, labels=y)
    n_heat = a.images * a.top_k
    opts = {"top_k": a.top_k, "batch_size": a.batch_size, "no_timings": True}
    if a.workload == "pointing":
        opts["mask_threshold"] = 0.5

    def local_run(i: int) -> float:
        out = os.path.join(work, f"local{i}")
        argv = ([a.workload if a.workload == "explain" else "evaluate", data]
                + (["--metric", "pointing", "--mask-threshold", "0.5"] if a.workload == "pointing" else [])
                + ["--out", out + (".jsonl" if a.workload == "pointing" else ""), "--top-k", str(a.top_k),
                   "--batch-size", str(a.batch_size), "--threads", "1", "--no-timings", "--quiet"])
        t0 = time.perf_counter()
        assert cli.main(argv) == 0
        return time.perf_counter() - t0

    busy: dict[int, list[float]] = {1: [], 2: []}  # seconds each actor spent computing, per run
    writes: list[float] = []  # the driver's writing time per record

    def ray_run(i: int, workers: int) -> float:
        out = os.path.join(work, f"ray{workers}_{i}")
        t0 = time.perf_counter()
        if a.workload == "explain":
            r = pd.explain([data], out, workers=workers, threads=1, **opts)
        else:
            r = pd.evaluate([data], out + ".jsonl", "pointing", workers=workers, threads=1, **opts)
        assert r["records"] == n_heat, r
        busy[workers].append(sum(p["busy_s"] for p in r["ray"].per_process.values()) / workers)
        writes.append(r["ray"].write_s / n_heat)
        return time.perf_counter() - t0

    # the cost of one heatmap, PRP alone
    prpkit.set_num_threads(1)
    comp = get_cabrnet_lrp_composite_model(prpkit.load(cli.BUNDLED_MODEL))
    xb = np.ascontiguousarray(x[:16])
    protos = list(range(a.top_k))
    prp_times = []
    for _ in range(max(a.repeats, 3)):
        t0 = time.perf_counter()
        prpkit.prp_relevance(comp, xb, protos, "max")
        prp_times.append((time.perf_counter() - t0) / (16 * a.top_k))

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    rows = []
    for name, fn in (("single process, 1 thread", local_run), ("Ray, 1 worker", lambda i: ray_run(i, 1)),
                     ("Ray, 2 workers", lambda i: ray_run(i, 2))):
        ts = [fn(i) for i in range(a.repeats)]
        rows.append((name, min(ts), statistics.median(ts)))
    ray.shutdown()

    print(f"\n{a.workload}: {a.images} images × top-{a.top_k} prototypes = {n_heat} heatmaps, "
          f"batches/shards of {a.batch_size}, {a.repeats} repeats")
    print(f"{'':28s} {'best s':>8s} {'median s':>9s} {'heatmaps/s':>11s} {'vs 1 worker':>12s}")
    one = rows[1][1]
    for name, best, med in rows:
        print(f"{name:28s} {best:8.2f} {med:9.2f} {n_heat / best:11.1f} {one / best:11.2f}x")
    for w in (1, 2):
        b = min(busy[w])
        print(f"Ray, {w} worker(s): each worker computed for {b:.2f} s of the run: "
              f"{n_heat / w / b:.1f} heatmaps/s per worker while busy")
    print(f"the driver's writing (files, records, journal): {1000 * statistics.median(writes):.2f} ms per record")
    print(f"\nper heatmap: PRP only {1000 * min(prp_times):.2f} ms (1 thread, batches of 16); "
          f"whole {a.workload} record {1000 * rows[0][1] / n_heat:.2f} ms single-process")


if __name__ == "__main__":
    main()
