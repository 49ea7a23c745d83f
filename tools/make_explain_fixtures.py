#!/usr/bin/env python3
"""Generates the Swift test fixtures of the explanation layer (Tests/PRPKitTests/Fixtures/explain/).

    python3 tools/make_fixtures.py            # first: the models these cases explain
    python3 tools/make_explain_fixtures.py

Each case is `explain/<case>.json` (what to compute) and `explain/<case>.io.safetensors`
(`input_0` and the references). The JSON holds:
  - "model": the model file it explains, relative to Fixtures/ (`models/<name>.prpkit`,
    written by make_fixtures.py; this script rebuilds the same torch model from the same
    seeds and refuses to write if its export differs from that file byte for byte);
  - "config": the explainer configuration (docs/explainer-config.md) prpkit's Python layer
    would send for that torch model — the rules Captum reads from `module.rule`, or
    CaBRNet's PRP composite;
  - "kind": "lrp" (Captum's LRP, "targets": one output index per image), "prp" (a PRP
    heatmap: "prototype" and "location": "max" | [h, w] | {"threshold": t}) or
    "composite" (the forward of CaBRNet's composite: its similarity map);
  - "reference_f32_error": per expected tensor, max|reference run in float32 − reference
    run in float64|: the reference's own float32 error on this case, which says how
    well-conditioned it is (the tests' tolerance uses it).
Tensors: `expected_0` is the reference run in float64 (rounded to float32 to store),
for "prp" the raw relevance CaBRNet's prp() accumulates before post-processing (the sum of
one Captum LRP call on CaBRNet's composite per selected location); for "composite" the
similarity map, with `expected_1` the similarity map for prp cases too.

References are the real libraries: Captum's LRP and CaBRNet 1.2's composite
(get_cabrnet_lrp_composite_model) and prp() location selection.
"""

from __future__ import annotations

import copy
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402  (the model builders and seeds)
from captum.attr import LRP as CaptumLRP  # noqa: E402
from captum.attr._utils import lrp_rules  # noqa: E402

from cabrnet.core.visualization.prp_utils import attach_lrp_comp_rules, get_cabrnet_lrp_composite_model  # noqa: E402

from prpkit import _safetensors  # noqa: E402
from prpkit._export import graph_from_torch, save_model  # noqa: E402

OUT = os.path.join(mf.OUT, "explain")

# What prpkit.prp sends for a plain CaBRNet model: CaBRNet's composite, as prp() builds it.
CABRNET_COMPOSITE = {"composite": "cabrnet_prp",
                     "composite_options": {"set_bias_to_zero": True, "stability_factor": 1e-6, "use_zbeta": True,
                                           "similarity_head": True}}


def build(name: str) -> torch.nn.Module:
    """The model of make_fixtures.MODELS `name`, with the same weights."""
    torch.manual_seed(mf.seed_for(name))
    gen = torch.Generator().manual_seed(mf.seed_for(name) + 1)
    model = dict(mf.MODELS)[name]()
    mf.randomize_bn(model, gen)
    return model.eval()


def check_same_export(name: str, model: torch.nn.Module, x: torch.Tensor, tmp: str) -> str:
    """Path (relative to Fixtures/) of the committed model file, after checking that it is
    exactly what this torch model exports to."""
    rel = f"models/{name}.prpkit"
    graph, params = graph_from_torch(model, x)
    save_model(tmp, graph, params)
    with open(tmp, "rb") as a, open(os.path.join(mf.OUT, rel), "rb") as b:
        if a.read() != b.read():
            sys.exit(f"{rel} is not this model's export: run tools/make_fixtures.py first")
    os.remove(tmp)
    return rel


def input_for(case: str, shape=(2, 3, 32, 32)) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(mf.seed_for(case)))


def set_captum_rules(model: torch.nn.Module, conv_rule, other_rule) -> None:
    """Captum rules on every layer Captum gives a rule (ReLU/Dropout pass through)."""
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.rule = conv_rule()
        elif isinstance(m, (torch.nn.Linear, torch.nn.BatchNorm2d, torch.nn.MaxPool2d,
                            torch.nn.AdaptiveAvgPool2d, torch.nn.AvgPool2d)):
            m.rule = other_rule()


def captum_lrp(model, x, target) -> np.ndarray:
    """Captum LRP on a deep copy (Captum removes the rules it finds after each call)."""
    return CaptumLRP(copy.deepcopy(model)).attribute(x, target=target).detach().double().numpy()


def lrp_case(case: str, name: str, conv_rule, other_rule, targets: list[int]) -> None:
    model = build(name)
    x = input_for(case)
    rel = check_same_export(name, model, x, os.path.join(OUT, case + ".tmp"))
    set_captum_rules(model, conv_rule, other_rule)
    _, _, rules = graph_from_torch(model, x, rules=True)
    ref32 = captum_lrp(model, x, targets)
    ref64 = captum_lrp(model.double(), x.double(), targets)
    write(case, {"model": rel, "kind": "lrp", "config": {"rules": rules}, "targets": targets},
          x, [ref64], [ref32 - ref64])


def cabrnet_composite(model):
    return get_cabrnet_lrp_composite_model(model).eval()


def prp_reference(composite, x, proto: int, location) -> np.ndarray:
    """CaBRNet prp()'s raw relevance, per image (its prp() takes one image at a time): its
    location selection, then one Captum LRP call per selected location on CaBRNet's
    composite, summed (CaBRNet's own loop)."""
    out = []
    for xi in x.split(1):
        with torch.no_grad():
            sim = composite.similarities(xi)[0, proto].double().numpy()
        if location == "max":
            h0, w0 = (int(v[0]) for v in np.where(sim == np.max(sim)))
            threshold = sim[h0, w0]
        elif isinstance(location, list):
            h0, w0 = location
            threshold = sim[h0, w0]
        else:
            h0, w0, threshold = -1, -1, location["threshold"]
        total = np.zeros(tuple(x.shape[1:]))
        for h in range(sim.shape[0]):
            if 0 <= h0 != h:
                continue
            for w in range(sim.shape[1]):
                if 0 <= w0 != w or sim[h, w] < threshold:
                    continue
                total += CaptumLRP(composite).attribute(xi, target=(proto, h, w))[0].detach().double().numpy()
                attach_lrp_comp_rules(composite)  # Captum removes the rules after each call
        out.append(total)
    return np.stack(out)


def prp_case(case: str, name: str, proto: int, location) -> None:
    model = build(name)
    x = input_for(case)
    rel = check_same_export(name, model, x, os.path.join(OUT, case + ".tmp"))
    c32 = cabrnet_composite(model)
    c64 = cabrnet_composite(copy.deepcopy(model)).double()
    ref32 = prp_reference(c32, x, proto, location)
    ref64 = prp_reference(c64, x.double(), proto, location)
    with torch.no_grad():
        sim32 = c32(x).double().numpy()
        sim64 = c64(x.double()).numpy()
    write(case, {"model": rel, "kind": "prp", "config": CABRNET_COMPOSITE, "prototype": proto,
                 "location": location},
          x, [ref64, sim64], [ref32 - ref64, sim32 - sim64])


def composite_case(case: str, name: str) -> None:
    model = build(name)
    x = input_for(case)
    rel = check_same_export(name, model, x, os.path.join(OUT, case + ".tmp"))
    with torch.no_grad():
        s32 = cabrnet_composite(model)(x).double().numpy()
        s64 = cabrnet_composite(copy.deepcopy(model)).double()(x.double()).numpy()
    write(case, {"model": rel, "kind": "composite", "config": CABRNET_COMPOSITE}, x, [s64], [s32 - s64])


def write(case: str, spec: dict, x: torch.Tensor, expected: list[np.ndarray], f32_error: list[np.ndarray]) -> None:
    spec = dict(spec, reference_f32_error=[float(np.abs(e).max()) for e in f32_error])
    with open(os.path.join(OUT, case + ".json"), "w") as f:
        json.dump(spec, f, indent=1, sort_keys=True)
        f.write("\n")
    tensors = {"input_0": x.detach().float().numpy()}
    tensors.update({f"expected_{i}": e.astype(np.float32) for i, e in enumerate(expected)})
    _safetensors.save_file(tensors, os.path.join(OUT, case + ".io.safetensors"))
    scale = float(np.abs(expected[0]).max())
    print(f"{case:34s} {spec['kind']:9s} max|ref| {scale:.3g}, reference f32 error "
          f"{spec['reference_f32_error'][0] / scale:.2e} relative")


def main() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:  # CaBRNet logs a warning for every legacy similarity layer it builds
        from loguru import logger
        logger.remove()
    except ImportError:
        pass
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    # Captum LRP with rules whose float32 results are well-conditioned on these models
    # (reference_f32_error ≲ 1e-5 relative; γ or α1β0 on vgg_like's BatchNorm-ε layers is
    # not: 3e-4).
    lrp_case("lrp_vgg_like_eps", "vgg_like",
             lambda: lrp_rules.EpsilonRule(epsilon=0.1), lambda: lrp_rules.EpsilonRule(epsilon=0.1), [3, 7])
    lrp_case("lrp_resnet_like_gamma", "resnet_like",
             lambda: lrp_rules.GammaRule(gamma=0.25), lambda: lrp_rules.EpsilonRule(epsilon=0.1), [4, 1])
    lrp_case("lrp_resnet_like_eps", "resnet_like",
             lambda: lrp_rules.EpsilonRule(epsilon=0.1), lambda: lrp_rules.EpsilonRule(epsilon=0.1), [0, 9])
    lrp_case("lrp_resnet_like_alpha1beta0", "resnet_like",
             lambda: lrp_rules.Alpha1_Beta0_Rule(), lambda: lrp_rules.EpsilonRule(epsilon=0.1), [5, 2])
    # CaBRNet's PRP composite: its forward, and PRP heatmaps in each location mode.
    composite_case("composite_small_trunk", "protopnet_small_trunk")
    composite_case("composite_resnet18_layer1", "protopnet_resnet18_layer1")
    prp_case("prp_small_trunk_max", "protopnet_small_trunk", 4, "max")
    prp_case("prp_small_trunk_at", "protopnet_small_trunk", 7, [0, 3])
    prp_case("prp_small_trunk_threshold", "protopnet_small_trunk", 2, {"threshold": 0.0})
    prp_case("prp_resnet18_layer1_max", "protopnet_resnet18_layer1", 11, "max")


if __name__ == "__main__":
    main()
