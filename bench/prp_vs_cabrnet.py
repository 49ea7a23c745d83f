"""PRP heatmaps: prpkit vs CaBRNet 1.2's prp(), same model, same input, same run.

ProtoPNet on a torchvision ResNet50 trunk (random weights), add-on 2048→128→128,
2000 prototypes (200 classes × 10), 1×3×224×224 input, 2 threads for both.
Workloads (what CaBRNet users run: a local explanation, a full map, a global one):
  1. one heatmap at location "max";
  2. one heatmap over all 49 locations (location=None, threshold below every similarity);
  3. 10 prototypes of one image at "max" (CaBRNet: 10 prp() calls; prpkit: one prp_batch).
Both sides start from a ready composite (CaBRNet: get_cabrnet_lrp_composite_model once;
prpkit: prpkit.prp_utils.get_cabrnet_lrp_composite_model once); building it is timed
separately. Usage: python3 bench/prp_vs_cabrnet.py [--runs 3] [--workloads max,all,batch]
"""

import argparse
import os
import statistics
import time

import numpy as np
import torch
from PIL import Image


def build_model(protos_per_class=10, classes=200):
    from loguru import logger
    logger.remove()
    from cabrnet.archs.generic.model import CaBRNet
    config = {
        "extractor": {"backbone": {"arch": "resnet50", "weights": "None", "layer": "layer4"},
                      "add_on": {"conv1": {"type": "Conv2d", "params": {"out_channels": 128, "kernel_size": 1}},
                                 "relu1": {"type": "ReLU"},
                                 "conv2": {"type": "Conv2d", "params": {"out_channels": 128, "kernel_size": 1}},
                                 "sigmoid1": {"type": "Sigmoid"}}},
        "classifier": {"module": "cabrnet.archs.protopnet.decision", "name": "ProtoPNetClassifier",
                       "params": {"num_classes": classes, "num_proto_per_class": protos_per_class}},
        "similarity": {"name": "ProtoPNetSimilarity"},
        "top_arch": {"module": "cabrnet.archs.protopnet.model", "name": "ProtoPNet"},
    }
    torch.manual_seed(0)
    m = CaBRNet.build_from_config(config)
    with torch.no_grad():
        m.classifier.prototypes.copy_(torch.rand_like(m.classifier.prototypes))
    return m.eval()


def timed(fn, inputs):
    """Median time of fn(x) over `inputs` (one call each) and every result."""
    times, results = [], []
    for xi in inputs:
        t0 = time.perf_counter()
        results.append(fn(xi))
        times.append(time.perf_counter() - t0)
    return statistics.median(times), results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workloads", default="max,all,batch",
                    help="comma-separated subset of max (1 heatmap), all (49 locations), batch (10 prototypes)")
    args = ap.parse_args()
    workloads = set(args.workloads.split(","))
    torch.set_num_threads(2)
    import prpkit
    from cabrnet.core.visualization.gradients import prp as cabrnet_prp
    from cabrnet.core.visualization.prp_utils import get_cabrnet_lrp_composite_model as cab_composite
    prpkit.set_num_threads(2)
    print(f"load average at start: {os.getloadavg()}")

    model = build_model()
    torch.manual_seed(1)
    x = torch.randn(1, 3, 224, 224)
    img = Image.fromarray(np.zeros((224, 224, 3), np.uint8))

    t0 = time.perf_counter(); ref_model = cab_composite(model).eval(); t_ref_build = time.perf_counter() - t0
    t0 = time.perf_counter(); our_model = prpkit.prp_utils.get_cabrnet_lrp_composite_model(model, example_input=x)
    t_our_build = time.perf_counter() - t0
    print(f"composite build: CaBRNet {t_ref_build:.2f} s, prpkit (trace + convert + graph passes) {t_our_build:.2f} s")

    with torch.no_grad():
        sim = ref_model.similarities(x)[0].numpy()
    p = int(np.argmax(sim.max(axis=(1, 2))))
    low = float(sim[p].min()) - 1.0
    protos = list(range(p, p + 10)) if p + 10 <= sim.shape[0] else list(range(10))

    rows = []

    # Every timed call gets an input no earlier call saw (x shifted by k·2⁻¹⁴), so that
    # prpkit's reuse of the last input's forward pass (an explainer keeps it) never turns a
    # timed call into a backward-only one: both sides do the whole work each time.
    shift = [0]

    def fresh():
        shift[0] += 1
        return x + shift[0] * 2.0 ** -14

    def compare(name, ref_fn, our_fn, runs):
        xs = [fresh() for _ in range(max(runs, args.runs))]
        t_our, ours = timed(our_fn, xs[:args.runs])
        t_ref, refs = timed(ref_fn, xs[:runs])
        ref, ours = np.asarray(refs[-1]), np.asarray(ours[runs - 1])
        err = float(np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-30))
        rows.append((name, t_ref, t_our, t_our / t_ref, err))
        print(f"{name}: CaBRNet {t_ref * 1e3:.0f} ms, prpkit {t_our * 1e3:.1f} ms, ratio {t_our / t_ref:.4f}, "
              f"max rel diff {err:.1e}", flush=True)

    if "max" in workloads:
        compare("1 heatmap, location max",
                lambda xi: cabrnet_prp(ref_model, img, xi, p, "cpu", location="max"),
                lambda xi: prpkit.prp(our_model, img, xi, p, location="max"), args.runs)
    if "all" in workloads:
        compare("1 heatmap, all 49 locations",
                lambda xi: cabrnet_prp(ref_model, img, xi, p, "cpu", location=None, similarity_threshold=low),
                lambda xi: prpkit.prp(our_model, img, xi, p, location=None, similarity_threshold=low), 1)
    if "batch" in workloads:
        compare("10 prototypes of one image, max",
                lambda xi: np.stack([cabrnet_prp(ref_model, img, xi, q, "cpu", location="max") for q in protos]),
                lambda xi: prpkit.prp_batch(our_model, xi, protos, imgs=img, location="max")[0], 1)

    print(f"load average at end: {os.getloadavg()}")
    print("\n| workload | CaBRNet prp() | prpkit | prpkit / CaBRNet | max rel diff |")
    print("|---|---|---|---|---|")
    for name, t_ref, t_our, ratio, err in rows:
        print(f"| {name} | {t_ref * 1e3:.0f} ms | {t_our * 1e3:.1f} ms | {ratio:.4f} (1/{1 / ratio:.0f}) | {err:.1e} |")


if __name__ == "__main__":
    main()
