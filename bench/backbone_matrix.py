"""Which trunk works where: Captum 0.9's default LRP and prpkit.LRP on the torchvision
classifier, and PRP (CaBRNet 1.2's composite + Captum; prpkit's CaBRNet-compatible and
corrected composites) on a CaBRNet ProtoPNet with that trunk. Random weights; prints a
Markdown table ("ok" = runs and gives finite relevance, else the error's type).

    python3 bench/backbone_matrix.py [--size 96]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "tests"))

TRUNKS = [("vgg16_bn", "features"), ("resnet50", "layer4"), ("densenet121", "features"),
          ("mobilenet_v2", "features"), ("efficientnet_b0", "features"), ("convnext_tiny", "features")]


def outcome(run) -> str:
    try:
        r = np.asarray(run())
    except Exception as e:  # the point is to report every failure
        return f"fails ({type(e).__name__})"
    return "ok" if np.isfinite(r).all() else "non-finite"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=96, help="input side in pixels")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    import torch
    from captum.attr import LRP
    from cabrnet.core.visualization import prp_utils as cabrnet_prp
    import conftest  # noqa: F401  (the tests' model builders)
    from conftest import make_torchvision
    from test_prp_composite import build_protopnet
    import prpkit
    from prpkit.prp_utils import get_cabrnet_lrp_composite_model, get_corrected_lrp_composite_model

    torch.set_num_threads(2)
    x = torch.rand(1, 3, args.size, args.size)
    print("| trunk | Captum LRP (classifier) | prpkit.LRP (classifier) | CaBRNet PRP (ProtoPNet) "
          "| prpkit PRP, CaBRNet's composite | prpkit PRP, corrected |")
    print("|---|---|---|---|---|---|")
    for arch, layer in TRUNKS:
        net = make_torchvision(arch)
        protopnet = build_protopnet(arch, layer)
        cells = [
            outcome(lambda: LRP(net).attribute(x.clone(), target=0).detach()),
            outcome(lambda: prpkit.LRP(net).attribute(x.clone(), target=0)),
            outcome(lambda: LRP(cabrnet_prp.get_cabrnet_lrp_composite_model(protopnet).eval())
                    .attribute(x.clone(), target=(0, 1, 1)).detach()),
            outcome(lambda: prpkit.LRP(get_cabrnet_lrp_composite_model(protopnet, example_input=x))
                    .attribute(x.numpy(), target=(0, 1, 1))),
            outcome(lambda: prpkit.LRP(get_corrected_lrp_composite_model(protopnet, example_input=x))
                    .attribute(x.numpy(), target=(0, 1, 1))),
        ]
        print(f"| {arch} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
