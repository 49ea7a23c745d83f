"""prpkit.LRP vs captum.attr.LRP: wall time and agreement, same machine, same run.

torchvision vgg16 and resnet50 (random weights, eval), one 1×3×224×224 image, one class,
Captum's default rules, 2 threads for both (torch.set_num_threads(2),
prpkit.set_num_threads(2)). Captum: median of REPS calls after one warm-up (Captum deletes
the rules after every call; with default rules there is nothing to re-attach). prpkit: the
first prpkit.LRP(model).attribute call converts the torch model (torch.fx trace + native
load) and is reported separately as "first call"; then median of REPS calls.

The max relative difference is max|prpkit − captum| / max|captum|; both are also compared
with Captum run in float64 (model.double(), untimed). Note: with Captum's
default ε = 1e-9 these results are ill-conditioned in float32 (ResNet50 especially: the
residual add's multiply-by-input compounds, and Captum's own float32 and float64 results
differ at O(1) relative), so a large value here is not by itself a disagreement; see
python/tests/test_lrp.py for the parity tests.

Usage: python3 bench/lrp_vs_captum.py [--reps 5] [--models vgg16,resnet50]
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
import warnings

import numpy as np
import torch
import torchvision
from captum.attr import LRP as CaptumLRP

import prpkit

warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1e3, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--models", default="vgg16,resnet50")
    ap.add_argument("--target", type=int, default=281)
    args = ap.parse_args()

    torch.set_num_threads(2)
    prpkit.set_num_threads(2)
    load0 = os.getloadavg()
    print(f"prpkit {prpkit.__version__}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"threads torch={torch.get_num_threads()} prpkit={prpkit.get_num_threads()}")
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")

    rows = []
    for name in args.models.split(","):
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)(weights=None).eval()
        x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))

        # Each timed call gets an input no earlier call saw (x shifted by k·2⁻¹⁴): prpkit's
        # explainer reuses the last input's forward pass, which would make a repeated call
        # backward-only while Captum redoes both. The last input is the one compared.
        xs = [x + k * 2.0 ** -14 for k in range(1, args.reps + 2)]
        CaptumLRP(model).attribute(xs[0], target=args.target)  # warm-up
        cap_ms, ref = [], None
        for xi in xs[1:]:
            ms, ref = timed(lambda: CaptumLRP(model).attribute(xi, target=args.target))
            cap_ms.append(ms)
        ref = ref.detach()

        lrp = prpkit.LRP(model)
        first_ms, got = timed(lambda: lrp.attribute(xs[0], target=args.target))
        pk_ms = []
        for xi in xs[1:]:
            ms, got = timed(lambda: lrp.attribute(xi, target=args.target))
            pk_ms.append(ms)
        x = xs[-1]

        # float64 Captum reference (untimed) to tell rounding noise from disagreement
        ref64 = CaptumLRP(copy.deepcopy(model).double()).attribute(x.double(), target=args.target).detach()

        def rel(u, v):
            u, v = u.numpy().astype(np.float64), v.numpy().astype(np.float64)
            return float(np.max(np.abs(u - v)) / np.max(np.abs(v)))

        rows.append((name, statistics.median(cap_ms), first_ms, statistics.median(pk_ms), min(pk_ms),
                     rel(got, ref), rel(ref, ref64), rel(got, ref64)))

    print(f"\n{'model':<10} {'captum ms':>10} {'prpkit 1st ms':>14} {'prpkit ms':>10} {'prpkit min':>11} "
          f"{'ratio':>7} {'rel p-c32':>10} {'rel c32-c64':>12} {'rel p-c64':>10}")
    for name, cap, first, pk, pkmin, r_pc, r_c, r_p in rows:
        print(f"{name:<10} {cap:>10.1f} {first:>14.1f} {pk:>10.1f} {pkmin:>11.1f} {pk / cap:>7.3f} "
              f"{r_pc:>10.3g} {r_c:>12.3g} {r_p:>10.3g}")
    print("(captum / prpkit: median of", args.reps, "after warm-up; 'prpkit 1st' = first call incl. conversion;"
          " ratio = prpkit median / captum median;\n rel a-b = max|a − b| / max|b|,"
          " p = prpkit, c32 / c64 = Captum in float32 / float64)")
    load1 = os.getloadavg()
    print(f"load average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


if __name__ == "__main__":
    main()
