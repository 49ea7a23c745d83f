"""Modern trunks (DenseNet121, MobileNetV2, EfficientNet-B0, ConvNeXt-tiny): conversion,
forward against torch, and PRP through both composites on CaBRNet ProtoPNets built on them
(where CaBRNet's own composite raises).

Forward tolerance: max|diff| ≤ 1e-4·max|torch| (the spine's; the same float32 formulas in
another summation order, measured ≤ 1.4e-6 here). Conservation: with every bias dropped
(BatchNorm shift, running mean, conv and linear biases zero; see `bias_free`), each rule of
the CaBRNet-compatible composite on these trunks hands on all the relevance it receives up to
its ε (1e-6 against activations of order 1), so the heatmap sums to the similarity score
within 1e-3 relative (measured ≤ 2e-5), except where CaBRNet's α1β0 drops relevance (EfficientNet, `LOSS`).
"""

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module
torchvision = pytest.importorskip("torchvision")
pytest.importorskip("cabrnet")

import prpkit
from prpkit.prp_utils import get_cabrnet_lrp_composite_model, get_corrected_lrp_composite_model

from conftest import assert_close_rel, randomize_batch_norms
from test_prp_composite import build_protopnet

TRUNKS = ["densenet121", "mobilenet_v2", "efficientnet_b0", "convnext_tiny"]


def torchvision_model(name):
    torch.manual_seed(0)
    m = getattr(torchvision.models, name)(weights=None)
    randomize_batch_norms(m, seed=1)
    return m.eval()


@pytest.mark.parametrize("name", TRUNKS)
def test_forward_equals_torch(name):
    m = torchvision_model(name)
    torch.manual_seed(2)
    x = torch.randn(2, 3, 80, 80)
    for part, module in (("trunk", m.features), ("classifier", m)):
        converted = prpkit.from_torch(module, x[:1])
        with torch.no_grad():
            expected = module(x)
        assert_close_rel(converted(x.numpy()), expected, what=f"{name} {part}")


def bias_free(model, x):
    """Drops every bias of `model` after setting its BatchNorms' variances from `x` (as
    training would; random-init MobileNet and EfficientNet trunks otherwise shrink their
    activations to ~1e-8 once the shifts are gone): BatchNorms then only scale."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # a cumulative average over the calibration batch
        model.train()
        model(x)
        model.eval()
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.zero_()
                m.bias.zero_()
            elif isinstance(getattr(m, "bias", None), torch.Tensor):
                m.bias.zero_()
    return model


# Conservation bound per trunk: 1e-3 (the rules' ε); EfficientNet's depthwise convs read SiLU
# outputs (signed), where CaBRNet's α1β0 drops the relevance of outputs with no positive
# contribution (z⁺ = 0; see test_backbone_rules.test_depthwise_alpha1_beta0_is_cabrnets):
# measured 4.6e-3 of the score on this model, bounded by 1e-2.
LOSS = {"densenet121": 1e-3, "mobilenet_v2": 1e-3, "efficientnet_b0": 1e-2, "convnext_tiny": 1e-3}

_MODELS = {}


def protopnet(arch, biases=False):
    """(model, input): a ProtoPNet on `arch` with random BatchNorms, or bias-free (whose
    calibrated EfficientNet trunk reaches activations of 1e3, too ill-conditioned for
    float32 forward comparisons: 2e-4 relative there, between torch and prpkit alike)."""
    if (arch, biases) not in _MODELS:
        model = build_protopnet(arch, "features")
        torch.manual_seed(3)
        x = torch.randn(1, 3, 96, 96)
        if not biases:
            bias_free(model, torch.randn(8, 3, 96, 96))
        _MODELS[arch, biases] = (model, x)
    return _MODELS[arch, biases]


def attribution(composite, x, target):
    return np.asarray(prpkit.LRP(composite).attribute(x.numpy(), target=target))


@pytest.mark.parametrize("arch", TRUNKS)
def test_prp_runs_is_deterministic_and_conserves(arch):
    model, x = protopnet(arch)
    composite = get_cabrnet_lrp_composite_model(model, example_input=x)
    # CaBRNet's composite computes its own map (BatchNorms reset to x/√(1 + ε), cdist): the
    # relevance must sum to that map's score.
    sim = composite.similarities(x.numpy())
    p, h, w = (int(i) for i in np.unravel_index(np.argmax(sim[0]), sim.shape[1:]))
    r = attribution(composite, x, (p, h, w))
    assert np.isfinite(r).all() and np.abs(r).max() > 0
    assert np.array_equal(r, attribution(composite, x, (p, h, w))), "two runs differ"
    score = float(sim[0, p, h, w])
    total = float(r.sum(dtype=np.float64))
    assert abs(total - score) <= LOSS[arch] * abs(score), f"{arch}: Σ relevance {total:.7g} vs score {score:.7g}"
    # prp() itself (CaBRNet's signature) runs on it and is deterministic
    from PIL import Image
    img = Image.fromarray(np.zeros((96, 96, 3), np.uint8))
    heat = prpkit.prp(model, img, x, p)
    assert np.array_equal(heat, prpkit.prp(model, img, x, p))


@pytest.mark.parametrize("arch", TRUNKS)
def test_corrected_composite_runs(arch):
    model, x = protopnet(arch, biases=True)
    composite = get_corrected_lrp_composite_model(model, example_input=x)
    with torch.no_grad():
        own = model.similarities(x).numpy()
    # the exact BatchNorm merge keeps the model's function
    assert_close_rel(composite.similarities(x.numpy()), own, what=f"{arch} similarity map")
    r = attribution(composite, x, (0, 1, 1))
    assert np.isfinite(r).all() and np.abs(r).max() > 0
    assert np.array_equal(r, attribution(composite, x, (0, 1, 1)))


def test_extension_rules_by_role():
    rules = get_cabrnet_lrp_composite_model(protopnet("efficientnet_b0")[0], example_input=protopnet("efficientnet_b0")[1]).rules
    trunk = "extractor.convnet.features."
    assert rules[trunk + "0.2"] == {"rule": "pass_through"}                     # SiLU
    se = trunk + "1.0.block.1."                                                 # MBConv 1's squeeze-excitation
    gates = [n for n, r in rules.items() if r and r["rule"] == "gate"]
    assert len(gates) == 16 and all(rules[g] == {"rule": "gate", "signal": 1} for g in gates)  # scale * input
    for node in ("avgpool", "fc1", "fc2", "activation", "scale_activation"):
        assert rules[se + node] == {"rule": "pass_through"}, node                # the gate branch gets nothing
    dense = get_cabrnet_lrp_composite_model(protopnet("densenet121")[0], example_input=protopnet("densenet121")[1]).rules
    assert dense[trunk + "denseblock1.denselayer1.norm1"] == {"rule": "pass_through"}   # BN after a concat
    assert dense[trunk + "denseblock1.denselayer1.norm2"] == {"rule": "identity"}       # merged into conv1
    convnext_composite = get_cabrnet_lrp_composite_model(protopnet("convnext_tiny")[0],
                                                         example_input=protopnet("convnext_tiny")[1])
    convnext = convnext_composite.rules
    norms = [r for r in convnext.values() if r and r["rule"] == "layer_norm_epsilon"]  # 18 blocks, stem, 3 downsamplings
    assert len(norms) == 18 + 4 and all(r == {"rule": "layer_norm_epsilon", "stability_factor": 1e-6,
                                              "set_bias_to_zero": True} for r in norms)
    scales = [n["name"] for n in convnext_composite.graph["nodes"] if n["op"] == "channel_scale"]  # layer scale
    assert len(scales) == 18 and all(convnext[n] == {"rule": "pass_through"} for n in scales)


def test_corrected_composite_sums_in_hook_form():
    """The corrected composite's residual sums are LRP-ε tensor hooks: a value read by a
    hooked conv and a sum then gets its relevance once (see test_residual_hooks)."""
    model = build_protopnet("resnet18", "layer2")
    rules = get_corrected_lrp_composite_model(model, example_input=torch.zeros(1, 3, 64, 64)).rules
    sums = [r for n, r in rules.items() if r and n.endswith(".add")]
    assert sums and all(r == {"rule": "epsilon", "epsilon": 1e-6} for r in sums)


class _Fn(torch.nn.Module):
    def __init__(self, fn, **modules):
        super().__init__()
        self.fn = fn
        for k, v in modules.items():
            setattr(self, k, v)

    def forward(self, x):
        return self.fn(self, x)


@pytest.mark.parametrize("fn, modules, message", [
    (lambda s, x: x.permute(0, 2, 1, 3), {}, r"permute\(0, 2, 1, 3\)"),
    (lambda s, x: s.norm(x), {"norm": torch.nn.LayerNorm([4, 6, 6])}, "LayerNorm over"),
    (lambda s, x: x * 2.0, {}, "multiplying by a constant"),
    (lambda s, x: torch.nn.functional.max_pool2d(x.permute(0, 2, 3, 1), 2), {}, "channels-last"),
    (lambda s, x: x + s.scale, {"scale": torch.nn.Parameter(torch.ones(4, 1, 1))}, "adding a constant"),
    (lambda s, x: x * s.scale, {"scale": torch.nn.Parameter(torch.ones(6, 1))}, "per-channel scales"),
], ids=["permute", "layer_norm_chw", "constant", "channels_last_pool",
        "attribute_add", "attribute_not_per_channel"])
def test_unsupported_uses_are_named(fn, modules, message):
    m = _Fn(fn, **modules)
    with pytest.raises(prpkit.UnsupportedOperation, match=message):
        prpkit.from_torch(m, torch.zeros(1, 4, 6, 6))


def test_layer_scale_and_gates_convert():
    """Layer scale (a (C, 1, 1) parameter times x) and a per-channel gate, against torch."""
    m = _Fn(lambda s, x: s.scale * x * torch.sigmoid(x.mean((2, 3), keepdim=True)) + x,
            scale=torch.nn.Parameter(torch.linspace(-1, 2, 4).view(4, 1, 1)))
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        expected = m(x)
    converted = prpkit.from_torch(m, x[:1])
    ops = [n["op"] for n in converted.graph["nodes"]]
    assert "channel_scale" in ops and "mul" in ops
    assert_close_rel(converted(x.numpy()), expected, what="layer scale and gate")
