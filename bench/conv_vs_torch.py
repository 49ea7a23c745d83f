#!/usr/bin/env python3
"""prpkit conv2d vs torch.nn.functional.conv2d on the same shapes, same run, 2 threads.

Builds `prpkit-bench` (release, from the Swift tools package in cli/), then for each
shape alternates prpkit and torch measurements (median of --runs timed runs after
warm-up, several rounds each, best round median kept for both) and prints one JSON
line per shape with the ratio prpkit_ms / torch_ms (< 1 means prpkit is faster), and
the same ratio of process CPU time (all threads), which stays meaningful when other
jobs load the machine.

    python3 bench/conv_vs_torch.py [--runs 30] [--rounds 3] [--no-build]
"""
import argparse, json, os, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "cli")  # the Swift package of prpkit-run and prpkit-bench
SCRATCH = os.path.join(ROOT, ".build-gemm")
SHAPES = [  # batch, channels, size, out_channels, kernel, padding, stride
    (1, 128, 56, 128, 3, 1, 1),
    (1, 64, 56, 64, 3, 1, 1),
    (1, 256, 14, 256, 3, 1, 1),
    (1, 256, 56, 64, 1, 0, 1),
    (1, 512, 7, 512, 3, 1, 1),
]


def build():
    subprocess.run(["swift", "build", "-c", "release", "--scratch-path", SCRATCH,
                    "--product", "prpkit-bench"], cwd=CLI, check=True,
                   stdout=sys.stderr)
    out = subprocess.run(["swift", "build", "-c", "release", "--scratch-path", SCRATCH,
                          "--show-bin-path"], cwd=CLI, check=True, capture_output=True, text=True)
    return os.path.join(out.stdout.strip(), "prpkit-bench")


def prpkit_ms(exe, shape, runs, threads):
    b, c, s, co, k, p, st = shape
    out = subprocess.run([exe, "conv", "--batch", str(b), "--channels", str(c), "--size", str(s),
                          "--out-channels", str(co), "--kernel", str(k), "--padding", str(p),
                          "--stride", str(st), "--runs", str(runs), "--threads", str(threads)],
                         check=True, capture_output=True, text=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return r["ms"], r["cpu_ms"]


def torch_ms(shape, runs):
    import torch
    b, c, s, co, k, p, st = shape
    g = torch.Generator().manual_seed(0)
    x = torch.rand(b, c, s, s, generator=g) * 2 - 1
    w = torch.rand(co, c, k, k, generator=g) * 2 - 1
    f = lambda: torch.nn.functional.conv2d(x, w, padding=p, stride=st)
    with torch.no_grad():
        for _ in range(5):
            f()
        ts, cs = [], []
        for _ in range(runs):
            c0 = time.process_time()
            t0 = time.perf_counter()
            f()
            ts.append((time.perf_counter() - t0) * 1e3)
            cs.append((time.process_time() - c0) * 1e3)
    return statistics.median(ts), statistics.median(cs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--first-only", action="store_true", help="only 1x128x56x56 -> 128, 3x3")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    exe = os.path.join(SCRATCH, "release", "prpkit-bench") if args.no_build else build()
    for shape in SHAPES[:1] if args.first_only else SHAPES:
        pk, tc = [], []
        for _ in range(args.rounds):
            pk.append(prpkit_ms(exe, shape, args.runs, args.threads))
            tc.append(torch_ms(shape, args.runs))
        b, c, s, co, k, p, st = shape
        ho = (s + 2 * p - k) // st + 1
        flops = 2 * b * co * ho * ho * c * k * k
        pm, tm = min(v[0] for v in pk), min(v[0] for v in tc)
        pc, tcpu = min(v[1] for v in pk), min(v[1] for v in tc)
        print(json.dumps({"shape": f"{b}x{c}x{s}x{s}->{co} k{k} p{p} s{st}", "threads": args.threads,
                          "prpkit_ms": round(pm, 3), "torch_ms": round(tm, 3),
                          "prpkit_gflops": round(flops / pm / 1e6, 1), "torch_gflops": round(flops / tm / 1e6, 1),
                          "ratio": round(pm / tm, 3),
                          # Process CPU time (all threads): robust to other load on the machine.
                          "prpkit_cpu_ms": round(pc, 3), "torch_cpu_ms": round(tcpu, 3),
                          "cpu_ratio": round(pc / tcpu, 3)}), flush=True)


if __name__ == "__main__":
    main()
