"""Shared fixtures: torch reference models (random weights, eval mode) and their prpkit conversions.

Conversions are cached per test session: each torch model is converted once. Without
torch (the numpy-only pass of scripts/test_wheel.sh) the torch helpers below are not
called: the modules that need torch skip themselves (pytest.importorskip).
"""
from __future__ import annotations

import glob
import os
import sys

# `cd python && python -m pytest tests` puts the source folder on sys.path, where
# `prpkit` has no built extension; test the installed package instead (unless the
# extension was built in place).
_SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if not glob.glob(os.path.join(_SRC, "prpkit", "_core*.so")):
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _SRC]
    for _name in [m for m in sys.modules if m == "prpkit" or m.startswith("prpkit.")]:
        del sys.modules[_name]

import numpy as np
import pytest

import prpkit

try:
    import torch
except ImportError:  # a numpy-only install
    torch = None
else:
    torch.set_num_threads(2)


def randomize_batch_norms(module: torch.nn.Module, seed: int) -> None:
    """Non-trivial BatchNorm statistics and affine parameters (defaults would make them no-ops)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                m.weight.copy_(0.8 + 0.4 * torch.rand(n, generator=g))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))


def assert_close_rel(actual, expected, rel=1e-4, what=""):
    """max|actual − expected| ≤ rel · max|expected| (the spine's forward tolerance)."""
    a = actual.detach().numpy() if hasattr(actual, "detach") else np.asarray(actual)
    e = expected.detach().numpy() if hasattr(expected, "detach") else np.asarray(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    assert a.dtype == np.float32, f"{what}: dtype {a.dtype}"
    scale = float(np.max(np.abs(e)))
    diff = float(np.max(np.abs(a.astype(np.float64) - e.astype(np.float64))))
    assert diff <= rel * scale, f"{what}: max|diff| = {diff:.3g} > {rel} * max|ref| = {rel * scale:.3g}"
    return diff, scale


def make_torchvision(name: str) -> torch.nn.Module:
    import torchvision
    torch.manual_seed(0)
    m = getattr(torchvision.models, name)(weights=None)
    randomize_batch_norms(m, seed=1)
    return m.eval()


CABRNET_PROTOPNET_RESNET18 = {
    "extractor": {
        "backbone": {"arch": "resnet18", "weights": "None", "layer": "layer4"},
        "add_on": {
            "conv1": {"type": "Conv2d", "params": {"out_channels": 128, "kernel_size": 1}},
            "relu1": {"type": "ReLU"},
            "conv2": {"type": "Conv2d", "params": {"out_channels": 128, "kernel_size": 1}},
            "sigmoid1": {"type": "Sigmoid"},
        },
    },
    "classifier": {"module": "cabrnet.archs.protopnet.decision", "name": "ProtoPNetClassifier",
                   "params": {"num_classes": 10, "num_proto_per_class": 10}},
    "similarity": {"name": "ProtoPNetSimilarity"},
    "top_arch": {"module": "cabrnet.archs.protopnet.model", "name": "ProtoPNet"},
}


def make_protopnet() -> torch.nn.Module:
    """A CaBRNet 1.2 ProtoPNet built from a config dict (as CaBRNet's yml files), ResNet18 trunk."""
    try:
        from loguru import logger
        logger.remove()
    except ImportError:
        pass
    from cabrnet.archs.generic.model import CaBRNet
    torch.manual_seed(0)
    m = CaBRNet.build_from_config(CABRNET_PROTOPNET_RESNET18)
    randomize_batch_norms(m, seed=2)
    with torch.no_grad():  # prototypes in the range of the add-on's sigmoid output
        m.classifier.prototypes.copy_(torch.rand_like(m.classifier.prototypes))
    return m.eval()


_TORCH: dict[str, torch.nn.Module] = {}
_PRP: dict[str, prpkit.Model] = {}


def torch_model(name: str) -> torch.nn.Module:
    if name not in _TORCH:
        _TORCH[name] = make_protopnet() if name == "protopnet_resnet18" else make_torchvision(name)
    return _TORCH[name]


def prpkit_model(name: str) -> prpkit.Model:
    if name not in _PRP:
        _PRP[name] = prpkit.from_torch(torch_model(name), torch.zeros(1, 3, 224, 224))
    return _PRP[name]


@pytest.fixture(autouse=True, scope="module")
def _release_module_caches(request):
    """Drops what a test module cached once it has finished: the shared torch models and
    their conversions, the module's own functools caches, prpkit's conversion cache.

    Without this the session keeps every model any module ever built (vgg16_bn,
    resnet50, CaBRNet trunks with their composites, ...) and pytest grows past 6 GB,
    which is more than this suite needs at any one time.
    """
    yield
    import functools
    import gc
    for value in vars(request.module).values():
        if isinstance(value, functools._lru_cache_wrapper):
            value.cache_clear()
    _TORCH.clear()
    _PRP.clear()
    from prpkit import _torch_cache
    _torch_cache.clear()
    gc.collect()


@pytest.fixture(scope="session")
def resnet18_pair():
    return torch_model("resnet18"), prpkit_model("resnet18")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def assert_same_nodes(a: list, b: list) -> None:
    """Equal graphs up to float attributes rounded to float32 (the library stores them as float32)."""
    def norm(v):
        if isinstance(v, float):
            return float(np.float32(v))
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v
    assert norm(a) == norm(b)
