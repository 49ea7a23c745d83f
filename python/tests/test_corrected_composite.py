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


def test_rules(model_and_input):
    model, x = model_and_input
    rules = get_corrected_lrp_composite_model(model, example_input=x).rules
    convs = [n for n, r in rules.items() if r and r["rule"] == "epsilon"]
    assert convs[0] == "extractor.convnet.conv1" and len(convs) > 5
    assert all(rules[n] == {"rule": "epsilon", "epsilon": 1e-6} for n in convs)
    assert not any(r and r["rule"] in ("zbeta", "prp_alpha1_beta0") for r in rules.values())
    assert not any(".bn" in name or "downsample.1" in name for name in rules), "BatchNorms must be gone"
    assert rules["extractor.add_on.sigmoid1"] == {"rule": "identity"}
    sums = [r for r in rules.values() if r and r["rule"] == "stacked_sum"]
    assert sums and all(r.get("epsilon_on_sign") for r in sums)
    assert rules["classifier.distances"] == {"rule": "prototype_similarity", "stability_factor": 1e-6,
                                             "weighting": "contribution"}
    # z^B on request, with per-channel bounds
    first = get_corrected_lrp_composite_model(model, example_input=x, use_zbeta=True).rules["extractor.convnet.conv1"]
    assert first["rule"] == "zbeta"
    np.testing.assert_allclose(first["lower_bound"], [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225], rtol=1e-6)
    np.testing.assert_allclose(first["upper_bound"], [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225],
                               rtol=1e-6)


def test_relevance_against_lrp_epsilon_written_out():
    """The whole corrected composite on a small CaBRNet ProtoPNet (VGG11-BN cut after its
    first conv block, add-on, sigmoid) against LRP written out in torch: similarity rule by
    contribution, identity through the sigmoid, LRP-ε (bias in the denominator) on the
    add-on convs and on the first conv with its BatchNorm merged, max pooling routing to
    the maximum. Tolerance 1e-4 of the largest |value| (float32 in different orders;
    measured 2e-6)."""
    import torch.nn.functional as F
    model = build_protopnet("vgg11_bn", "features.3")
    torch.manual_seed(2)
    x = torch.randn(1, 3, 32, 32)
    comp = get_corrected_lrp_composite_model(model, example_input=x)
    sim = comp.similarities(x.numpy())[0]
    p, h, w = (int(v) for v in np.unravel_index(int(np.argmax(sim)), sim.shape))
    got = prpkit.LRP(comp).attribute(x, target=(p, h, w)).numpy()

    conv, bn = (getattr(model.extractor.convnet.features, i) for i in ("0", "1"))
    add_on = model.extractor.add_on
    with torch.no_grad():
        k = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        w0, b0 = conv.weight * k[:, None, None, None], (conv.bias - bn.running_mean) * k + bn.bias
        z0 = F.conv2d(x, w0, b0, padding=1)
        p0, where = F.max_pool2d(F.relu(z0), 2, return_indices=True)
        z1 = add_on.conv1(p0)
        a1 = F.relu(z1)
        z2 = add_on.conv2(a1)
        f = torch.sigmoid(z2)
        s = model.classifier.similarities(f.clone())[0, p, h, w]
        fl = f[0, :, h, w]
        c = fl * (fl - model.classifier.prototypes[p].reshape(-1))
        r = torch.zeros_like(f)
        r[0, :, h, w] = c / c.sum() * s

        def stab(z):
            return z + 1e-6 * torch.where(z >= 0, 1.0, -1.0)
        r = a1 * F.conv_transpose2d(r / stab(z2), add_on.conv2.weight)
        r = p0 * F.conv_transpose2d(r / stab(z1), add_on.conv1.weight)
        routed = torch.zeros_like(z0).flatten(2)
        routed.scatter_add_(2, where.flatten(2), r.flatten(2))
        r = routed.view_as(z0)
        expected = (x * torch.nn.grad.conv2d_input(x.shape, w0, r / stab(z0), padding=1)).numpy()
    err = np.abs(got - expected).max() / np.abs(expected).max()
    assert err <= 1e-4, err


def test_bad_normalisation_is_an_error(model_and_input):
    model, x = model_and_input
    with pytest.raises(prpkit.InvalidArgumentError):
        get_corrected_lrp_composite_model(model, input_mean=(0.5,), input_std=(0.2,), use_zbeta=True, example_input=x)
    with pytest.raises(prpkit.InvalidArgumentError):
        get_corrected_lrp_composite_model(model, input_mean=(0.5, 0.5, 0.5), input_std=(0.2, 0.0, 0.2), example_input=x)
