#!/usr/bin/env python3
"""Writes examples/c/tiny_prp.prpk (a prpkit model file of a tiny CaBRNet 1.2 ProtoPNet)
and tiny_prp.expected (its PRP relevance and heatmap), for examples/c/prp.c.

The model: CaBRNet ProtoPNet, ResNet18 trunk cut at "maxpool" (conv1 7×7/2 + BatchNorm
+ ReLU + max-pool 3×3/2), add-on 1×1 conv 64→8, ReLU, 1×1 conv 8→8, Sigmoid, 2 classes ×
2 prototypes (random weights, seed 0; BatchNorm statistics randomised). Input x:
(1, 3, 32, 32) with x[i] = ((i * 37) % 17) / 8 - 1 (row-major index i), the formula
prp.c uses. Similarity map: (1, 4, 8, 8).

The expected values are NOT computed with prpkit: they come from CaBRNet's own PRP
composite (get_cabrnet_lrp_composite_model(model).eval()) and Captum's LRP, for the
target (p, h, w) at the first maximum of the similarity map (CaBRNet prp()'s
location="max"), and from CaBRNet's post_process (absolute polarity, gaussian sigma 1,
bicubic resize to 20×30 with OpenCV). prpkit is used only to write the model file
(prpkit._export.graph_from_torch + save_model).

Usage: python3 make_tiny_prp_model.py [out_dir]   (default: this script's directory)
"""
import os
import sys
import types

import numpy as np
import torch

PROTOTYPES = [1, 3]          # the two prototypes prp.c explains
HEATMAP_H, HEATMAP_W = 20, 30
SIGMA = 1

CONFIG = {
    "extractor": {
        "backbone": {"arch": "resnet18", "weights": "None", "layer": "maxpool"},
        "add_on": {
            "conv1": {"type": "Conv2d", "params": {"out_channels": 8, "kernel_size": 1}},
            "relu1": {"type": "ReLU"},
            "conv2": {"type": "Conv2d", "params": {"out_channels": 8, "kernel_size": 1}},
            "sigmoid1": {"type": "Sigmoid"},
        },
    },
    "classifier": {"module": "cabrnet.archs.protopnet.decision", "name": "ProtoPNetClassifier",
                   "params": {"num_classes": 2, "num_proto_per_class": 2}},
    "similarity": {"name": "ProtoPNetSimilarity"},
    "top_arch": {"module": "cabrnet.archs.protopnet.model", "name": "ProtoPNet"},
}


def example_input():
    i = np.arange(1 * 3 * 32 * 32)
    return torch.from_numpy((((i * 37) % 17) / 8.0 - 1.0).astype(np.float32).reshape(1, 3, 32, 32))


def build():
    from loguru import logger
    logger.remove()
    from cabrnet.archs.generic.model import CaBRNet
    torch.manual_seed(0)
    model = CaBRNet.build_from_config(CONFIG)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                m.weight.copy_(0.8 + 0.4 * torch.rand(n, generator=g))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))
        model.classifier.prototypes.copy_(torch.rand(model.classifier.prototypes.shape, generator=g))
    return model.eval()


def reference(model, x):
    """CaBRNet composite + Captum: similarity map, argmax locations, relevance, heatmap."""
    from captum.attr import LRP
    from cabrnet.core.visualization import prp_utils
    from cabrnet.core.visualization.gradients import post_process
    comp = prp_utils.get_cabrnet_lrp_composite_model(model).eval()
    with torch.no_grad():
        sim = comp.similarities(x).numpy()
    locations, relevance = [], []
    for p in PROTOTYPES:
        s = sim[0, p]
        h, w = np.where(s == np.max(s))  # as CaBRNet's prp(location="max")
        h, w = int(h[0]), int(w[0])
        a = LRP(comp).attribute(x, target=(p, h, w)).detach().numpy()[0]
        prp_utils.attach_lrp_comp_rules(comp)  # Captum deletes the rules after each call
        locations.append((h, w))
        relevance.append(a)
    img = types.SimpleNamespace(width=HEATMAP_W, height=HEATMAP_H)  # post_process reads .width/.height
    heatmap = post_process(array=relevance[0].copy(), img=img, img_tensor=x, resize=True, polarity="absolute",
                           gaussian_ksize=SIGMA, normalize=False, grads_x_input=False)
    return sim, locations, np.stack(relevance), np.asarray(heatmap, dtype=np.float32)


def picks(a, n=8):
    """Indices to check: the arg-max of |a|, the first and last element, and n non-zero
    elements spread over the non-zero support (PRP relevance is local: most of it is 0)."""
    flat = a.ravel()
    idx = {int(np.argmax(np.abs(flat))), 0, flat.size - 1}
    nz = np.flatnonzero(flat)
    idx.update(int(nz[i]) for i in np.linspace(0, nz.size - 1, min(n, nz.size)).round().astype(int))
    return sorted(idx)


def checksum(a):
    """sum(a[i] * ((i % 7) - 3)) in float64: a position-sensitive check of every element."""
    flat = a.ravel().astype(np.float64)
    return float(np.sum(flat * (np.arange(flat.size) % 7 - 3)))


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    from prpkit._export import graph_from_torch, save_model
    torch.set_num_threads(1)
    model = build()
    x = example_input()
    graph, params = graph_from_torch(model, x)
    save_model(os.path.join(out_dir, "tiny_prp.prpk"), graph, params)
    sim, locations, rel, heat = reference(model, x)
    with open(os.path.join(out_dir, "tiny_prp.expected"), "w") as f:
        f.write("# CaBRNet 1.2 composite + Captum LRP reference for prp.c (see make_tiny_prp_model.py)\n")
        f.write("similarity_shape " + " ".join(map(str, sim.shape)) + "\n")
        f.write("relevance_shape " + " ".join(map(str, (len(PROTOTYPES),) + rel.shape[1:])) + "\n")
        f.write(f"heatmap_shape {heat.shape[0]} {heat.shape[1]}\n")
        for k, (p, (h, w)) in enumerate(zip(PROTOTYPES, locations)):
            f.write(f"prototype {k} {p} {h} {w} {sim[0, p, h, w]:.9g}\n")
            f.write(f"relevance_maxabs {k} {np.abs(rel[k]).max():.9g}\n")
            f.write(f"relevance_sum {k} {rel[k].astype(np.float64).sum():.9g}\n")
            f.write(f"relevance_abssum {k} {np.abs(rel[k].astype(np.float64)).sum():.9g}\n")
            f.write(f"relevance_checksum {k} {checksum(rel[k]):.9g}\n")
            for i in picks(rel[k]):
                f.write(f"relevance {k} {i} {rel[k].ravel()[i]:.9g}\n")
        f.write(f"heatmap_maxabs {np.abs(heat).max():.9g}\n")
        f.write(f"heatmap_abssum {np.abs(heat.astype(np.float64)).sum():.9g}\n")
        f.write(f"heatmap_checksum {checksum(heat):.9g}\n")
        for i in picks(heat):
            f.write(f"heatmap {i} {heat.ravel()[i]:.9g}\n")


if __name__ == "__main__":
    main()
