#!/usr/bin/env python3
"""Per-layer profile of prpkit on ProtoPNet-ResNet50, then the same-run ratios of the
README's speed table.

1. Profile. The ProtoPNet of bench/prp_vs_cabrnet.py (CaBRNet 1.2, torchvision ResNet50
   trunk, random weights, add-on 2048→128→128, 2000 prototypes, 1×3×224×224) is exported
   to a model file and `prpkit-bench profile` runs on it: for the forward pass, the PRP
   forward's rule work (z^B, α1β0 z⁺, denominators) and one PRP backward (prototype 0,
   location "max"), per node: minimum wall time, direct-equivalent convolution GFLOP,
   GFLOP/s, % of the --peak (232 GFLOP/s: 2 cores × 116), and the convolution algorithm
   (direct, direct (transposed) for small maps, or Winograd F(m×m, 3×3)).
2. Ratios, each prpkit and its reference timed in the same process on the same input
   (the other bench scripts): forward ProtoPNet-ResNet50 vs torch (forward_protopnet.py),
   PRP heatmaps vs CaBRNet prp() at "max", all 49 locations, 10 prototypes with prp_batch
   (prp_vs_cabrnet.py), Captum-default LRP on torchvision VGG16 vs Captum
   (lrp_vs_captum.py), and torchvision VGG16's forward vs torch (here).

    python3 bench/profile_protopnet.py [--runs 5] [--skip-ratios] [--skip-profile]

Needs the Python package installed (pip install ./python) for the ratios and builds the
Swift benchmark (swift build -c release --product prpkit-bench, in cli/) for the profile. The
machine's load average is printed at the start and end: other processes on these cores
inflate every time, so compare ratios from one run, not times across runs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
CLI = os.path.join(ROOT, "cli")  # the Swift package of prpkit-bench


def load() -> str:
    a, b, c = os.getloadavg()
    return f"{a:.2f} {b:.2f} {c:.2f}"


def export_model(path: str) -> None:
    sys.path.insert(0, BENCH)
    import torch
    from prp_vs_cabrnet import build_model
    from prpkit._export import graph_from_torch, save_model
    model = build_model()
    graph, params = graph_from_torch(model, torch.randn(1, 3, 224, 224))
    save_model(path, graph, params)


def profile(runs: int, threads: int, peak: float) -> None:
    subprocess.run(["swift", "build", "-c", "release", "--product", "prpkit-bench"], cwd=CLI, check=True,
                   stdout=subprocess.DEVNULL)
    bin_dir = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=CLI, check=True,
                             capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "protopnet_resnet50.prpkit")
        export_model(path)
        bench = os.path.join(bin_dir, "prpkit-bench")
        subprocess.run([bench, "profile", "--model", path, "--runs", str(runs), "--warmup", "1",
                        "--threads", str(threads), "--peak", str(peak)], check=True)


def vgg16_forward(reps: int, threads: int) -> tuple[float, float, float]:
    import numpy as np
    import torch
    import torchvision
    import prpkit
    torch.set_num_threads(threads)
    prpkit.set_num_threads(threads)
    torch.manual_seed(0)
    model = torchvision.models.vgg16(weights=None).eval()
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    ours = prpkit.from_torch(model)
    xn = x.numpy()

    def median_ms(fn):
        fn()
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1e3)
        return statistics.median(times)

    with torch.no_grad():
        ref = model(x).numpy()
        t_torch = median_ms(lambda: model(x))
    t_ours = median_ms(lambda: ours(xn))
    got = np.asarray(ours(xn))
    err = float(np.abs(got - ref).max() / np.abs(ref).max())
    return t_torch, t_ours, err


def run_script(args: list[str]) -> str:
    out = subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    print(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="timed runs per measurement")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peak", type=float, default=232e9, help="machine FLOP/s peak for the % column")
    ap.add_argument("--skip-profile", action="store_true")
    ap.add_argument("--skip-ratios", action="store_true")
    args = ap.parse_args()
    print(f"load average at start: {load()}")
    if not args.skip_profile:
        profile(args.runs, args.threads, args.peak)
    if args.skip_ratios:
        print(f"load average at end: {load()}")
        return
    rows = []
    import prpkit  # the installed package's library: the one every other ratio below times
    out = run_script(["bench/forward_protopnet.py", "--repeat", str(max(args.runs, 5)), "--threads", str(args.threads),
                      "--lib", prpkit.get_library()])
    for line in out.splitlines():
        if line.startswith("ratio prpkit/torch:"):
            rows.append(("forward, ProtoPNet-ResNet50", "torch", line.split(":")[1].split()[0], "bench/forward_protopnet.py"))
    out = run_script(["bench/prp_vs_cabrnet.py", "--runs", str(max(args.runs // 2, 2))])
    for line in out.splitlines():
        if ": CaBRNet" in line and "ratio" in line:
            name = line.split(":")[0]
            ratio = line.split("ratio")[1].split(",")[0].strip()
            rows.append((name, "CaBRNet prp()", ratio, "bench/prp_vs_cabrnet.py"))
    out = run_script(["bench/lrp_vs_captum.py", "--reps", str(args.runs), "--models", "vgg16"])
    for line in out.splitlines():
        if line.startswith("vgg16"):
            rows.append(("Captum default LRP, torchvision VGG16, 1 class", "Captum 0.9", line.split()[5],
                         "bench/lrp_vs_captum.py"))
    t_torch, t_ours, err = vgg16_forward(max(args.runs, 5), args.threads)
    print(f"forward torchvision VGG16: torch {t_torch:.1f} ms, prpkit {t_ours:.1f} ms, ratio {t_ours / t_torch:.3f}, "
          f"max rel diff {err:.1e}")
    rows.append(("forward, torchvision VGG16", "torch", f"{t_ours / t_torch:.3f}", "bench/profile_protopnet.py"))
    print(f"load average at end: {load()}")
    print("\n| workload | reference | prpkit / reference (same run) | command |")
    print("|---|---|---|---|")
    for name, ref, ratio, cmd in rows:
        print(f"| {name} | {ref} | {ratio} | `python3 {cmd}` |")


if __name__ == "__main__":
    main()
