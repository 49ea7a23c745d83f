"""The PRP composites' rules for the ops of modern trunks, each against the rule written
out in float64 torch (autograd where the rule is a gradient of a frozen map), on small
models that isolate it, and the depthwise α1β0 against CaBRNet's own composite.

Tolerance: max|diff| ≤ 1e-4·max|reference| — prpkit computes in float32 (relative rounding
≈ 1e-7 per operation over a few hundred terms) against a float64 write-out; measured ≤ 2e-6.
"""

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module

import torch.nn as nn
import torch.nn.functional as F

import prpkit
from prpkit.prp_utils import get_extractor_lrp_composite_model

REL = 1e-4
EPS = 1e-6


def prpkit_relevance(net, x, target, **options):
    composite = get_extractor_lrp_composite_model(net, set_bias_to_zero=True, use_zbeta=False, example_input=x,
                                                  **options)
    return np.asarray(prpkit.LRP(composite).attribute(x.numpy(), target=target)), composite.rules


def alpha1_beta0(x, conv, relevance, **conv_args):
    """CaBRNet's α1β0 written out: z = f(x⁺; W⁺) + f(x⁻; W⁻), bias dropped."""
    w = conv.weight.detach().double()
    wp, wn = w.clamp(min=0), w.clamp(max=0)
    xp, xn = x.clamp(min=0), x.clamp(max=0)
    z = F.conv2d(xp, wp, **conv_args) + F.conv2d(xn, wn, **conv_args)
    n = relevance / (z + EPS * torch.sign(z) + 1e-12 * (z == 0))
    back = lambda w_: torch.nn.grad.conv2d_input(x.shape, w_, n, **conv_args)  # noqa: E731
    return xp * back(wp) + xn * back(wn)


def start(y, target):
    r = torch.zeros_like(y)
    r[(0,) + target] = y[(0,) + target]
    return r


class LayerNormBlock(nn.Module):
    """conv → LayerNorm over channels (ConvNeXt's LayerNorm2d: permute, layer_norm, permute) → conv."""

    def __init__(self):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.norm = nn.LayerNorm(8, eps=1e-6)
        self.conv1 = nn.Conv2d(8, 4, 1, bias=False)

    def forward(self, x):
        a = self.conv0(x)
        return self.conv1(self.norm(a.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))


def test_layer_norm_rule_against_its_write_out():
    torch.manual_seed(0)
    net = LayerNormBlock().eval()
    with torch.no_grad():
        net.norm.weight.uniform_(0.5, 1.5)
        net.norm.bias.normal_(0, 0.5)  # dropped by the rule (set_bias_to_zero)
    x = torch.rand(1, 3, 6, 6)
    target = (1, 2, 3)
    got, rules = prpkit_relevance(net, x, target)
    assert rules["norm"] == {"rule": "layer_norm_epsilon", "stability_factor": 1e-6, "set_bias_to_zero": True}

    xd = x.double()
    a = F.conv2d(xd, net.conv0.weight.detach().double(), padding=1)
    y = F.layer_norm(a.permute(0, 2, 3, 1), (8,), net.norm.weight.detach().double(), net.norm.bias.detach().double(), 1e-6)
    y = y.permute(0, 3, 1, 2)
    out = F.conv2d(y, net.conv1.weight.detach().double())
    r_y = alpha1_beta0(y, net.conv1, start(out, target))
    # Layer norm with its scale r held constant, bias dropped: z = γ·(a − μ)·r, linear in a;
    # LRP-ε there is a ⊙ ∂(z·s)/∂a with s = R / (z ± ε) held constant.
    a_ = a.detach().requires_grad_(True)
    mean = a_.mean(1, keepdim=True)
    r = (a.var(1, unbiased=False, keepdim=True) + 1e-6).rsqrt()
    z = net.norm.weight.detach().double().view(1, -1, 1, 1) * (a_ - mean) * r
    s = (r_y / (z + EPS * torch.where(z < 0, -1.0, 1.0))).detach()
    (grad,) = torch.autograd.grad((z * s).sum(), a_)
    r_a = a * grad
    expected = alpha1_beta0(xd, net.conv0, r_a, padding=1).numpy()
    err = np.abs(got - expected).max() / np.abs(expected).max()
    assert err <= REL, err


class GatedBlock(nn.Module):
    """conv → squeeze-excitation gate (pool, conv, sigmoid; scale * signal) → conv."""

    def __init__(self):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(8, 8, 1)
        self.gate = nn.Sigmoid()
        self.conv1 = nn.Conv2d(8, 4, 1, bias=False)

    def forward(self, x):
        a = self.relu(self.conv0(x))
        return self.conv1(self.gate(self.fc(self.pool(a))) * a)


def test_gate_rule_gives_the_signal_all_relevance():
    torch.manual_seed(1)
    net = GatedBlock().eval()
    x = torch.rand(1, 3, 6, 6)
    target = (2, 1, 4)
    got, rules = prpkit_relevance(net, x, target)
    mul = next(n for n, r in rules.items() if r and r["rule"] == "gate")
    assert rules[mul] == {"rule": "gate", "signal": 1}
    for branch in ("pool", "fc", "gate"):
        assert rules[branch] == {"rule": "pass_through"}

    xd = x.double()
    a = F.conv2d(xd, net.conv0.weight.detach().double(), padding=1).clamp(min=0)
    g = torch.sigmoid(F.conv2d(a.mean((2, 3), keepdim=True), net.fc.weight.detach().double(), net.fc.bias.detach().double()))
    o = g * a
    out = F.conv2d(o, net.conv1.weight.detach().double())
    r_a = alpha1_beta0(o, net.conv1, start(out, target))  # all of the product's relevance to `a`
    expected = alpha1_beta0(xd, net.conv0, r_a, padding=1).numpy()
    err = np.abs(got - expected).max() / np.abs(expected).max()
    assert err <= REL, err
    assert float(got.sum()) == pytest.approx(float(out[(0,) + target]), rel=1e-4)  # conservative


def test_ambiguous_product_needs_an_explicit_rule():
    class Product(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return self.a(x) * self.b(x)

    x = torch.rand(1, 3, 4, 4)
    with pytest.raises(prpkit.UnsupportedError, match=r'cannot tell the signal from the gate.*"rule": "gate"'):
        get_extractor_lrp_composite_model(Product(), set_bias_to_zero=True, example_input=x)
    # an explicit rule in the explainer configuration settles it
    from prpkit._composite import CompositeModel
    model = prpkit.from_torch(Product().eval(), x)
    mul = next(n["name"] for n in model.graph["nodes"] if n["op"] == "mul")
    config = {"composite": "cabrnet_prp", "composite_options": {"similarity_head": False},
              "rules": {"by_node": {mul: {"rule": "gate", "signal": 1}}}}
    composite = CompositeModel(model, config)
    assert composite.rules[mul] == {"rule": "gate", "signal": 1}
    assert np.isfinite(np.asarray(prpkit.LRP(composite).attribute(x.numpy(), target=(0, 1, 1)))).all()


@pytest.mark.parametrize("signed", [False, True], ids=["after_relu", "signed_input"])
def test_depthwise_alpha1_beta0_is_cabrnets(signed):
    """Depthwise convs take CaBRNet's α1β0 per group. Its loss is CaBRNet's too: an output
    with no positive contribution (z⁺ = 0: every one of its 9 products x_j·w_j ≤ 0, likely
    for a depthwise conv on a signed input) drops its relevance."""
    from captum.attr import LRP as CaptumLRP
    cabrnet_prp = pytest.importorskip("cabrnet.core.visualization.prp_utils")
    torch.manual_seed(2)
    layers = [nn.Conv2d(3, 8, 3, padding=1, bias=False)] + ([] if signed else [nn.ReLU()])
    net = nn.Sequential(*layers, nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.ReLU(),
                        nn.Conv2d(8, 2, 16, bias=False)).eval()
    x = torch.randn(1, 3, 16, 16)
    reference = cabrnet_prp.get_cabrnet_lrp_composite_model(net, set_bias_to_zero=True).eval()
    expected = CaptumLRP(reference).attribute(x.clone(), target=(0, 0, 0)).detach().numpy()
    composite = get_extractor_lrp_composite_model(net, set_bias_to_zero=True, example_input=x)
    got = np.asarray(prpkit.LRP(composite).attribute(x.numpy(), target=(0, 0, 0)))
    assert np.abs(got - expected).max() <= REL * np.abs(expected).max()


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.fc = nn.Linear(4 * 8 * 8, 2, bias=False)

    def forward(self, x):
        a = self.relu(self.conv0(x))
        return self.fc(torch.flatten(self.conv1(a) + a, 1))


def test_residual_sum_in_hook_form_conserves_beside_hooked_convs():
    """`a` is read by a hooked conv (LRP-ε) and by the residual sum. As in Captum, one hook
    on `a` multiplies the total signal there by `a`: the sum must hand on a signal (LRP-ε
    in hook form, what the corrected composite gives it) for the relevance to be conserved;
    CaBRNet's StackedSum hands on relevance, which that hook scales by `a` once more (the
    reference's behaviour for that mix, kept for explicit rules: Captum gives the same)."""
    torch.manual_seed(0)
    net = Residual().eval()
    x = torch.rand(1, 3, 8, 8)
    model = prpkit.from_torch(net, x)
    add = next(n["name"] for n in model.graph["nodes"] if n["op"] == "add")
    eps = prpkit.rules.EpsilonRule(1e-9)
    out = float(net(x)[0, 0])
    hooked = np.asarray(prpkit.LRP(model, rules={"conv0": eps, "conv1": eps, "fc": eps, add: eps})
                        .attribute(x.numpy(), target=0))
    assert float(hooked.sum(dtype=np.float64)) == pytest.approx(out, rel=1e-5)

    cabrnet_prp = pytest.importorskip("cabrnet.core.visualization.prp_utils")
    from captum.attr import LRP as CaptumLRP
    from captum.attr._utils.lrp_rules import EpsilonRule

    class Stacked(Residual):
        def __init__(self):
            super().__init__()
            self.sum = cabrnet_prp.StackedSum(1e-9)

        def forward(self, x):
            a = self.relu(self.conv0(x))
            return self.fc(torch.flatten(self.sum(self.conv1(a), a), 1))

    stacked = Stacked().eval()
    stacked.load_state_dict(net.state_dict(), strict=False)
    for m in (stacked.conv0, stacked.conv1, stacked.fc):
        m.rule = EpsilonRule(1e-9)
    got = np.asarray(prpkit.LRP(stacked).attribute(x.clone(), target=0))
    expected = CaptumLRP(stacked).attribute(x.clone(), target=0).detach().numpy()
    assert np.abs(got - expected).max() <= REL * np.abs(expected).max()
    assert abs(float(got.sum()) - out) > 0.1 * abs(out)


def _gradient_check(module, x, targets):
    """The gradient rule on every node = output × ∂y_t/∂x (torch autograd): the ordinary
    backward of layer_norm (σ depending on x), mul and channel_scale."""
    from prpkit.rules import GradientRule
    model = prpkit.from_torch(module, example_input=x)
    lrp = prpkit.LRP(model, rules={n["name"]: GradientRule() for n in model.nodes})
    for target in targets:
        xx = x.clone().requires_grad_(True)
        y = module(xx)
        y[(slice(None),) + target].sum().backward()
        expected = (y[(slice(None),) + target].detach().view(-1, 1, 1, 1) * xx.grad).numpy()
        got = np.asarray(lrp.attribute(x, target=target))
        assert np.abs(got - expected).max() <= REL * np.abs(expected).max(), target


def test_ordinary_backward_of_the_new_ops_is_torchs():
    torch.manual_seed(3)
    net = LayerNormBlock().eval()
    with torch.no_grad():
        net.norm.weight.uniform_(0.5, 1.5)
        net.norm.bias.normal_(0, 0.5)
    _gradient_check(net, torch.randn(2, 3, 6, 6), [(1, 2, 3), (0, 0, 0)])
    gated = GatedBlock().eval()
    _gradient_check(gated, torch.randn(2, 3, 6, 6), [(2, 1, 4), (3, 5, 5)])

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.layer_scale = nn.Parameter(torch.linspace(-1, 2, 4).view(4, 1, 1))

        def forward(self, x):
            y = self.conv(x)
            return self.layer_scale * y * torch.sigmoid(y)  # layer scale; x·σ(x) written out

    _gradient_check(Scaled().eval(), torch.randn(2, 3, 5, 5), [(1, 2, 2), (3, 0, 4)])
