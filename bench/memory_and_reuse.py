"""Memory and reuse across calls: prpkit vs CaBRNet 1.2's prp(), same model, same inputs.

Model: ProtoPNet on a torchvision ResNet50 trunk (random weights), add-on 2048→128→128,
2000 prototypes of 128 dims (200 classes × 10), 1×3×224×224 inputs, 2 threads on both sides
(bench/prp_vs_cabrnet.py builds the same model).

1. Peak RSS (VmHWM of /proc/self/status) of a fresh process per workload, prpkit and CaBRNet each
   in their own process:
   - prpkit: `import prpkit` (torch is never imported), `prpkit.load` of the model file,
     then the workload; CaBRNet: import torch + CaBRNet, build the model, then prp();
   - workloads: one heatmap at "max"; one heatmap over all 49 locations; 10 prototypes ×
     4 images (prpkit: one `prp_batch`; CaBRNet: 40 prp() calls); and, for prpkit only, N
     images × K prototypes for a few N·K to give the memory per additional heatmap (the
     slope of a least-squares line through them).
2. Time, same run, one process: ten `prp()` calls for ten prototypes of one image (what
   CaBRNet's own explanation code does) — prpkit given CaBRNet's own composite module
   (the drop-in: only the import changes) and given prpkit's composite — against ten
   CaBRNet prp() calls and against one `prpkit.prp_batch` of the same ten; then 4 images ×
   their top-5 prototypes by prp() calls.
Both sides start from a ready composite for the timings (as bench/prp_vs_cabrnet.py).

`--trace` also runs the one-heatmap process with PRPKIT_MEMORY_TRACE=1 and prints where its
memory goes (resident set, model-file pages, tensor pool, packed weights after each phase and
at the peak).

Usage: python3 bench/memory_and_reuse.py [--runs 2] [--skip-cabrnet-rss] [--skip-timing] [--trace]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

PROTOS = list(range(5, 15))

# Shared by the child processes: a fixed input batch, a PIL image of the input size.
CHILD_PRELUDE = """
import os, resource, sys, time
import numpy as np
from PIL import Image
def peak_mb():
    # VmHWM, the peak RSS of this process's own address space. Not ru_maxrss: Linux
    # carries that across fork + exec, so a child of a large parent (one that exported the
    # model with torch) would report the parent's peak.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def images(n):
    return np.random.default_rng(1).standard_normal((n, 3, 224, 224)).astype(np.float32)
img = Image.fromarray(np.zeros((224, 224, 3), np.uint8))
"""

PRPKIT_CHILD = CHILD_PRELUDE + """
import prpkit
prpkit.set_num_threads(2)
workload, n, k, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
model = prpkit.load(path)
x = images(n)
t0 = time.perf_counter()
if workload == "max":
    prpkit.prp(model, img, x, 5, location="max")
elif workload == "all":
    prpkit.prp(model, img, x, 5, location=None, similarity_threshold=-1e30)
else:
    prpkit.prp_batch(model, x, list(range(5, 5 + k)), imgs=img, location="max")
assert "torch" not in sys.modules, "prpkit imported torch"
print(json.dumps({"peak_mb": peak_mb(), "seconds": time.perf_counter() - t0}))
"""

CABRNET_CHILD = CHILD_PRELUDE + """
import torch
torch.set_num_threads(2)
sys.path.insert(0, sys.argv[4])
from memory_and_reuse import build_model
from cabrnet.core.visualization.gradients import prp
workload, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = build_model()
x = torch.from_numpy(images(n))
t0 = time.perf_counter()
if workload == "max":
    prp(model, img, x[:1], 5, "cpu", location="max")
elif workload == "all":
    prp(model, img, x[:1], 5, "cpu", location=None, similarity_threshold=-1e30)
else:
    for i in range(n):
        for p in range(5, 5 + k):
            prp(model, img, x[i:i + 1], p, "cpu", location="max")
print(json.dumps({"peak_mb": peak_mb(), "seconds": time.perf_counter() - t0}))
"""


def build_model():
    from prp_vs_cabrnet import build_model as build
    return build()


def child(code: str, *args: str, trace: bool = False) -> dict:
    env = dict(os.environ, PRPKIT_NUM_THREADS="2", OMP_NUM_THREADS="2")
    if trace:
        env["PRPKIT_MEMORY_TRACE"] = "1"
    out = subprocess.run([sys.executable, "-c", "import json\n" + code, *args], check=True, capture_output=True,
                         text=True, cwd=tempfile.gettempdir(), env=env)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if trace:
        result["trace"] = [line for line in out.stderr.splitlines() if line.startswith("prpkit-mem ")]
    return result


def trace_section(model_path: str) -> None:
    """The one-heatmap process's memory by phase (PRPKIT_MEMORY_TRACE lines)."""
    lines = child(PRPKIT_CHILD, "max", "1", "1", model_path, trace=True)["trace"]
    if not lines:
        print("no trace lines: the library was built without PRPKIT_MEMORY_TRACE support", flush=True)
        return

    def rss(line):
        return float(line.split("rss ")[1].split(" MB")[0])
    keep = [line for line in lines if not line.startswith(("prpkit-mem forward ", "prpkit-mem backward ", "prpkit-mem made "))
            or line.startswith("prpkit-mem forward done")]
    last_backward = [line for line in lines if line.startswith("prpkit-mem backward ")][-1:]
    print("memory by phase (one heatmap, PRPKIT_MEMORY_TRACE=1):")
    for line in keep + last_backward + [f"{max(lines, key=rss)}  <- highest resident set"]:
        print("  " + line[len("prpkit-mem "):])


def slope(points):
    """Least-squares slope and intercept of (x, y) points."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    s = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in points) / s
    return b, my - b * mx


def rss_section(model_path: str, skip_cabrnet: bool) -> list:
    rows = []
    for name, workload, n, k in [("one heatmap, location max", "max", 1, 1),
                                 ("one heatmap, all 49 locations", "all", 1, 1),
                                 ("10 prototypes × 4 images", "batch", 4, 10)]:
        ours = child(PRPKIT_CHILD, workload, str(n), str(k), model_path)
        ref = None if skip_cabrnet else child(CABRNET_CHILD, workload, str(n), str(k), os.path.join(ROOT, "bench"))
        rows.append((name, ours, ref))
        print(f"peak RSS, {name}: prpkit {ours['peak_mb']:.0f} MB"
              + ("" if ref is None else f", CaBRNet {ref['peak_mb']:.0f} MB, ratio {ours['peak_mb'] / ref['peak_mb']:.3f}"),
              flush=True)
    growth = [(n * k, child(PRPKIT_CHILD, "batch", str(n), str(k), model_path)["peak_mb"])
              for n, k in [(1, 1), (1, 10), (2, 10), (4, 10)]]
    per, base = slope(growth)
    print("prpkit peak RSS by N·K heatmaps (prp_batch): "
          + ", ".join(f"{nk}: {mb:.0f} MB" for nk, mb in growth)
          + f"  → {per:.1f} MB per additional heatmap (least squares), {base:.0f} MB at N·K = 0", flush=True)
    return rows


def timed(fn, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def timing_section(model_path: str, runs: int) -> list:
    import numpy as np
    import torch
    from PIL import Image
    import prpkit
    from cabrnet.core.visualization.gradients import prp as cabrnet_prp
    from cabrnet.core.visualization.prp_utils import get_cabrnet_lrp_composite_model as cab_composite
    torch.set_num_threads(2)
    prpkit.set_num_threads(2)
    model = build_model()
    ref_model = cab_composite(model).eval()
    ours = prpkit.prp_utils.get_cabrnet_lrp_composite_model(prpkit.load(model_path))
    xs = torch.from_numpy(np.random.default_rng(1).standard_normal((4, 3, 224, 224)).astype(np.float32))
    x = xs[:1]
    img = Image.fromarray(np.zeros((224, 224, 3), np.uint8))

    # Warm-up: conversions and packings happen once per model, as in a user's loop.
    prpkit.prp(ref_model, img, x, 0, location="max")
    prpkit.prp(ours, img, x, 0, location="max")
    xs_other = xs + 0  # fresh buffers: the loops below start from an input not seen before

    def loop(target, images, protos_of):
        for i in range(images.shape[0]):
            xi = images[i:i + 1].contiguous()
            for p in protos_of(i):
                prpkit.prp(target, img, xi, p, location="max")

    def fresh(i):
        return xs_other + 1e-3 * (i + 1)  # another input each run, so no run reuses an earlier one's state

    counter = iter(range(10 ** 6))
    rows = []
    t_ref = timed(lambda: [cabrnet_prp(ref_model, img, x, p, "cpu", location="max") for p in PROTOS], runs)
    t_drop = timed(lambda: loop(ref_model, fresh(next(counter))[:1], lambda i: PROTOS), runs)
    t_ours = timed(lambda: loop(ours, fresh(next(counter))[:1], lambda i: PROTOS), runs)
    t_batch = timed(lambda: prpkit.prp_batch(ours, fresh(next(counter))[:1], PROTOS, imgs=img, location="max"), runs)
    rows += [("10 prototypes of one image: 10 prp() calls, CaBRNet's composite module", t_ref, t_drop),
             ("same, 10 prp() calls on prpkit's composite", t_ref, t_ours),
             ("same, one prp_batch", t_ref, t_batch)]
    print(f"10 prp() calls: CaBRNet {t_ref:.2f} s; prpkit on CaBRNet's module {t_drop:.3f} s ({t_drop / t_ref:.3f}), "
          f"on prpkit's composite {t_ours:.3f} s ({t_ours / t_ref:.3f}); prp_batch {t_batch:.3f} s "
          f"({t_batch / t_ref:.3f}); 10 calls / prp_batch = {t_ours / t_batch:.2f}", flush=True)

    with torch.no_grad():
        sims = ref_model.similarities(xs).amax(dim=(2, 3))
    top5 = [torch.topk(sims[i], 5).indices.tolist() for i in range(4)]
    t_ref4 = timed(lambda: [cabrnet_prp(ref_model, img, xs[i:i + 1], p, "cpu", location="max")
                            for i in range(4) for p in top5[i]], runs)
    t_our4 = timed(lambda: loop(ours, fresh(next(counter)), lambda i: top5[i]), runs)
    rows.append(("4 images × their top-5 prototypes, 20 prp() calls", t_ref4, t_our4))
    print(f"4 images × top-5 by prp() calls: CaBRNet {t_ref4:.2f} s, prpkit {t_our4:.3f} s, ratio {t_our4 / t_ref4:.3f}",
          flush=True)
    from prpkit import _prp
    for name, target in [("CaBRNet's module", ref_model), ("prpkit's composite", ours)]:
        # a torch module: the explainer prp() ran on (prp()'s default stability factor)
        ex = target._explainer if hasattr(target, "_explainer") else _prp._explainer_for(target, 1e-6, xs[:1])
        print(f"forward passes run / reused on {name}: {ex.forward_counts()}")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--skip-cabrnet-rss", action="store_true", help="only prpkit's processes for the RSS part")
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--model", help="an existing model file of the benchmark model (else exported now)")
    ap.add_argument("--trace", action="store_true", help="also print the one-heatmap process's memory by phase")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    path = args.model
    if path is None:
        import prpkit
        import torch
        path = os.path.join(tempfile.mkdtemp(), "protopnet_resnet50.prpkit")
        prpkit.save(prpkit.from_torch(build_model(), torch.zeros(1, 3, 224, 224)), path)
    if args.trace:
        trace_section(path)
    rss = rss_section(path, args.skip_cabrnet_rss)
    rows = [] if args.skip_timing else timing_section(path, args.runs)
    print(f"load average at end: {os.getloadavg()}")

    print("\n| peak RSS of a fresh process | CaBRNet prp() | prpkit | prpkit / CaBRNet |")
    print("|---|---|---|---|")
    for name, ours, ref in rss:
        ref_text = "—" if ref is None else f"{ref['peak_mb']:.0f} MB"
        ratio = "—" if ref is None else f"{ours['peak_mb'] / ref['peak_mb']:.3f} (1/{ref['peak_mb'] / ours['peak_mb']:.1f})"
        print(f"| {name} | {ref_text} | {ours['peak_mb']:.0f} MB | {ratio} |")
    if rows:
        print("\n| workload | CaBRNet prp() | prpkit | prpkit / CaBRNet |")
        print("|---|---|---|---|")
        for name, t_ref, t_our in rows:
            print(f"| {name} | {t_ref:.2f} s | {t_our:.3f} s | {t_our / t_ref:.3f} (1/{t_ref / t_our:.1f}) |")


if __name__ == "__main__":
    main()
