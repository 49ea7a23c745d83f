"""The seed's PRP composite against CaBRNet 1.2 + Captum 0.9, live.

prpkit's attribution for a similarity-map target (p, h, w) must equal Captum's LRP on
CaBRNet's own composite (``get_cabrnet_lrp_composite_model(model).eval()``), for both
ways a user arrives: a plain CaBRNet model (prpkit builds the composite natively) and
CaBRNet's composite module itself.

Tolerance: max|diff| ≤ 1e-4·max|reference| (the issue allows 1e-3). Both sides run the
same float32 formulas; they differ in summation order only (GEMM blocking vs oneDNN),
and the composite's rules (z^B, α1β0 with ε = 1e-6, StackedSum) are well conditioned:
measured errors are 3e-7 … 2e-5 relative.
"""

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module

import prpkit
from prpkit.prp_utils import get_cabrnet_lrp_composite_model as prpkit_composite

cabrnet_prp = pytest.importorskip("cabrnet.core.visualization.prp_utils")
from captum.attr import LRP as CaptumLRP  # noqa: E402

from conftest import randomize_batch_norms  # noqa: E402

REL_TOL = 1e-4


def build_protopnet(arch: str, layer: str, protos_per_class: int = 3, classes: int = 4, features: int = 32):
    """A CaBRNet 1.2 ProtoPNet from a config dict, as CaBRNet's yml files describe it."""
    from loguru import logger
    logger.remove()
    from cabrnet.archs.generic.model import CaBRNet
    config = {
        "extractor": {
            "backbone": {"arch": arch, "weights": "None", "layer": layer},
            "add_on": {
                "conv1": {"type": "Conv2d", "params": {"out_channels": features, "kernel_size": 1}},
                "relu1": {"type": "ReLU"},
                "conv2": {"type": "Conv2d", "params": {"out_channels": features, "kernel_size": 1}},
                "sigmoid1": {"type": "Sigmoid"},
            },
        },
        "classifier": {"module": "cabrnet.archs.protopnet.decision", "name": "ProtoPNetClassifier",
                       "params": {"num_classes": classes, "num_proto_per_class": protos_per_class}},
        "similarity": {"name": "ProtoPNetSimilarity"},
        "top_arch": {"module": "cabrnet.archs.protopnet.model", "name": "ProtoPNet"},
    }
    torch.manual_seed(0)
    model = CaBRNet.build_from_config(config)
    randomize_batch_norms(model, seed=5)
    with torch.no_grad():  # prototypes in the range of the add-on's sigmoid
        model.classifier.prototypes.copy_(torch.rand_like(model.classifier.prototypes))
    return model.eval()


MODELS = {
    # name: (arch, layer, input size)
    "vgg11_bn": ("vgg11_bn", "features", 96),
    "resnet18": ("resnet18", "layer4", 128),
    "resnet50": ("resnet50", "layer4", 96),
}
_CACHE = {}


def case(name):
    if name not in _CACHE:
        arch, layer, size = MODELS[name]
        model = build_protopnet(arch, layer)
        torch.manual_seed(1)
        x = torch.randn(1, 3, size, size)
        reference = cabrnet_prp.get_cabrnet_lrp_composite_model(model).eval()
        _CACHE[name] = (model, reference, x)
    return _CACHE[name]


def captum_attribution(reference, x, target):
    a = CaptumLRP(reference).attribute(x, target=target).detach().numpy()
    cabrnet_prp.attach_lrp_comp_rules(reference)  # Captum deletes the rules after each call
    return a


def targets_for(similarity: np.ndarray):
    """Three (p, h, w) targets: the global maximum, a corner, and a middle location."""
    p, h, w = np.unravel_index(np.argmax(similarity[0]), similarity.shape[1:])
    _, _, hs, ws = similarity.shape
    return [(int(p), int(h), int(w)), (1, 0, 0), (similarity.shape[1] - 1, hs // 2, ws // 2)]


@pytest.mark.parametrize("name", list(MODELS))
def test_native_composite_equals_cabrnet(name):
    model, reference, x = case(name)
    composite = prpkit_composite(model, example_input=x)
    sim_ref = reference.similarities(x).detach().numpy()
    sim = composite.similarities(x.numpy())
    assert np.abs(sim - sim_ref).max() <= REL_TOL * np.abs(sim_ref).max()
    lrp = prpkit.LRP(composite)
    for target in targets_for(sim_ref):
        ref = captum_attribution(reference, x, target)
        got, delta = lrp.attribute(x, target=target, return_convergence_delta=True)
        err = np.abs(got.numpy() - ref).max() / np.abs(ref).max()
        assert err <= REL_TOL, f"{name} {target}: max|diff|/max|ref| = {err:.2e}"
        # Conservation (reported, not asserted: PRP is not conservative):
        score = float(sim_ref[(0,) + target])
        print(f"{name} {target}: err {err:.2e}, score {score:.4g}, sum(relevance) {float(got.sum()):.4g}, "
              f"delta {float(delta[0]):.3g}")


@pytest.mark.parametrize("name", ["resnet18", "vgg11_bn"])
def test_cabrnet_composite_module_equals_cabrnet(name):
    """Swapping only `from captum.attr import LRP` for `from prpkit import LRP` works."""
    model, reference, x = case(name)
    lrp = prpkit.LRP(reference)
    sim_ref = reference.similarities(x).detach().numpy()
    for target in targets_for(sim_ref)[:2]:
        ref = captum_attribution(reference, x, target)
        got = lrp.attribute(x, target=target).numpy()
        err = np.abs(got - ref).max() / np.abs(ref).max()
        assert err <= REL_TOL, f"{name} {target}: max|diff|/max|ref| = {err:.2e}"


def test_composite_rules_follow_the_seed():
    model, _, x = case("resnet18")
    rules = prpkit_composite(model, example_input=x).rules
    convs = [n for n, r in rules.items() if r and r["rule"] in ("zbeta", "prp_alpha1_beta0")]
    assert rules["extractor.convnet.conv1"]["rule"] == "zbeta"
    assert all(rules[n]["rule"] == "prp_alpha1_beta0" for n in convs if n != "extractor.convnet.conv1")
    assert rules["extractor.convnet.maxpool"] == {"rule": "gradient"}
    assert rules["extractor.convnet.bn1"] == {"rule": "identity"}
    assert sum(1 for r in rules.values() if r and r["rule"] == "stacked_sum") == 8  # ResNet18: 8 residual adds
    assert any(r and r["rule"] == "prototype_similarity" for r in rules.values())


def test_batchnorm_without_conv_passes_relevance_through():
    """CaBRNet raises on a BatchNorm with no conv before it (DenseNet's BN → ReLU → conv);
    prpkit keeps it and gives it pass-through (docs/backbones.md)."""
    net = torch.nn.Sequential(torch.nn.BatchNorm2d(3), torch.nn.Conv2d(3, 4, 3)).eval()
    with pytest.raises(Exception, match="BatchNorm|merge"):
        cabrnet_prp.get_cabrnet_lrp_composite_model(net)
    composite = prpkit_composite(net, example_input=torch.zeros(1, 3, 8, 8))
    assert composite.rules["0"] == {"rule": "pass_through"}
