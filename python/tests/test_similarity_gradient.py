"""The prototype head: the ordinary backward (rule "gradient") of l2_distance,
log_similarity, exp_similarity, and the similarity rule by contribution — against torch
autograd of the model's own similarity map.

With the gradient rule on every node, `LRP.attribute(x, target=(p, h, w))` is the seed
S[p, h, w] times ∂S[p, h, w]/∂x (what bench/faithfulness.py's gradient × input uses).
Tolerance 1e-4 of the largest |value|: float32 through a ResNet18 trunk, both sides in
different summation orders (measured ≤ 4e-6)."""

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module

import prpkit
from prpkit._composite import CompositeModel
from prpkit.prp_utils import get_corrected_lrp_composite_model

from test_prp_composite import build_protopnet
from test_prototype_classifiers import build

CASES = {
    "protopnet log similarity": lambda: build_protopnet("resnet18", "layer2"),
    "prototree exp similarity": lambda: build("prototree", "resnet18"),
    "prototree legacy distance": lambda: build("prototree", "resnet18", "LegacyProtoTreeSimilarity"),
    "prototree log probabilities": lambda: _log_probabilities(build("prototree", "resnet18")),
}


def _log_probabilities(model):
    model.classifier.similarity_layer.log_probabilities = True  # s = −√(|d| + ε)
    return model


def gradient_everywhere(composite: CompositeModel) -> CompositeModel:
    config = composite.config
    config["rules"] = {"by_node": {name: {"rule": "gradient"} for name in composite.rules}}
    return CompositeModel(composite._source, config)


@pytest.mark.parametrize("case", list(CASES))
def test_gradient_through_the_similarity_head(case):
    model = CASES[case]()
    torch.manual_seed(2)
    x = torch.randn(1, 3, 64, 64)
    grad = gradient_everywhere(get_corrected_lrp_composite_model(model, example_input=x))
    sim = grad.similarities(x.numpy())[0]
    # a location other than the maximum too: the gradient does not depend on the seed's place
    targets = [np.unravel_index(int(np.argmax(sim)), sim.shape), (sim.shape[0] - 1, 0, sim.shape[2] - 1)]
    for p, h, w in targets:
        got = prpkit.LRP(grad).attribute(x, target=(int(p), int(h), int(w))).numpy()
        xx = x.clone().requires_grad_(True)
        s = model.similarities(xx)[0, p, h, w]
        s.backward()
        expected = (float(s) * xx.grad).numpy()
        assert np.abs(expected).max() > 0
        err = np.abs(got - expected).max() / np.abs(expected).max()
        assert err <= 1e-4, f"{case} at {(p, h, w)}: {err:.2e}"
    if case == "prototree log probabilities":
        assert (sim < 0).all(), "−√(|d| + ε) expected"


@pytest.mark.parametrize("case", ["protopnet log similarity", "prototree exp similarity"])
def test_similarity_rule_by_contribution(case):
    """`prototype_similarity` with `"weighting": "contribution"` (the corrected
    composite's): R_f[c] = f_c·∂s/∂f_c / Σ_c f_c·∂s/∂f_c · s at the explained location,
    with ∂s/∂f from torch autograd of the model's own similarity. The trunk runs the
    gradient rule, so the input relevance is J_fᵀ R_f (torch autograd again)."""
    model = CASES[case]()
    torch.manual_seed(3)
    x = torch.randn(1, 3, 64, 64)
    comp = gradient_everywhere(get_corrected_lrp_composite_model(model, example_input=x))
    config = comp.config
    config["rules"]["by_node"]["classifier.distances"] = {"rule": "prototype_similarity", "weighting": "contribution"}
    config["rules"]["by_node"]["classifier.lrp_similarity"] = {"rule": "pass_through"}  # S arrives at the distance
    comp = CompositeModel(comp._source, config)
    assert comp.rules["classifier.distances"]["weighting"] == "contribution"
    sim = comp.similarities(x.numpy())[0]
    p, h, w = (int(v) for v in np.unravel_index(int(np.argmax(sim)), sim.shape))
    got = prpkit.LRP(comp).attribute(x, target=(p, h, w)).numpy()

    xx = x.clone().requires_grad_(True)
    f = model.features(xx)
    fd = f.detach().requires_grad_(True)
    s = model.classifier.similarities(fd)[0, p, h, w]
    (ds,) = torch.autograd.grad(s, fd)
    contribution = fd.detach() * ds
    r_f = contribution / contribution[0, :, h, w].sum() * s.detach()
    (expected,) = torch.autograd.grad(f, xx, grad_outputs=r_f)
    expected = expected.numpy()
    assert float(r_f.sum()) == pytest.approx(float(s), rel=1e-5)  # conservative at the head
    err = np.abs(got - expected).max() / np.abs(expected).max()
    assert err <= 1e-4, f"{case}: {err:.2e}"


def test_similarity_weighting_must_be_known():
    model = CASES["protopnet log similarity"]()
    x = torch.randn(1, 3, 64, 64)
    comp = get_corrected_lrp_composite_model(model, example_input=x)
    config = comp.config
    config["rules"] = {"by_node": {"classifier.distances": {"rule": "prototype_similarity", "weighting": "flat"}}}
    with pytest.raises(prpkit.InvalidArgumentError, match="weighting"):
        CompositeModel(comp._source, config)
