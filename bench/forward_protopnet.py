#!/usr/bin/env python3
"""Forward-pass benchmark: CaBRNet ProtoPNet-ResNet50 in PyTorch vs. prpkit.

Model (random weights): CaBRNet 1.2 ProtoPNet built from a config like CaBRNet's own
(torchvision ResNet50 trunk to layer4, add-on Conv1x1 2048→128, ReLU, Conv1x1 128→128,
Sigmoid, 2000 prototypes of 128 dims = 200 classes × 10, ProtoPNetSimilarity), input
1×3×224×224. The model is exported with prpkit's exporter to a temporary model file.

    python3 bench/forward_protopnet.py [--repeat 10] [--threads 2] [--lib path/libprpkit.so]

prpkit is run through the C ABI (include/prpkit.h) with ctypes. The library is found at
--lib, $PRPKIT_LIB, or .build/release/libprpkit.so; `--build-lib` builds it first with
scripts/build_lib.sh. Without a library only the PyTorch time is reported.
Same run, same thread count, median of --repeat timed calls after one warm-up.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

from prpkit._export import graph_from_torch, save_model  # noqa: E402


def build_model(num_classes=200, protos_per_class=10, dims=128):
    from loguru import logger
    logger.remove()
    from cabrnet.archs.generic.model import CaBRNet
    config = {
        "extractor": {"backbone": {"arch": "resnet50", "weights": "None", "layer": "layer4"},
                      "add_on": {"conv1": {"type": "Conv2d", "params": {"out_channels": dims, "kernel_size": 1}},
                                 "relu1": {"type": "ReLU"},
                                 "conv2": {"type": "Conv2d", "params": {"out_channels": dims, "kernel_size": 1}},
                                 "sigmoid1": {"type": "Sigmoid"}}},
        "classifier": {"module": "cabrnet.archs.protopnet.decision", "name": "ProtoPNetClassifier",
                       "params": {"num_classes": num_classes, "num_proto_per_class": protos_per_class}},
        "similarity": {"name": "ProtoPNetSimilarity"},
        "top_arch": {"module": "cabrnet.archs.protopnet.model", "name": "ProtoPNet"},
    }
    return CaBRNet.build_from_config(config).eval()


# --------------------------------------------------------------------------- C ABI via ctypes

MAX_RANK = 8


class Input(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_float)), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("rank", ctypes.c_size_t)]


class Output(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_float)), ("capacity", ctypes.c_size_t),
                ("shape", ctypes.c_int64 * MAX_RANK), ("rank", ctypes.c_size_t)]


class PrpkitLib:
    def __init__(self, path: str):
        self.lib = lib = ctypes.CDLL(path)
        lib.prpkit_last_error.restype = ctypes.c_char_p
        lib.prpkit_model_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.prpkit_model_free.argtypes = [ctypes.c_void_p]
        lib.prpkit_model_num_outputs.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
        lib.prpkit_model_forward.argtypes = [ctypes.c_void_p, ctypes.POINTER(Input), ctypes.c_size_t,
                                             ctypes.POINTER(Output), ctypes.c_size_t, ctypes.c_void_p]
        lib.prpkit_set_num_threads.argtypes = [ctypes.c_int]

    def check(self, status, what):
        if status != 0:
            raise RuntimeError(f"prpkit {what} failed ({status}): {self.lib.prpkit_last_error().decode()}")

    def load(self, path: str):
        handle = ctypes.c_void_p()
        self.check(self.lib.prpkit_model_load(path.encode(), ctypes.byref(handle)), "model_load")
        n = ctypes.c_size_t()
        self.check(self.lib.prpkit_model_num_outputs(handle, ctypes.byref(n)), "num_outputs")
        return handle, n.value

    def forward_fn(self, handle, n_outputs, x: np.ndarray):
        """Returns a zero-argument callable running one forward pass, and the output arrays."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        shape = (ctypes.c_int64 * x.ndim)(*x.shape)
        inp = Input(x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), shape, x.ndim)
        outs = (Output * n_outputs)()
        # First call with capacity 0 asks for the output shapes.
        self.lib.prpkit_model_forward(handle, ctypes.byref(inp), 1, outs, n_outputs, None)
        arrays = []
        for o in outs:
            if o.rank == 0:
                raise RuntimeError(f"prpkit forward (shape query): {self.lib.prpkit_last_error().decode()}")
            a = np.empty([o.shape[i] for i in range(o.rank)], np.float32)
            o.data, o.capacity = a.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), a.size
            arrays.append(a)

        def run():
            self.check(self.lib.prpkit_model_forward(handle, ctypes.byref(inp), 1, outs, n_outputs, None),
                       "model_forward")
        return run, arrays


def find_lib(arg: str | None, build: bool) -> str | None:
    if build:
        out = subprocess.run([os.path.join(ROOT, "scripts", "build_lib.sh"), ".build"], cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        return os.path.join(ROOT, out) if not os.path.isabs(out) else out
    for p in (arg, os.environ.get("PRPKIT_LIB"), os.path.join(ROOT, ".build", "release", "libprpkit.so")):
        if p and os.path.isfile(p):
            return p
    return None


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lib", help="path of libprpkit.so")
    ap.add_argument("--build-lib", action="store_true", help="build libprpkit.so with scripts/build_lib.sh first")
    ap.add_argument("--keep", help="also write the exported model file here")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model = build_model()
    x = torch.randn(1, 3, 224, 224)

    t0 = time.perf_counter()
    graph, params = graph_from_torch(model, x)
    tmp = tempfile.NamedTemporaryFile(suffix=".prpkit", delete=False)
    tmp.close()
    save_model(tmp.name, graph, params)
    if args.keep:
        save_model(args.keep, graph, params)
    print(f"exported {len(graph['nodes'])} nodes, {sum(v.size for v in params.values()) / 1e6:.1f} M parameters "
          f"in {time.perf_counter() - t0:.1f} s → {tmp.name} ({os.path.getsize(tmp.name) / 1e6:.0f} MB)")

    with torch.no_grad():
        ref = model(x)
        t_torch = median_time(lambda: model(x), args.repeat)
    print(f"torch  forward ({args.threads} threads, median of {args.repeat}): {t_torch * 1e3:8.2f} ms")

    lib_path = find_lib(args.lib, args.build_lib)
    if lib_path is None:
        # TODO(prpkit-bench): once a CLI exists, e.g.
        #   swift run --package-path cli -c release prpkit-bench forward --model FILE --input FILE.npy
        # call it here; until then build the C library (--build-lib) to time prpkit.
        print("prpkit forward: skipped (no libprpkit.so; pass --build-lib or --lib / $PRPKIT_LIB)")
        os.unlink(tmp.name)
        return
    lib = PrpkitLib(lib_path)
    lib.check(lib.lib.prpkit_set_num_threads(args.threads), "set_num_threads")
    handle, n_out = lib.load(tmp.name)
    try:
        run, outs = lib.forward_fn(handle, n_out, x.numpy())
        t_prpkit = median_time(run, args.repeat)
        diffs = [float(np.max(np.abs(o - r.numpy()))) / max(1e-30, float(np.max(np.abs(r.numpy()))))
                 for o, r in zip(outs, ref)]
        print(f"prpkit forward ({args.threads} threads, median of {args.repeat}): {t_prpkit * 1e3:8.2f} ms"
              f"   [{lib_path}]")
        print(f"ratio prpkit/torch: {t_prpkit / t_torch:.3f}   (goal ≤ 1.0)")
        print("max|diff| / max|torch| per output (logits, min distances): "
              + ", ".join(f"{d:.2e}" for d in diffs))
    finally:
        lib.lib.prpkit_model_free(handle)
        os.unlink(tmp.name)


if __name__ == "__main__":
    main()
