#!/usr/bin/env python3
"""Generates the Swift test fixtures in Tests/PRPKitTests/Fixtures/.

    python3 tools/make_fixtures.py            # regenerate everything (deterministic)
    python3 tools/make_fixtures.py --check    # also re-run every graph with a torch
                                              # reference interpreter (exporter self-check)

kernels/<case>.prpkit            single-node prpkit model file (op under test)
kernels/<case>.io.safetensors    input_0[, input_1, …], expected_0 (PyTorch / CaBRNet numbers)
models/<name>.prpkit             small networks exported with prpkit._export.graph_from_torch
models/<name>.io.safetensors     input_0 (batch 2), expected_0[, expected_1]

Every expected tensor is computed by PyTorch or by CaBRNet's own classes, in float32,
single-threaded, from fixed seeds, so the output files are byte-identical across runs
on the same library versions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

from prpkit._export import graph_from_torch, save_model, load_model_arrays  # noqa: E402
from prpkit import _safetensors  # noqa: E402

try:  # CaBRNet logs a warning for every legacy similarity layer it builds
    from loguru import logger as _logger
    _logger.remove()
except ImportError:
    pass

OUT = os.path.join(ROOT, "Tests", "PRPKitTests", "Fixtures")


def seed_for(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def t(a) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def n(x) -> np.ndarray:
    return x.detach().float().contiguous().numpy().copy()


# --------------------------------------------------------------------------- kernel cases

KERNEL_CASES: list[dict] = []


def kernel(name, op, attributes, inputs, expected, params=None, input_shapes=None):
    """Registers a single-node case. `params`: role -> array (stored under the role name)."""
    inputs = [np.asarray(i, np.float32) for i in inputs]
    expected = [np.asarray(e, np.float32) for e in expected]
    in_names = [f"input_{i}" for i in range(len(inputs))]
    graph = {
        "inputs": [{"name": nm, "shape": list(x.shape)} for nm, x in zip(in_names, inputs)],
        "nodes": [{"name": "out", "op": op, "inputs": in_names, "attributes": attributes,
                   "parameters": {role: role for role in sorted(params or {})}}],
        "outputs": ["out"],
    }
    KERNEL_CASES.append({"name": name, "graph": graph, "params": dict(params or {}),
                         "inputs": inputs, "expected": expected})


def rng(name):
    torch.manual_seed(seed_for(name))
    return np.random.default_rng(seed_for(name))


def conv_cases():
    grid = [
        # name, N, Cin, Cout, H, W, k, stride, padding, dilation, groups, bias
        ("conv2d_k3_basic", 1, 3, 4, 5, 5, (3, 3), (1, 1), (0, 0), (1, 1), 1, True),
        ("conv2d_k3_s2_p1_odd", 1, 3, 5, 7, 9, (3, 3), (2, 2), (1, 1), (1, 1), 1, True),
        ("conv2d_k3_dil2_p2", 1, 4, 3, 9, 8, (3, 3), (1, 1), (2, 2), (2, 2), 1, True),
        ("conv2d_groups2", 2, 4, 6, 6, 7, (3, 3), (1, 1), (1, 1), (1, 1), 2, True),
        ("conv2d_depthwise_s2", 2, 5, 5, 9, 9, (3, 3), (2, 2), (1, 1), (1, 1), 5, True),
        ("conv2d_depthwise_mult2", 1, 3, 6, 6, 5, (3, 3), (1, 1), (1, 1), (1, 1), 3, False),
        ("conv2d_1x1_nobias_batch2", 2, 6, 7, 6, 6, (1, 1), (1, 1), (0, 0), (1, 1), 1, False),
        ("conv2d_asym_k3x5", 1, 2, 3, 8, 11, (3, 5), (2, 1), (1, 2), (1, 2), 1, True),
        ("conv2d_stem_k7_s2_p3", 2, 3, 8, 17, 17, (7, 7), (2, 2), (3, 3), (1, 1), 1, False),
        ("conv2d_wide_64x70", 2, 64, 70, 10, 10, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),
        ("conv2d_1x1_s2_downsample", 2, 16, 32, 9, 9, (1, 1), (2, 2), (0, 0), (1, 1), 1, False),
        ("conv2d_pad_gt_kernel", 1, 2, 2, 3, 4, (2, 2), (3, 2), (2, 3), (1, 1), 1, True),
        ("conv2d_1x1_output", 1, 3, 4, 4, 4, (4, 4), (1, 1), (0, 0), (1, 1), 1, True),
    ]
    for name, N, ci, co, H, W, k, s, p, d, g, bias in grid:
        r = rng(name)
        x = r.standard_normal((N, ci, H, W)).astype(np.float32)
        w = (r.standard_normal((co, ci // g, *k)) / np.sqrt(ci // g * k[0] * k[1])).astype(np.float32)
        b = r.standard_normal(co).astype(np.float32) if bias else None
        y = F.conv2d(t(x), t(w), None if b is None else t(b), s, p, d, g)
        params = {"weight": w}
        if b is not None:
            params["bias"] = b
        kernel(name, "conv2d", {"stride": list(s), "padding": list(p), "dilation": list(d), "groups": g},
               [x], [n(y)], params)


def pool_cases():
    maxp = [
        # name, shape, k, s, p, d, ceil, kind of input
        ("max_pool2d_k2_s2", (1, 2, 6, 6), (2, 2), (2, 2), (0, 0), (1, 1), False, "normal"),
        ("max_pool2d_k3_s2_p1", (2, 3, 7, 7), (3, 3), (2, 2), (1, 1), (1, 1), False, "normal"),
        ("max_pool2d_ceil_odd", (1, 2, 7, 9), (3, 3), (2, 2), (0, 0), (1, 1), True, "normal"),
        ("max_pool2d_ceil_pad_negative", (1, 2, 8, 8), (3, 3), (2, 2), (1, 1), (1, 1), True, "negative"),
        ("max_pool2d_dilation2", (1, 2, 9, 8), (3, 3), (1, 1), (1, 1), (2, 2), False, "normal"),
        ("max_pool2d_ties_int", (2, 2, 8, 8), (3, 3), (1, 1), (1, 1), (1, 1), False, "int"),
        ("max_pool2d_ties_int_ceil", (1, 3, 7, 7), (2, 2), (2, 2), (0, 0), (1, 1), True, "int"),
        ("max_pool2d_asym", (1, 2, 7, 10), (2, 3), (1, 2), (1, 1), (1, 1), False, "normal"),
    ]
    for name, shape, k, s, p, d, ceil, kind in maxp:
        r = rng(name)
        if kind == "int":
            x = r.integers(-2, 3, size=shape).astype(np.float32)
        elif kind == "negative":
            x = (-np.abs(r.standard_normal(shape)) - 1).astype(np.float32)
        else:
            x = r.standard_normal(shape).astype(np.float32)
        y = F.max_pool2d(t(x), k, s, p, d, ceil_mode=ceil)
        kernel(name, "max_pool2d", {"kernel": list(k), "stride": list(s), "padding": list(p),
                                    "dilation": list(d), "ceil_mode": ceil}, [x], [n(y)])

    avgp = [
        # name, shape, k, s, p, ceil, count_include_pad, divisor_override
        ("avg_pool2d_k2_s2", (1, 2, 6, 6), (2, 2), (2, 2), (0, 0), False, True, None),
        ("avg_pool2d_k3_s2_p1_incl", (2, 2, 7, 7), (3, 3), (2, 2), (1, 1), False, True, None),
        ("avg_pool2d_k3_s2_p1_excl", (2, 2, 7, 7), (3, 3), (2, 2), (1, 1), False, False, None),
        ("avg_pool2d_ceil_incl", (1, 2, 8, 9), (3, 3), (2, 2), (1, 1), True, True, None),
        ("avg_pool2d_ceil_excl", (1, 2, 8, 9), (3, 3), (2, 2), (1, 1), True, False, None),
        ("avg_pool2d_ceil_nopad", (1, 2, 7, 7), (2, 2), (2, 2), (0, 0), True, True, None),
        ("avg_pool2d_divisor3", (1, 2, 7, 7), (3, 3), (2, 2), (1, 1), False, True, 3),
        ("avg_pool2d_divisor5_ceil_excl", (1, 2, 8, 8), (3, 3), (2, 2), (1, 1), True, False, 5),
        ("avg_pool2d_asym", (1, 2, 7, 10), (2, 3), (1, 2), (1, 1), False, True, None),
    ]
    for name, shape, k, s, p, ceil, cip, div in avgp:
        r = rng(name)
        x = r.standard_normal(shape).astype(np.float32)
        y = F.avg_pool2d(t(x), k, s, p, ceil_mode=ceil, count_include_pad=cip, divisor_override=div)
        kernel(name, "avg_pool2d", {"kernel": list(k), "stride": list(s), "padding": list(p), "ceil_mode": ceil,
                                    "count_include_pad": cip, "divisor_override": div}, [x], [n(y)])

    adap = [
        ("adaptive_avg_pool2d_7to3", (2, 3, 7, 7), (3, 3)),
        ("adaptive_avg_pool2d_10x6to4x5", (1, 2, 10, 6), (4, 5)),
        ("adaptive_avg_pool2d_global", (2, 4, 5, 5), (1, 1)),
        ("adaptive_avg_pool2d_upsample_3to5", (1, 2, 3, 3), (5, 5)),
        ("adaptive_avg_pool2d_identity", (1, 2, 7, 7), (7, 7)),
    ]
    for name, shape, o in adap:
        r = rng(name)
        x = r.standard_normal(shape).astype(np.float32)
        y = F.adaptive_avg_pool2d(t(x), o)
        kernel(name, "adaptive_avg_pool2d", {"output_size": list(o)}, [x], [n(y)])


def elementwise_cases():
    for name, eps in [("batch_norm2d_eps1e-5", 1e-5), ("batch_norm2d_eps1e-3", 1e-3)]:
        r = rng(name)
        x = r.standard_normal((2, 5, 4, 6)).astype(np.float32)
        c = 5
        w = r.uniform(0.5, 1.5, c).astype(np.float32)
        b = r.standard_normal(c).astype(np.float32) * 0.5
        mean = r.standard_normal(c).astype(np.float32) * 0.5
        var = r.uniform(0.1, 2.0, c).astype(np.float32)
        bn = nn.BatchNorm2d(c, eps=eps).eval()
        with torch.no_grad():
            bn.weight.copy_(t(w)); bn.bias.copy_(t(b))
            bn.running_mean.copy_(t(mean)); bn.running_var.copy_(t(var))
            y = bn(t(x))
        kernel(name, "batch_norm2d", {"epsilon": eps}, [x], [n(y)],
               {"weight": w, "bias": b, "running_mean": mean, "running_var": var})

    r = rng("elementwise")
    x = r.standard_normal((2, 3, 4, 5)).astype(np.float32) * 3
    x.flat[:6] = [0.0, -0.0, 1e-30, -1e-30, 40.0, -40.0]
    with torch.no_grad():
        kernel("relu", "relu", {}, [x], [n(torch.relu(t(x)))])
        kernel("sigmoid", "sigmoid", {}, [x], [n(torch.sigmoid(t(x)))])
        kernel("tanh", "tanh", {}, [x], [n(torch.tanh(t(x)))])
        kernel("dropout", "dropout", {}, [x], [x.copy()])
    a = r.standard_normal((2, 3, 4, 5)).astype(np.float32)
    b = r.standard_normal((2, 3, 4, 5)).astype(np.float32)
    kernel("add", "add", {}, [a, b], [n(t(a) + t(b))])
    kernel("flatten_1_end", "flatten", {"start_dim": 1, "end_dim": -1}, [a], [n(torch.flatten(t(a), 1))])
    kernel("flatten_2_3", "flatten", {"start_dim": 2, "end_dim": 3}, [a], [n(torch.flatten(t(a), 2, 3))])
    kernel("reshape_6_m1", "reshape", {"shape": [6, -1]}, [a], [n(t(a).reshape(2, 6, -1))])
    c1 = r.standard_normal((2, 1, 4, 5)).astype(np.float32)
    c2 = r.standard_normal((2, 4, 4, 5)).astype(np.float32)
    kernel("concat_channels", "concat", {"axis": 1}, [a, c1, c2], [n(torch.cat([t(a), t(c1), t(c2)], 1))])
    c3 = r.standard_normal((2, 3, 4, 2)).astype(np.float32)
    kernel("concat_last_axis", "concat", {"axis": -1}, [a, c3], [n(torch.cat([t(a), t(c3)], -1))])
    for name, (N, fin, fout), bias in [("linear_bias", (2, 37, 13), True), ("linear_nobias", (3, 16, 5), False),
                                       ("linear_wide", (2, 300, 70), True)]:
        rr = rng(name)
        xin = rr.standard_normal((N, fin)).astype(np.float32)
        w = (rr.standard_normal((fout, fin)) / np.sqrt(fin)).astype(np.float32)
        bb = rr.standard_normal(fout).astype(np.float32) if bias else None
        y = F.linear(t(xin), t(w), None if bb is None else t(bb))
        params = {"weight": w}
        if bb is not None:
            params["bias"] = bb
        kernel(name, "linear", {}, [xin], [n(y)], params)


def _layer_norm_channels(x, w, b, eps):
    """torch's layer_norm over the channels of (N, C, …): through the channels-last view."""
    if x.dim() == 2:
        return F.layer_norm(x, (x.shape[1],), w, b, eps)
    return F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), w, b, eps).permute(0, 3, 1, 2)


def channel_cases():
    """Modern trunks' per-pixel ops: layer norm over channels, layer scale, channel gates."""
    for name, shape, eps in [("layer_norm_nchw", (2, 6, 3, 4), 1e-6), ("layer_norm_rank2", (3, 7), 1e-5),
                             ("layer_norm_wide", (1, 96, 2, 3), 1e-6)]:
        r = rng(name)
        x = (r.standard_normal(shape) * 2 + 0.5).astype(np.float32)
        c = shape[1]
        w = r.uniform(0.5, 1.5, c).astype(np.float32)
        b = (r.standard_normal(c) * 0.5).astype(np.float32)
        kernel(name, "layer_norm", {"epsilon": eps}, [x], [n(_layer_norm_channels(t(x), t(w), t(b), eps))],
               {"weight": w, "bias": b})
    r = rng("channel_scale")
    x = r.standard_normal((2, 5, 3, 3)).astype(np.float32)
    s = r.uniform(-1, 2, 5).astype(np.float32)
    kernel("channel_scale", "channel_scale", {}, [x], [n(t(x) * t(s).view(1, 5, 1, 1))], {"weight": s})
    r = rng("mul")
    a = r.standard_normal((2, 4, 3, 5)).astype(np.float32)
    b = r.standard_normal((2, 4, 3, 5)).astype(np.float32)
    g = r.uniform(0, 1, (2, 4, 1, 1)).astype(np.float32)
    kernel("mul_equal", "mul", {}, [a, b], [n(t(a) * t(b))])
    kernel("mul_gate_first", "mul", {}, [g, a], [n(t(g) * t(a))])
    kernel("mul_gate_second", "mul", {}, [a, g], [n(t(a) * t(g))])
    r = rng("softmax")
    x = (r.standard_normal((2, 7, 3, 4)) * 4).astype(np.float32)
    x[0, :, 0, 0] = [80.0, 79.0, -80.0, 0.0, 1.0, 2.0, 3.0]  # large logits: the shift by the maximum
    kernel("softmax_channels", "softmax", {}, [x], [n(torch.softmax(t(x), 1))])


def similarity_cases():
    from cabrnet.core.utils import similarities as S
    grid = [
        # name, mode, N, D, H, W, P, 4-D prototypes, plant an exact match
        ("l2_distance_cdist_direct_4x4_p10", "cdist", 2, 8, 4, 4, 10, True, True),
        ("l2_distance_cdist_direct_5x5_p25", "cdist", 1, 6, 5, 5, 25, True, False),
        ("l2_distance_cdist_mm_7x7_p10", "cdist", 2, 8, 7, 7, 10, True, True),
        ("l2_distance_cdist_mm_4x4_p30", "cdist", 2, 8, 4, 4, 30, False, True),
        ("l2_distance_cdist_mm_6x5_p26", "cdist", 1, 16, 6, 5, 26, True, False),
        ("l2_distance_protopnet_7x7_p10", "protopnet", 2, 8, 7, 7, 10, True, True),
        ("l2_distance_protopnet_3x3_p4", "protopnet", 1, 5, 3, 3, 4, True, False),
        ("l2_distance_prototree_7x7_p10", "prototree", 2, 8, 7, 7, 10, True, True),
        ("l2_distance_prototree_3x3_p30", "prototree", 1, 5, 3, 3, 30, False, False),
    ]
    for name, mode, N, D, H, W, P, four_d, plant in grid:
        r = rng(name)
        feats = torch.sigmoid(t(r.standard_normal((N, D, H, W))))  # add-on outputs are sigmoids
        protos = t(r.uniform(0, 1, (P, D, 1, 1)))
        if plant:
            protos[0, :, 0, 0] = feats[0, :, 1, 2]
        with torch.no_grad():
            if mode == "cdist":
                d = S.ProtoPNetSimilarity().distances(feats, protos)
            elif mode == "protopnet":
                d = S.LegacyProtoPNetSimilarity(num_prototypes=P, num_features=D).distances(feats, protos)
            else:
                d = S.LegacyProtoTreeSimilarity(num_prototypes=P, num_features=D).distances(feats, protos)
        pr = n(protos) if four_d else n(protos).reshape(P, D)
        kernel(name, "l2_distance", {"mode": mode}, [n(feats)], [n(d)], {"prototypes": pr})

    r = rng("similarities")
    d = np.concatenate([np.array([-1e-3, -1e-5, 0.0, 1e-8, 1e-6, 1e-4, 1e-2, 0.5, 1.0, 3.0, 50.0, 1e4],
                                 np.float32), r.uniform(0, 10, 36).astype(np.float32)]).reshape(2, 4, 6)
    dd = t(d)
    with torch.no_grad():
        for eps in (1e-4, 1e-2):
            y = S.ProtoPNetSimilarity(stability_factor=eps).distances_to_similarities(dd)
            kernel(f"log_similarity_eps{eps:g}", "log_similarity", {"epsilon": eps}, [d], [n(y)])
        for logp in (False, True):
            y = S.ProtoTreeSimilarity(log_probabilities=logp).distances_to_similarities(dd)
            kernel(f"exp_similarity_{'logp' if logp else 'prob'}", "exp_similarity",
                   {"epsilon": 1e-14, "log_probabilities": logp}, [d], [n(y)])
    x = r.standard_normal((2, 5, 4, 3)).astype(np.float32)
    x2 = r.integers(-2, 3, size=(2, 3, 3, 3)).astype(np.float32)  # ties
    with torch.no_grad():
        kernel("spatial_min", "spatial_min", {}, [x], [n(torch.min(t(x).flatten(start_dim=2), dim=2).values)])
        kernel("spatial_max", "spatial_max", {}, [x], [n(t(x).amax(dim=(2, 3)))])
        kernel("spatial_min_ties", "spatial_min", {}, [x2], [n(t(x2).amin(dim=(2, 3)))])
        kernel("spatial_min_1x1", "spatial_min", {}, [x[:, :, :1, :1]], [n(t(x[:, :, 0, 0]))])


# --------------------------------------------------------------------------- model cases

def randomize_bn(model: nn.Module, g: torch.Generator):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)


def vgg_like():
    def block(ci, co):
        return [nn.Conv2d(ci, co, 3, padding=1), nn.BatchNorm2d(co), nn.ReLU(inplace=True)]

    class VGGLike(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*block(3, 8), *block(8, 8), nn.MaxPool2d(2, 2),
                                          *block(8, 16), nn.MaxPool2d(3, 2, ceil_mode=True),
                                          *block(16, 16), nn.MaxPool2d(2, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((3, 3))
            self.classifier = nn.Sequential(nn.Linear(16 * 9, 32), nn.ReLU(True), nn.Dropout(),
                                            nn.Linear(32, 10))

        def forward(self, x):
            x = self.features(x)
            x = self.avgpool(x)
            x = torch.flatten(x, 1)
            return self.classifier(x)
    return VGGLike()


def resnet_like():
    from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

    class ResNetLike(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = BasicBlock(16, 32, stride=2,
                                     downsample=nn.Sequential(conv1x1(16, 32, 2), nn.BatchNorm2d(32)))
            self.layer2 = Bottleneck(32, 16, stride=2,
                                     downsample=nn.Sequential(conv1x1(32, 64, 2), nn.BatchNorm2d(64)))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer2(self.layer1(x))
            x = self.avgpool(x)
            x = x.view(x.size(0), -1)
            return self.fc(x)
    return ResNetLike()


def protopnet_cabrnet(similarity="ProtoPNetSimilarity"):
    """A full CaBRNet 1.2 ProtoPNet: torchvision ResNet18 trunk up to layer1 + add-on."""
    from loguru import logger
    logger.remove()
    from cabrnet.archs.generic.model import CaBRNet
    config = {
        "extractor": {"backbone": {"arch": "resnet18", "weights": "None", "layer": "layer1"},
                      "add_on": {"conv1": {"type": "Conv2d", "params": {"out_channels": 32, "kernel_size": 1}},
                                 "relu1": {"type": "ReLU"},
                                 "conv2": {"type": "Conv2d", "params": {"out_channels": 32, "kernel_size": 1}},
                                 "sigmoid1": {"type": "Sigmoid"}}},
        "classifier": {"module": "cabrnet.archs.protopnet.decision", "name": "ProtoPNetClassifier",
                       "params": {"num_classes": 4, "num_proto_per_class": 5}},
        "similarity": {"name": similarity},
        "top_arch": {"module": "cabrnet.archs.protopnet.model", "name": "ProtoPNet"},
    }
    return CaBRNet.build_from_config(config)


def protopnet_small_trunk():
    """CaBRNet classes (CaBRNet + ProtoPNetClassifier) on a plain nn.Sequential trunk, 4×4 map."""
    from loguru import logger
    logger.remove()
    from cabrnet.archs.generic.model import CaBRNet
    from cabrnet.archs.protopnet.decision import ProtoPNetClassifier
    trunk = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(16, 24, 3, 2, 1), nn.ReLU(),
                          nn.Conv2d(24, 16, 1), nn.Sigmoid())
    clf = ProtoPNetClassifier(similarity_config={"name": "ProtoPNetSimilarity"}, num_classes=3,
                              num_features=16, num_proto_per_class=3)
    return CaBRNet(trunk, clf)


MODELS = [("vgg_like", vgg_like), ("resnet_like", resnet_like),
          ("protopnet_resnet18_layer1", protopnet_cabrnet),
          ("protopnet_small_trunk", protopnet_small_trunk)]


# --------------------------------------------------------------------------- reference interpreter

def run_graph_torch(graph, params, inputs):
    """Evaluates a prpkit graph with torch ops (exporter self-check)."""
    P = {k: t(v) for k, v in params.items()}
    env = {i["name"]: t(x) for i, x in zip(graph["inputs"], inputs)}
    for node in graph["nodes"]:
        a, x = node["attributes"], [env[i] for i in node["inputs"]]
        p = {r: P[name] for r, name in node["parameters"].items()}
        op = node["op"]
        if op == "conv2d":
            y = F.conv2d(x[0], p["weight"], p.get("bias"), a["stride"], a["padding"], a["dilation"], a["groups"])
        elif op == "linear":
            y = F.linear(x[0], p["weight"], p.get("bias"))
        elif op == "max_pool2d":
            y = F.max_pool2d(x[0], a["kernel"], a["stride"], a["padding"], a["dilation"], a["ceil_mode"])
        elif op == "avg_pool2d":
            y = F.avg_pool2d(x[0], a["kernel"], a["stride"], a["padding"], a["ceil_mode"],
                             a["count_include_pad"], a["divisor_override"])
        elif op == "adaptive_avg_pool2d":
            y = F.adaptive_avg_pool2d(x[0], a["output_size"])
        elif op == "batch_norm2d":
            y = F.batch_norm(x[0], p["running_mean"], p["running_var"], p["weight"], p["bias"], False, 0.0,
                             a["epsilon"])
        elif op in ("relu", "sigmoid", "tanh"):
            y = getattr(torch, op)(x[0])
        elif op == "dropout":
            y = x[0]
        elif op == "layer_norm":
            y = _layer_norm_channels(x[0], p["weight"], p["bias"], a["epsilon"])
        elif op == "channel_scale":
            y = x[0] * p["weight"].reshape([1, -1] + [1] * (x[0].dim() - 2))
        elif op == "mul":
            y = x[0] * x[1]
        elif op == "softmax":
            y = torch.softmax(x[0], 1)
        elif op == "add":
            y = x[0] + x[1]
        elif op == "flatten":
            y = torch.flatten(x[0], a["start_dim"], a["end_dim"])
        elif op == "reshape":
            y = x[0].reshape([x[0].shape[0]] + a["shape"])
        elif op == "concat":
            y = torch.cat(x, a["axis"])
        elif op == "l2_distance":
            from cabrnet.core.utils import similarities as S
            pr = p["prototypes"]
            pr = pr.reshape(pr.shape[0], pr.shape[1], 1, 1)
            P_, D = pr.shape[:2]
            layer = {"cdist": lambda: S.ProtoPNetSimilarity(),
                     "protopnet": lambda: S.LegacyProtoPNetSimilarity(num_prototypes=P_, num_features=D),
                     "prototree": lambda: S.LegacyProtoTreeSimilarity(num_prototypes=P_, num_features=D)}[a["mode"]]()
            y = layer.distances(x[0], pr)
        elif op == "spatial_min":
            y = x[0].amin(dim=(2, 3))
        elif op == "spatial_max":
            y = x[0].amax(dim=(2, 3))
        elif op == "log_similarity":
            d = torch.relu(x[0])
            y = torch.log((d + 1) / (d + a["epsilon"]))
        elif op == "exp_similarity":
            s = torch.sqrt(x[0].abs() + a["epsilon"])
            y = -s if a["log_probabilities"] else torch.exp(-s)
        else:
            raise ValueError(f"unknown op {op}")
        env[node["name"]] = y
    return [n(env[o]) for o in graph["outputs"]]


# --------------------------------------------------------------------------- main

def write_io(path, inputs, expected):
    tensors = {f"input_{i}": x for i, x in enumerate(inputs)}
    tensors.update({f"expected_{i}": e for i, e in enumerate(expected)})
    _safetensors.save_file(tensors, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="re-run every graph with a torch interpreter")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    kdir, mdir = os.path.join(args.out, "kernels"), os.path.join(args.out, "models")
    for d in (kdir, mdir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)

    with torch.no_grad():
        conv_cases()
        pool_cases()
        elementwise_cases()
        channel_cases()
        similarity_cases()
    for c in KERNEL_CASES:
        save_model(os.path.join(kdir, c["name"] + ".prpkit"), c["graph"], c["params"])
        write_io(os.path.join(kdir, c["name"] + ".io.safetensors"), c["inputs"], c["expected"])
        if args.check:
            g, p = load_model_arrays(os.path.join(kdir, c["name"] + ".prpkit"))
            got = run_graph_torch(g, p, c["inputs"])
            err = max(float(np.max(np.abs(a - b))) if a.size else 0.0 for a, b in zip(got, c["expected"]))
            print(f"kernel {c['name']:40s} self-check max|diff| = {err:.3g}")

    for name, build in MODELS:
        torch.manual_seed(seed_for(name))
        gen = torch.Generator().manual_seed(seed_for(name) + 1)
        model = build()
        randomize_bn(model, gen)
        model.eval()
        x = torch.randn(2, 3, 32, 32, generator=gen)
        with torch.no_grad():
            out = model(x)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        graph, params = graph_from_torch(model, x)
        save_model(os.path.join(mdir, name + ".prpkit"), graph, params)
        write_io(os.path.join(mdir, name + ".io.safetensors"), [n(x)], [n(o) for o in outs])
        msg = f"model {name}: {len(graph['nodes'])} nodes, outputs {graph['outputs']}, " \
              f"{sum(v.size for v in params.values())} parameters"
        if args.check:
            got = run_graph_torch(graph, params, [n(x)])
            msg += ", self-check max|diff| " + ", ".join(
                f"{float(np.max(np.abs(a - n(b)))):.3g}" for a, b in zip(got, outs))
        print(msg)

    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(args.out) for f in fs)
    print(f"{len(KERNEL_CASES)} kernel cases, {len(MODELS)} models, {total / 1e6:.2f} MB in {args.out}")


if __name__ == "__main__":
    main()
