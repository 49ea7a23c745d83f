"""prpkit.LRP with the named composites vs zennit 0.5.1: wall time and agreement, same run.

torchvision vgg16_bn and resnet50 (random weights, BatchNorm statistics randomised as in
the tests), one 1×3×SIZE×SIZE image with pixels in [0, 1], class 3, 2 threads for both.
zennit uses its torchvision canonizers and the start relevance one-hot × score. Times are
medians of REPS calls, each on an input no earlier call saw (x + k·2⁻¹⁴: prpkit keeps the
last forward pass); prpkit's first call (conversion, canonization) is not timed.

Agreement: max|prpkit − zennit| / max|zennit|, and both against zennit run in float64
(model.double(), untimed), which tells rounding on either side from a disagreement.

Usage: python3 bench/composites_vs_zennit.py [--size 224] [--reps 3] [--models vgg16_bn,resnet50]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from zennit import composites as zc
from zennit.attribution import Gradient
from zennit.torchvision import ResNetCanonizer, VGGCanonizer

import prpkit
from prpkit import composites


def make(name: str) -> torch.nn.Module:
    import torchvision
    torch.manual_seed(0)
    m = getattr(torchvision.models, name)(weights=None)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for bn in (b for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d)):
            n = bn.num_features
            bn.running_mean.copy_(0.1 * torch.randn(n, generator=g))
            bn.running_var.copy_(0.5 + torch.rand(n, generator=g))
            bn.weight.copy_(0.8 + 0.4 * torch.rand(n, generator=g))
            bn.bias.copy_(0.1 * torch.randn(n, generator=g))
    return m.eval()


CASES = {
    "EpsilonPlus": (lambda c: zc.EpsilonPlus(canonizers=[c()]), lambda: composites.EpsilonPlus()),
    "EpsilonAlpha2Beta1": (lambda c: zc.EpsilonAlpha2Beta1(canonizers=[c()]), lambda: composites.EpsilonAlpha2Beta1()),
    "EpsilonGammaBox": (lambda c: zc.EpsilonGammaBox(low=-3.0, high=3.0, canonizers=[c()]),
                        lambda: composites.EpsilonGammaBox(low=-3.0, high=3.0)),
}


def zennit_relevance(model, composite, x, target=3):
    with Gradient(model=model, composite=composite) as attributor:
        _, r = attributor(x, lambda o: torch.nn.functional.one_hot(torch.tensor([target]), o.shape[1]).to(o) * o)
    return r.detach()


def rel(a, b) -> float:
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / b.abs().max())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--models", default="vgg16_bn,resnet50")
    args = p.parse_args()
    torch.set_num_threads(2)
    prpkit.set_num_threads(2)
    for arch in args.models.split(","):
        model = make(arch)
        model64 = copy.deepcopy(model).double()
        canonizer = VGGCanonizer if arch.startswith("vgg") else ResNetCanonizer
        x0 = torch.rand(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
        for name, (make_zennit, make_prpkit) in CASES.items():
            lrp = prpkit.LRP(model, composite=make_prpkit())
            lrp.attribute(x0, target=3)  # conversion + canonization (shared by the composites)
            tz, tp = [], []
            for k in range(args.reps):
                x = x0 + (k + 1) * 2.0 ** -14
                t = time.perf_counter()
                rz = zennit_relevance(model, make_zennit(canonizer), x)
                tz.append(time.perf_counter() - t)
                t = time.perf_counter()
                rp = lrp.attribute(x, target=3)
                tp.append(time.perf_counter() - t)
            r64 = zennit_relevance(model64, make_zennit(canonizer), x.double())
            mz, mp = statistics.median(tz), statistics.median(tp)
            print(f"{arch} {args.size}px {name}: zennit {mz * 1e3:.0f} ms, prpkit {mp * 1e3:.0f} ms "
                  f"(ratio {mp / mz:.2f}); prpkit vs zennit {rel(rp, rz):.2g}, vs zennit-float64: "
                  f"prpkit {rel(rp, r64):.2g}, zennit-float32 {rel(rz, r64):.2g}", flush=True)


if __name__ == "__main__":
    main()
