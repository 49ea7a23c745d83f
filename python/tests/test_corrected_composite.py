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
    # the first conv: LRP-ε with edge-referenced padding; the backbone's others LRP-γ;
    # the add-on's convs and the sigmoid LRP-ε
    assert rules["extractor.convnet.conv1"] == {"rule": "epsilon", "epsilon": 1e-6, "padding_reference": "edge"}
    gammas = [n for n, r in rules.items() if r and r["rule"] == "gamma"]
    assert len(gammas) > 5 and all(n.startswith("extractor.convnet.") for n in gammas)
    assert all(rules[n] == {"rule": "gamma", "gamma": 0.25, "set_bias_to_zero": False} for n in gammas)
    for n in ("extractor.add_on.conv1", "extractor.add_on.conv2", "extractor.add_on.sigmoid1"):
        assert rules[n] == {"rule": "epsilon", "epsilon": 1e-6}, n
    assert not any(r and r["rule"] in ("zbeta", "prp_alpha1_beta0", "identity") for r in rules.values())
    assert not any(".bn" in name or "downsample.1" in name for name in rules), "BatchNorms must be gone"
    # gamma=0: LRP-ε on the backbone too
    flat = get_corrected_lrp_composite_model(model, example_input=x, gamma=0).rules
    assert all(flat[n] == {"rule": "epsilon", "epsilon": 1e-6} for n in gammas)
    # residual sums: LRP-ε in hook form (test_backbone_rules: beside the hooked convs a
    # StackedSum would scale relevance by the activation once more)
    sums = [n for n in rules if n.endswith(".add")]
    assert sums and all(rules[n] == {"rule": "epsilon", "epsilon": 1e-6} for n in sums)
    assert rules["classifier.distances"] == {"rule": "prototype_similarity", "stability_factor": 1e-6,
                                             "weighting": "contribution"}
    # z^B on request, with per-channel bounds
    first = get_corrected_lrp_composite_model(model, example_input=x, use_zbeta=True).rules["extractor.convnet.conv1"]
    assert first["rule"] == "zbeta"
    np.testing.assert_allclose(first["lower_bound"], [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225], rtol=1e-6)
    np.testing.assert_allclose(first["upper_bound"], [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225],
                               rtol=1e-6)


def test_relevance_against_the_rules_written_out():
    """The whole corrected composite on a small CaBRNet ProtoPNet (VGG11-BN cut after its
    second conv block, add-on, sigmoid) against its rules written out in torch: similarity
    rule by contribution, LRP-ε through the sigmoid, LRP-ε (bias in the denominator) on
    the add-on convs, Captum's LRP-γ (γ = 0.25, bias kept) on the second conv and LRP-ε
    with edge-referenced padding on the first, each with its BatchNorm merged, max pooling
    routing to the maximum. Tolerance 1e-4 of the largest |value|: float32 in different
    orders, amplified where a denominator is small (measured 4.5e-5; against the same
    write-out in float64 4e-5, so the gap is prpkit's float32 rounding)."""
    import torch.nn.functional as F
    model = build_protopnet("vgg11_bn", "features.7")
    torch.manual_seed(2)
    x = torch.randn(1, 3, 32, 32)
    comp = get_corrected_lrp_composite_model(model, example_input=x)
    sim = comp.similarities(x.numpy())[0]
    p, h, w = (int(v) for v in np.unravel_index(int(np.argmax(sim)), sim.shape))
    got = prpkit.LRP(comp).attribute(x, target=(p, h, w)).numpy()

    features = model.extractor.convnet.features
    add_on = model.extractor.add_on
    with torch.no_grad():
        def merged(conv, bn):
            k = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            return conv.weight * k[:, None, None, None], (conv.bias - bn.running_mean) * k + bn.bias
        (w0, b0), (w4, b4) = merged(features.get_submodule("0"), features.get_submodule("1")), merged(features.get_submodule("4"), features.get_submodule("5"))
        z0 = F.conv2d(x, w0, b0, padding=1)
        p0, where0 = F.max_pool2d(F.relu(z0), 2, return_indices=True)
        z4 = F.conv2d(p0, w4, b4, padding=1)
        p4, where4 = F.max_pool2d(F.relu(z4), 2, return_indices=True)
        z1 = add_on.conv1(p4)
        a1 = F.relu(z1)
        z2 = add_on.conv2(a1)
        f = torch.sigmoid(z2)
        s = model.classifier.similarities(f.clone())[0, p, h, w]
        fl = f[0, :, h, w]
        c = fl * (fl - model.classifier.prototypes[p].reshape(-1))
        r = torch.zeros_like(f)
        r[0, :, h, w] = c / c.sum() * s

        def stab(z, eps=1e-6):
            return z + eps * torch.where(z >= 0, 1.0, -1.0)

        def route(r, where, like):
            out = torch.zeros_like(like).flatten(2)
            out.scatter_add_(2, where.flatten(2), r.flatten(2))
            return out.view_as(like)
        r = z2 * (f * (1 - f)) * r / stab(f)                       # LRP-ε on the sigmoid
        r = a1 * F.conv_transpose2d(r / stab(z2), add_on.conv2.weight)
        r = p4 * F.conv_transpose2d(r / stab(z1), add_on.conv1.weight)
        r = route(r, where4, z4)
        wg = w4 + 0.25 * w4.clamp(min=0)                          # LRP-γ, Captum's: bias kept, ε = 1e-9
        zg = F.conv2d(p0, wg, b4, padding=1)
        r = p0 * torch.nn.grad.conv2d_input(p0.shape, wg, r / stab(zg, 1e-9), padding=1)
        r = route(r, where0, z0)
        ring = F.pad(x, (1, 1, 1, 1), mode="replicate")
        ring[:, :, 1:-1, 1:-1] = 0                                # the padding, as the edge would continue
        den = z0 - F.conv2d(ring, w0)
        expected = (x * torch.nn.grad.conv2d_input(x.shape, w0, r / stab(den), padding=1)).numpy()
    err = np.abs(got - expected).max() / np.abs(expected).max()
    assert err <= 1e-4, err


def test_bad_normalisation_is_an_error(model_and_input):
    model, x = model_and_input
    with pytest.raises(prpkit.InvalidArgumentError):
        get_corrected_lrp_composite_model(model, input_mean=(0.5,), input_std=(0.2,), use_zbeta=True, example_input=x)
    with pytest.raises(prpkit.InvalidArgumentError):
        get_corrected_lrp_composite_model(model, input_mean=(0.5, 0.5, 0.5), input_std=(0.2, 0.0, 0.2), example_input=x)
    with pytest.raises(prpkit.InvalidArgumentError, match="gamma"):
        get_corrected_lrp_composite_model(model, gamma=-0.25, example_input=x)
