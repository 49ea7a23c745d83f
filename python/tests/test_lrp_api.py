"""Captum API completeness, live against Captum 0.9: LayerLRP (one layer or a list, output
and input side, native and torch arrival paths), non-contiguous inputs, additional_forward_args,
compute_convergence_delta, multiplies_by_inputs, has_convergence_delta and the
typing.overload signatures.

Tolerance: 1e-4 relative. Where Captum's float32 result is itself ill-conditioned
(VGG-BN with Captum's default ε = 1e-9: every rule layer divides by pre-activations that
can be ≈ 0), the reference is Captum run in float64 and prpkit's error against it must
be ≤ 4× Captum-float32's own error (plus 1e-6 where Captum-f32 happens to be exact), as
test_lrp.py's `check_vs_float64` does.
"""
from __future__ import annotations

import copy
import typing

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the numpy-only pass skips this module
pytest.importorskip("captum")
from captum.attr import LRP as CaptumLRP  # noqa: E402
from captum.attr import LayerLRP as CaptumLayerLRP  # noqa: E402
from captum.attr._utils import lrp_rules as captum_rules  # noqa: E402

import prpkit  # noqa: E402
from prpkit import rules as prpkit_rules  # noqa: E402
from conftest import make_torchvision

pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")

REL = 1e-4


def rel_err(a, b) -> float:
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max() / np.abs(b).max())


def captum_layer(model, names, x, target, **kw):
    """Captum's LayerLRP on a copy of `model` (Captum deletes rules after each call) at the
    layers with qualified names `names` (a str or a list)."""
    copy_ = copy.deepcopy(model)
    mods = dict(copy_.named_modules())
    layers = [mods[n] for n in names] if isinstance(names, list) else mods[names]
    return CaptumLayerLRP(copy_, layers).attribute(x, target=target, **kw)


def check_layer(got, model, layers, x, target, what, float64_fallback=False, **kw):
    """prpkit's LayerLRP result `got` for `layers` (modules of `model`) against Captum's."""
    qualified = {m: n for n, m in model.named_modules()}
    names = [qualified[m] for m in layers] if isinstance(layers, list) else [qualified[layers]]
    refs = captum_layer(model, names, x, target, **kw)
    gots = got if isinstance(layers, list) else [got]
    assert len(gots) == len(refs) == len(names)
    for name, g, r in zip(names, gots, refs):
        assert isinstance(g, torch.Tensor) and g.dtype == torch.float32 and g.shape == r.shape, (what, name, g.shape)
        err = rel_err(g, r)
        if err <= REL:
            continue
        assert float64_fallback, f"{what} {name}: max|diff|/max|captum| = {err:.3g}"
        ref64 = captum_layer(copy.deepcopy(model).double(), name, x.double(), target, **kw)
        err_c, err_p = rel_err(r, ref64), rel_err(g, ref64)
        assert err_p <= 4 * err_c + 1e-6, (f"{what} {name}: vs Captum f64 {err_p:.3g} > 4 × Captum f32's own "
                                           f"{err_c:.3g} (vs Captum f32: {err:.3g})")


class VGGBN(torch.nn.Module):
    """torchvision's VGG11-BN trunk (`features`) with a small head instead of the 120 M
    parameter classifier: the same layers LayerLRP is checked on, a fraction of the memory."""

    def __init__(self):
        super().__init__()
        self.features = make_torchvision("vgg11_bn").features
        torch.manual_seed(4)
        self.pool = torch.nn.AdaptiveAvgPool2d(2)
        self.classifier = torch.nn.Sequential(torch.nn.Linear(2048, 64), torch.nn.ReLU(), torch.nn.Dropout(),
                                              torch.nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


@pytest.fixture(scope="module")
def vgg_bn():
    model = VGGBN().eval()
    torch.manual_seed(5)
    return model, torch.randn(2, 3, 64, 64)


def test_layer_lrp_vgg_bn_default_rules(vgg_bn):
    model, x = vgg_bn
    f = model.features
    cases = [(f[4], False), (f[4], True), (f[5], False), (f[0], True), (model.classifier[3], False),
             (model.classifier[0], True)]
    for layer, side in cases:
        got = prpkit.LayerLRP(model, layer).attribute(x, target=[3, 7], attribute_to_layer_input=side)
        check_layer(got, model, layer, x, [3, 7], f"vgg11_bn {type(layer).__name__} input={side}",
                    float64_fallback=True, attribute_to_layer_input=side)
    layers = [f[8], f[1], f[12]]
    got, deltas = prpkit.LayerLRP(model, layers).attribute(x, target=3, return_convergence_delta=True)
    check_layer(got, model, layers, x, 3, "vgg11_bn list", float64_fallback=True)
    _, ref_deltas = captum_layer(model, ["features.8", "features.1", "features.12"], x, 3,
                                 return_convergence_delta=True)
    assert isinstance(deltas, list) and len(deltas) == 3
    s = model(x)[:, 3].detach()
    for g, d, rd in zip(got, deltas, ref_deltas):
        assert d.shape == rd.shape == (2,)
        torch.testing.assert_close(d.double(), s.double() - g.reshape(2, -1).double().sum(1), rtol=0,
                                   atol=1e-5 * float(s.abs().max() + g.abs().reshape(2, -1).sum(1).max()))


RESNET_LAYERS = (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d, torch.nn.MaxPool2d,
                 torch.nn.AdaptiveAvgPool2d)


@pytest.fixture(scope="module")
def resnet():
    """ResNet18 with ε = 0.1 on every rule layer: well-conditioned in float32."""
    model = make_torchvision("resnet18")
    for m in model.modules():
        if isinstance(m, RESNET_LAYERS):
            m.rule = captum_rules.EpsilonRule(epsilon=0.1)
    torch.manual_seed(6)
    return model, torch.randn(2, 3, 64, 64)


@pytest.mark.parametrize("side", [False, True])
def test_layer_lrp_resnet_torch_and_native(resnet, side):
    model, x = resnet
    layers = [model.layer2[0].conv1, model.layer3[1].bn2, model.conv1, model.fc]
    got = prpkit.LayerLRP(model, layers).attribute(x, target=[17, 802], attribute_to_layer_input=side)
    check_layer(got, model, layers, x, [17, 802], f"resnet18 torch input={side}", attribute_to_layer_input=side)
    # The native arrival: a prpkit Model, rules by node name, layers by node name.
    native = prpkit.from_torch(model, x[:1])
    rules = {n: prpkit_rules.EpsilonRule(0.1) for n, m in model.named_modules() if isinstance(m, RESNET_LAYERS)}
    names = ["layer2.0.conv1", "layer3.1.bn2", "conv1", "fc"]
    got_native = prpkit.LayerLRP(native, names, rules=rules).attribute(x.numpy(), target=[17, 802],
                                                                       attribute_to_layer_input=side)
    assert all(isinstance(a, np.ndarray) for a in got_native)
    for a, b in zip(got_native, got):
        assert np.array_equal(a, b.numpy())


def test_layer_lrp_errors_where_captum_has_no_relevance(resnet):
    model, x = resnet
    with pytest.raises(prpkit.InvalidArgumentError, match="only on layers with an LRP rule"):
        prpkit.LayerLRP(model, model.relu).attribute(x, target=1)  # ReLU: Captum fails too
    with pytest.raises(AttributeError):
        captum_layer(model, "relu", x, 1)
    # downsample.0 reads layer1's output, whose hook belongs to layer2.0.conv1 (its first rule consumer)
    with pytest.raises(prpkit.InvalidArgumentError, match="hooked by 'layer2.0.conv1'"):
        prpkit.LayerLRP(model, model.layer2[0].downsample[0]).attribute(x, target=1, attribute_to_layer_input=True)
    with pytest.raises(ValueError, match="not called"):
        prpkit.LayerLRP(model, torch.nn.Conv2d(3, 3, 1)).attribute(x, target=1)
    twice = Twice()
    with pytest.raises(ValueError, match="called 2 times"):
        prpkit.LayerLRP(twice, twice.fc).attribute(torch.randn(1, 4), target=0)
    with pytest.raises(RuntimeError, match="more than once"):
        CaptumLayerLRP(twice, twice.fc).attribute(torch.randn(1, 4), target=0)


class Twice(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)

    def forward(self, t):
        return self.fc(self.fc(t))


# ---- additional_forward_args ------------------------------------------------------------

class TwoArgs(torch.nn.Module):
    """forward(x, bias_map, scale, flag): a tensor and two non-tensors after the input."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(7)
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.conv.rule = captum_rules.EpsilonRule(epsilon=0.1)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.pool.rule = captum_rules.EpsilonRule(epsilon=0.1)

    def forward(self, x, bias_map, scale=1, flag=False):
        h = self.conv(x) + bias_map
        if flag:
            h = torch.relu(h)
        if scale == 2:
            h = h + h
        return torch.flatten(self.pool(h), 1)


@pytest.mark.parametrize("extra", ["tensor_only", "tensor_and_values", "flag_off"])
def test_additional_forward_args_torch(extra):
    torch.manual_seed(8)
    net = TwoArgs().eval()
    x, bias_map = torch.randn(2, 3, 6, 6), torch.randn(2, 4, 6, 6)
    args = {"tensor_only": bias_map, "tensor_and_values": (bias_map, 2, True), "flag_off": (bias_map, 2, False)}[extra]
    ref, ref_delta = CaptumLRP(copy.deepcopy(net)).attribute(x, target=1, additional_forward_args=args,
                                                             return_convergence_delta=True)
    lrp = prpkit.LRP(net)
    got, delta = lrp.attribute(x, target=1, additional_forward_args=args, return_convergence_delta=True)
    assert got.shape == x.shape and rel_err(got, ref) <= REL, f"{extra}: {rel_err(got, ref):.3g}"
    torch.testing.assert_close(delta, ref_delta, rtol=0, atol=1e-4 * float(ref.abs().sum() + 1))
    if extra == "tensor_and_values":  # another value: another conversion, not a stale one
        ref2 = CaptumLRP(copy.deepcopy(net)).attribute(x, target=1, additional_forward_args=(bias_map, 1, True))
        assert rel_err(ref2, ref) > 1e-2
        assert rel_err(lrp.attribute(x, target=1, additional_forward_args=(bias_map, 1, True)), ref2) <= REL


def test_additional_forward_args_native():
    torch.manual_seed(8)
    net = TwoArgs().eval()
    x, bias_map = torch.randn(2, 3, 6, 6), torch.randn(2, 4, 6, 6)
    ref = CaptumLRP(copy.deepcopy(net)).attribute(x, target=2, additional_forward_args=bias_map)
    native = prpkit.from_torch(net, (x, bias_map))
    rules = {"conv": prpkit_rules.EpsilonRule(0.1), "pool": prpkit_rules.EpsilonRule(0.1)}
    got = prpkit.LRP(native, rules=rules).attribute(x.numpy(), target=2, additional_forward_args=(bias_map.numpy(),))
    assert isinstance(got, np.ndarray) and rel_err(got, ref) <= REL
    with pytest.raises(TypeError, match="only tensors"):
        prpkit.LRP(native).attribute(x, target=2, additional_forward_args=(bias_map, 2))
    with pytest.raises(TypeError, match="plain value"):
        prpkit.LRP(net).attribute(x, target=2, additional_forward_args=(bias_map, object()))


def test_lrp_accepts_non_contiguous_inputs():
    """Captum accepts strided inputs; so does prpkit.LRP (it copies them)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1))
    x = torch.randn(2, 3, 9, 9).transpose(2, 3)
    assert not x.is_contiguous()
    ref = CaptumLRP(net).attribute(x, target=(1, 0, 0)).detach().numpy()
    for arg in (x, x.numpy()):
        got = np.asarray(prpkit.LRP(net).attribute(arg, target=(1, 0, 0)))
        assert np.abs(got - ref).max() <= REL * np.abs(ref).max()


# ---- the rest of Captum's surface -----------------------------------------------------------

def test_convergence_delta_and_flags():
    torch.manual_seed(9)
    net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    x = torch.randn(3, 5)
    ours, theirs = prpkit.LRP(net), CaptumLRP(net)
    assert ours.multiplies_by_inputs is theirs.multiplies_by_inputs is True
    assert ours.has_convergence_delta() is theirs.has_convergence_delta() is True
    attr = torch.randn(3, 5)
    out = torch.randn(3)
    torch.testing.assert_close(ours.compute_convergence_delta(attr, out), theirs.compute_convergence_delta(attr, out))
    pair = (attr, torch.randn(3, 2, 2))
    torch.testing.assert_close(ours.compute_convergence_delta(pair, out), theirs.compute_convergence_delta(pair, out))
    delta = ours.compute_convergence_delta(attr.numpy(), out.numpy())
    assert isinstance(delta, np.ndarray) and delta.dtype == np.float32
    got, d = ours.attribute(x, target=1, return_convergence_delta=True)
    torch.testing.assert_close(d, ours.compute_convergence_delta(got, net(x)[:, 1].detach()))


@pytest.mark.skipif(not hasattr(typing, "get_overloads"), reason="typing.get_overloads needs Python 3.11")
def test_overloads_follow_return_convergence_delta():
    for cls in (prpkit.LRP, prpkit.LayerLRP):
        overloads = typing.get_overloads(cls.attribute)
        assert len(overloads) == 2
        hints = [typing.get_type_hints(o) for o in overloads]
        flags = sorted(str(h["return_convergence_delta"]) for h in hints)
        assert flags == ["typing.Literal[False]", "typing.Literal[True]"]
