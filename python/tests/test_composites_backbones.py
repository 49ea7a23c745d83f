"""The named composites (prpkit.composites) on DenseNet121, MobileNetV2, EfficientNet-B0 and
ConvNeXt-tiny classifiers: prpkit's extension of zennit (docs/composites.md, "The new
families"). zennit has no rule for their products and channel layer norms and cannot merge
DenseNet's BatchNorms after a concatenation, so no zennit run is the reference here; instead:

- every new op gets its rule by role (gate with the right signal, the gate branch nothing,
  layer norm LRP-ε, pass-through for the other activations, layer scale and unmerged
  BatchNorms, the conv rules on depthwise convs);
- every composite runs, gives finite relevance and is deterministic on each family;
- conservation with every bias dropped (`bias_free`: BatchNorms calibrated, then shifts,
  running means and all biases zero), EpsilonPlus: each rule then hands on all it receives
  up to its ε (1e-6 against activations of order 1) except where ZPlus meets an output with
  no positive contribution (z⁺ = 0: its relevance is dropped, zennit's definition too), so
  Σ relevance = the logit within 1e-3 relative, or the loss measured and bounded in `LOSS`;
- a gated model against the rules written out in float64 with torch.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

import prpkit  # noqa: E402
from prpkit import composites  # noqa: E402
from conftest import make_torchvision  # noqa: E402
from test_backbones import bias_free  # noqa: E402  (its module skips without CaBRNet)

FAMILIES = ["densenet121", "mobilenet_v2", "efficientnet_b0", "convnext_tiny"]
COMPOSITES = {
    "epsilon_plus": lambda: composites.EpsilonPlus(),
    "epsilon_alpha2_beta1": lambda: composites.EpsilonAlpha2Beta1(),
    "epsilon_gamma_box": lambda: composites.EpsilonGammaBox(low=-3.0, high=3.0),
}
SIZE = 64
_MODELS = {}


def model(name, biases=True):
    if (name, biases) not in _MODELS:
        m = make_torchvision(name)
        if not biases:
            torch.manual_seed(5)
            bias_free(m, torch.randn(8, 3, SIZE, SIZE))
        _MODELS[name, biases] = m
    return _MODELS[name, biases]


def pixels(seed, n=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, SIZE, SIZE, generator=g)


@pytest.mark.parametrize("composite", sorted(COMPOSITES))
@pytest.mark.parametrize("name", FAMILIES)
def test_runs_and_is_deterministic(name, composite):
    x = pixels(1, 2)
    lrp = prpkit.LRP(model(name), composite=COMPOSITES[composite]())
    r = lrp.attribute(x, target=[3, 999])
    assert r.shape == x.shape and torch.isfinite(r).all() and r.abs().amax(dim=(1, 2, 3)).min() > 0
    assert torch.equal(r, lrp.attribute(x, target=[3, 999])), "two runs differ"
    assert torch.equal(r, prpkit.LRP(model(name), composite=COMPOSITES[composite]()).attribute(x, target=[3, 999]))
    rules, nodes = lrp.rules(x[:1]), _ops(lrp, x[:1])
    # zennit's gradient stays only where zennit has it by design (max pooling, dropout)
    fallback = [n for n, rule in rules.items() if rule == {"rule": "gradient"}
                and nodes[n]["op"] not in ("max_pool2d", "dropout")]
    assert not fallback, f"nodes fell back to the gradient: {fallback}"


def _ops(lrp, x):
    """The canonized graph's nodes by name."""
    lrp.rules(x)
    return {n["name"]: n for n in lrp._canonized.graph["nodes"]}


def test_rules_by_role():
    x = pixels(1)
    eff = prpkit.LRP(model("efficientnet_b0"), composite="epsilon_plus")
    rules, nodes = eff.rules(x), _ops(eff, x)
    gates = [n for n, node in nodes.items() if node["op"] == "mul"]
    assert len(gates) == 16 and all(rules[g] == {"rule": "gate", "signal": 1} for g in gates)  # scale * input
    se = "features.1.0.block.1."                                       # MBConv 1's squeeze-excitation
    for part in ("avgpool", "fc1", "fc2", "activation", "scale_activation"):
        assert rules[se + part] == {"rule": "pass_through"}, part        # the gate branch gets nothing
    assert rules["features.0.2"] == {"rule": "pass_through"}            # SiLU
    depthwise = [n for n, node in nodes.items() if node["op"] == "conv2d" and node["attributes"].get("groups", 1) > 1]
    assert depthwise and all(rules[n] == {"rule": "alpha_beta", "alpha": 1.0, "beta": 0.0, "stabilizer": 1e-6}
                             for n in depthwise if not n.startswith(se))
    mobile = prpkit.LRP(model("mobilenet_v2"), composite="epsilon_plus")
    rules, nodes = mobile.rules(x), _ops(mobile, x)
    assert {rules[n]["rule"] for n, node in nodes.items() if node["op"] == "relu6"} == {"pass_through"}
    dense = prpkit.LRP(model("densenet121"), composite="epsilon_alpha2_beta1")
    rules = dense.rules(x)
    assert rules["features.denseblock1.denselayer1.norm1"] == {"rule": "pass_through"}  # BN after a concat, unmerged
    assert rules["features.norm0"] == {"rule": "pass_through"}                          # merged into conv0, reset
    convnext = prpkit.LRP(model("convnext_tiny"), composite=composites.EpsilonGammaBox(-3, 3, epsilon=1e-5))
    rules, nodes = convnext.rules(x), _ops(convnext, x)
    norms = [n for n, node in nodes.items() if node["op"] == "layer_norm"]     # 18 blocks, stem, 3 downsamplings, head
    assert len(norms) == 18 + 5 and all(rules[n] == {"rule": "layer_norm_epsilon", "stability_factor": 1e-5,
                                                     "set_bias_to_zero": False} for n in norms)
    scales = [n for n, node in nodes.items() if node["op"] == "channel_scale"]  # layer scale
    assert len(scales) == 18 and all(rules[n] == {"rule": "pass_through"} for n in scales)
    assert {rules[n]["rule"] for n, node in nodes.items() if node["op"] == "gelu"} == {"pass_through"}


# Conservation bound per family (EpsilonPlus, bias-free): 1e-3 (the rules' ε; measured
# 7.5e-7 DenseNet121, 1.3e-5 MobileNetV2, 4.9e-5 ConvNeXt-tiny). EfficientNet-B0 loses
# 7.3e-3 … 7.5e-3: its 3 × 3 depthwise convs read SiLU outputs (signed), and an output of
# such a conv (9 products) often has no positive contribution (z⁺ = 0), whose relevance
# ZPlus drops — zennit's ZPlus does the same. With ε-LRP on the depthwise convs the loss is
# 1e-5 … 4.4e-5 (checked below), which pins the cause.
LOSS = {"densenet121": 1e-3, "mobilenet_v2": 1e-3, "efficientnet_b0": 1e-2, "convnext_tiny": 1e-3}


def _loss(m, x, rules=None):
    with torch.no_grad():
        logits = m(x)
    target = [int(i) for i in logits.argmax(1)]
    lrp = prpkit.LRP(m, composite=composites.EpsilonPlus(), rules=rules)
    r, delta = lrp.attribute(x, target=target, return_convergence_delta=True)
    total = r.double().sum(dim=(1, 2, 3))
    score = total + delta.double()             # the canonized model's logit (reset BatchNorms: x/√(1 + eps))
    assert torch.allclose(score.float(), logits[range(2), target], rtol=1e-3)
    return ((score - total).abs() / score.abs()).max().item(), total, score


@pytest.mark.parametrize("name", FAMILIES)
def test_conserves_without_biases(name, record_property):
    m, x = model(name, biases=False), pixels(2, 2)
    loss, total, score = _loss(m, x)
    record_property(f"{name} conservation loss", f"{loss:.3g}")
    assert loss <= LOSS[name], f"{name}: Σ relevance {total.tolist()} vs logit {score.tolist()} ({loss:.3g})"
    if name == "efficientnet_b0":
        nodes = _ops(prpkit.LRP(m, composite="epsilon_plus"), x[:1])
        depthwise = {n: prpkit.rules.EpsilonRule(1e-6) for n, node in nodes.items()
                     if node["op"] == "conv2d" and node["attributes"].get("groups", 1) > 1}
        assert len(depthwise) == 16
        loss_eps, _, _ = _loss(m, x, depthwise)
        record_property(f"{name} conservation loss, ε on depthwise convs", f"{loss_eps:.3g}")
        assert loss_eps <= 1e-3


class _Gated(torch.nn.Module):
    """y = fc(flatten(x ⊙ σ(conv(x)))): an equal-shape product whose gate is a sigmoid."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(7)
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.fc = torch.nn.Linear(3 * 8 * 8, 5)

    def forward(self, x):
        return self.fc(torch.flatten(x * torch.sigmoid(self.conv(x)), 1))


def test_gate_against_float64():
    """Signal-take-all on x, nothing through the gate branch (conv, sigmoid), ε-LRP on the
    linear layer, written out in float64; the same float32 formulas in another order, so
    1e-5 of max|R| (measured ~1e-7)."""
    m = _Gated().eval()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(8))
    r = prpkit.LRP(m, composite=composites.EpsilonPlus()).attribute(x, target=[1, 4])
    d = m.double()
    xd = x.double()
    u = torch.flatten(xd * torch.sigmoid(d.conv(xd)), 1)
    z = d.fc(u)
    start = torch.zeros_like(z)
    start[range(2), [1, 4]] = z[range(2), [1, 4]]
    stab = z + 1e-6 * torch.where(z >= 0, 1.0, -1.0)
    expected = (u * ((start / stab) @ d.fc.weight)).view_as(xd)
    diff = (r.double() - expected).abs().max() / expected.abs().max()
    assert diff <= 1e-5, f"gate: {diff:.3g}"


class _Product(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.fc = torch.nn.Conv2d(3, 3, 1), torch.nn.Conv2d(3, 3, 1), torch.nn.Linear(48, 2)

    def forward(self, x):
        return self.fc(torch.flatten(self.a(x) * self.b(x), 1))


def test_ambiguous_products_and_product_overrides_are_refused():
    x = torch.randn(1, 3, 4, 4)
    with pytest.raises(ValueError, match="cannot tell the signal from the gate"):
        prpkit.LRP(_Product(), composite="epsilon_plus").attribute(x, target=0)
    eff = model("efficientnet_b0")
    nodes = _ops(prpkit.LRP(eff, composite="epsilon_plus"), pixels(1))
    product = next(n for n, node in nodes.items() if node["op"] == "mul")
    lrp = prpkit.LRP(eff, composite="epsilon_plus", rules={product: prpkit.rules.GradientRule()})
    with pytest.raises(ValueError, match=r"may not set the rule of product \(mul\) nodes"):
        lrp.attribute(pixels(1), target=3)
