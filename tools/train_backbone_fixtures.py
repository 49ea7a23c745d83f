#!/usr/bin/env python3
"""Trains one small CaBRNet 1.2 ProtoPNet per modern trunk family on scikit-learn's digits
(as tools/train_bundled_model.py prepares them: 32 × 32, ImageNet-normalised) and writes
them in the prpkit model format, for the faithfulness check of their PRP heatmaps
(python/tests/test_backbone_faithfulness.py).

    python3 tools/train_backbone_fixtures.py        # ≈ 1–3 minutes on 2 cores

Trunks (torchvision's own classes, shrunk): DenseNet (growth 8, blocks (2, 2)), MobileNetV2
(width 0.25, its first 7 stages), EfficientNet (MBConv 1×, 6× with squeeze-excitation),
ConvNeXt (16 → 32 channels, 2 blocks each). Each gets an add-on Conv1×1-ReLU-Conv1×1-Sigmoid
(32 features) and 2 prototypes per class, and is trained with CaBRNet's ProtoPNet loss for a
few epochs (no projection: the test needs a model that recognises digits, not a polished
one). Seeded and single-threaded, so a re-run gives the same files.

Output: python/tests/fixtures/backbones/<family>.prpkit and held-out.npz (200 held-out images,
uint8 32 × 32 gray, with labels); the accuracy of each model is printed.
"""

from __future__ import annotations

import collections
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "python", "tests", "fixtures", "backbones")
sys.path.insert(0, os.path.join(ROOT, "tools"))

from train_bundled_model import SEED, run_epochs, split, to_tensor  # noqa: E402


def trunks() -> dict:
    import torchvision.models as tvm
    from torchvision.models.convnext import CNBlockConfig
    from torchvision.models.efficientnet import MBConvConfig
    return {
        "densenet": lambda: tvm.DenseNet(growth_rate=8, block_config=(2, 2), num_init_features=16).features,
        "mobilenet": lambda: tvm.mobilenet_v2(width_mult=0.25).features[:7],
        "efficientnet": lambda: tvm.EfficientNet([MBConvConfig(1, 3, 1, 16, 16, 1), MBConvConfig(6, 3, 2, 16, 24, 2)],
                                                 dropout=0.0).features,
        "convnext": lambda: tvm.ConvNeXt([CNBlockConfig(16, 32, 2), CNBlockConfig(32, None, 2)],
                                         layer_scale=0.5).features,
    }


def protopnet(trunk: torch.nn.Module, features: int = 32, per_class: int = 2):
    """A CaBRNet ProtoPNet (built from a config, as CaBRNet's yml files describe one) whose
    trunk is replaced by `trunk` seen through torchvision's feature extractor, as CaBRNet's
    ConvExtractor holds it."""
    from loguru import logger
    logger.remove()
    from cabrnet.archs.generic.model import CaBRNet
    from torchvision.models.feature_extraction import create_feature_extractor
    config = {
        "extractor": {"backbone": {"arch": "resnet18", "weights": "None", "layer": "layer2"},
                      "add_on": {"conv1": {"type": "Conv2d", "params": {"out_channels": features, "kernel_size": 1}},
                                 "relu1": {"type": "ReLU"},
                                 "conv2": {"type": "Conv2d", "params": {"out_channels": features, "kernel_size": 1}},
                                 "sigmoid1": {"type": "Sigmoid"}}},
        "classifier": {"module": "cabrnet.archs.protopnet.decision", "name": "ProtoPNetClassifier",
                       "params": {"num_classes": 10, "num_proto_per_class": per_class}},
        "similarity": {"name": "ProtoPNetSimilarity"},
        "top_arch": {"module": "cabrnet.archs.protopnet.model", "name": "ProtoPNet"},
    }
    model = CaBRNet.build_from_config(config)
    wrapper = torch.nn.Sequential(collections.OrderedDict(trunk=trunk))
    model.extractor.convnet = create_feature_extractor(wrapper, {"trunk": "convnet"})
    with torch.no_grad():
        channels = model.extractor.convnet(torch.zeros(1, 3, 32, 32))["convnet"].shape[1]
    model.extractor.add_on.conv1 = torch.nn.Conv2d(channels, features, 1)
    return model


def train(model, x, y, label, epochs=6, batch=64, lr=2e-3):
    run_epochs(model, model.parameters(), x, y, epochs, lr, batch, torch.Generator().manual_seed(SEED), label)
    return model.eval()


def main() -> None:
    import prpkit
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    gray, labels, idx_train, idx_test = split()
    x_train, y_train = torch.from_numpy(to_tensor(gray[idx_train])), torch.from_numpy(labels[idx_train])
    held = idx_test[:200]
    x_test, y_test = to_tensor(gray[held]), labels[held]
    os.makedirs(OUT, exist_ok=True)
    np.savez_compressed(os.path.join(OUT, "held-out.npz"), gray=gray[held], labels=y_test)
    for name, make in trunks().items():
        torch.manual_seed(SEED)
        model = train(protopnet(make()), x_train, y_train, name)
        with torch.no_grad():
            acc = float((model(torch.from_numpy(x_test))[0].argmax(1).numpy() == y_test).mean())
        prpkit.save(prpkit.from_torch(model, torch.from_numpy(x_test[:1])), os.path.join(OUT, f"{name}.prpkit"))
        print(f"{name}: held-out accuracy {acc:.3f}", flush=True)


if __name__ == "__main__":
    main()
