"""prpkit's corrected composite (docs/corrected-composite.md)."""

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module

import prpkit
from prpkit.prp_utils import get_cabrnet_lrp_composite_model, get_corrected_lrp_composite_model

from test_prp_composite import build_protopnet


@pytest.fixture(scope="module")
def model_and_input():
    model = build_protopnet("resnet18", "layer2")
    torch.manual_seed(2)
    return model, torch.randn(1, 3, 96, 96)


def test_similarity_map_is_the_models_own(model_and_input):
    """Exact BatchNorm merge: the composite computes the model's activations, so its map
    equals the model's own similarity map."""
    model, x = model_and_input
    with torch.no_grad():
        own = model.similarities(x).numpy()
    corrected = get_corrected_lrp_composite_model(model, example_input=x).similarities(x.numpy())
    # BatchNorm folding reorders float32 arithmetic: 1e-5 relative covers it (measured 5e-6).
    assert np.abs(corrected - own).max() <= 1e-5 * np.abs(own).max()


def test_exact_merge_keeps_the_models_forward():
    """On a plain ResNet18 (no saturating sigmoid): the corrected extractor composite gives
    the model's logits, CaBRNet's (reset BatchNorms, each still dividing by √(1 + 1e-5))
    drifts by about 20 × 5e-6 relative."""
    import torchvision
    from prpkit.prp_utils import get_extractor_lrp_composite_model
    from conftest import randomize_batch_norms
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None)
    randomize_batch_norms(net, seed=3)
    net.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        own = net(x).numpy()
    corrected = get_corrected_lrp_composite_model(net, similarity_head=False, example_input=x)(x.numpy())
    cabrnet_style = get_extractor_lrp_composite_model(net, set_bias_to_zero=True, example_input=x)(x.numpy())
    err_corrected = np.abs(corrected - own).max() / np.abs(own).max()
    err_cabrnet = np.abs(cabrnet_style - own).max() / np.abs(own).max()
    assert err_corrected <= 1e-5, err_corrected
    assert err_cabrnet > 1e-5, err_cabrnet


def test_rules_and_conservation(model_and_input):
    model, x = model_and_input
    comp = get_corrected_lrp_composite_model(model, example_input=x)
    rules = comp.rules
    first = rules["extractor.convnet.conv1"]
    assert first["rule"] == "zbeta"
    np.testing.assert_allclose(first["lower_bound"], [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225], rtol=1e-6)
    np.testing.assert_allclose(first["upper_bound"], [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225],
                               rtol=1e-6)
    assert not any(".bn" in name or "downsample.1" in name for name in rules), "BatchNorms must be gone"
    assert rules["extractor.add_on.sigmoid1"] == {"rule": "identity"}
    sums = [r for r in rules.values() if r and r["rule"] == "stacked_sum"]
    assert sums and all(r.get("epsilon_on_sign") for r in sums)
    sim = comp.similarities(x.numpy())
    p, h, w = np.unravel_index(np.argmax(sim[0]), sim.shape[1:])
    rel, delta = prpkit.LRP(comp).attribute(x, target=(int(p), int(h), int(w)), return_convergence_delta=True)
    assert np.isfinite(rel.numpy()).all()
    assert abs(float(delta[0])) <= 1e-3 * abs(float(sim[0, p, h, w]))


def test_bad_normalisation_is_an_error(model_and_input):
    model, x = model_and_input
    with pytest.raises(prpkit.InvalidArgumentError):
        get_corrected_lrp_composite_model(model, input_mean=(0.5,), input_std=(0.2,), example_input=x)
    with pytest.raises(prpkit.InvalidArgumentError):
        get_corrected_lrp_composite_model(model, input_mean=(0.5, 0.5, 0.5), input_std=(0.2, 0.0, 0.2), example_input=x)
