"""prpkit.LRP with the named composites (prpkit.composites) against zennit 0.5.1, live.

zennit is run with its torchvision canonizers (VGGCanonizer: BatchNorm merge;
ResNetCanonizer: BatchNorm merge and the residual Sum) and the start relevance
one-hot(target) × score, which is what prpkit.LRP propagates (Captum's convention: the
relevance for a start of 1, times the score).

Tolerance: max|prpkit − zennit| ≤ 1e-4 · max|zennit| over each whole attribution (both
examples of the batch). Both sides are float32 and compute the same rules; they differ only
in summation order (prpkit's GEMM convolutions, zennit's torch autograd of modified
forwards) and in where float32 rounds. The composites' denominators are well conditioned
(αβ's z⁺ and z⁻ are sums of one-signed terms, γ's |z_γ| ≥ |z|, stabiliser 1e-6 rather
than Captum's 1e-9; ε-LRP only on the linear head), so rounding is not amplified much:
measured 3.9e-7 … 4.6e-7 on ResNet50, 1.2e-6 … 1.5e-6 on ResNet18 and 2.0e-6 … 2.5e-6 on
VGG16-BN (2026-12-02; the junit properties record each case), 40× inside the bound.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
zennit = pytest.importorskip("zennit")
from zennit.attribution import Gradient  # noqa: E402
from zennit import composites as zc  # noqa: E402
from zennit.canonizers import SequentialMergeBatchNorm  # noqa: E402
from zennit.torchvision import ResNetCanonizer, VGGCanonizer  # noqa: E402

import prpkit  # noqa: E402
from prpkit import composites  # noqa: E402
from conftest import make_torchvision, randomize_batch_norms  # noqa: E402

REL = 1e-4
MEAN, STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
# The exact range of ImageNet-normalised pixels, per channel: zennit's usual ZBox bounds.
LOW, HIGH = ((0 - MEAN) / STD).view(1, 3, 1, 1), ((1 - MEAN) / STD).view(1, 3, 1, 1)


def zennit_relevance(model, composite, x, target):
    with Gradient(model=model, composite=composite) as attributor:
        _, relevance = attributor(x, lambda out: torch.nn.functional.one_hot(torch.tensor(target), out.shape[1]) * out)
    return relevance.detach()


def check(actual, expected, what, record_property):
    a, e = actual.detach().numpy().astype(np.float64), expected.numpy().astype(np.float64)
    assert actual.shape == expected.shape and actual.dtype == torch.float32
    scale = float(np.max(np.abs(e)))
    assert scale > 0 and np.all(np.isfinite(a)), f"{what}: degenerate reference or non-finite result"
    diff = float(np.max(np.abs(a - e)))
    record_property(what, f"max|diff|={diff:.3g} max|zennit|={scale:.3g} rel={diff / scale:.3g}")
    assert diff <= REL * scale, f"{what}: max|prpkit − zennit| / max|zennit| = {diff / scale:.3g} > {REL:g}"


@pytest.fixture(scope="module")
def vgg16_bn():
    return make_torchvision("vgg16_bn")


@pytest.fixture(scope="module")
def resnet50():
    return make_torchvision("resnet50")


@pytest.fixture(scope="module")
def resnet18():
    return make_torchvision("resnet18")  # BasicBlocks: zennit's ResNetBasicBlockCanonizer


def _pixels(seed: int) -> torch.Tensor:
    """Two ImageNet-normalised 64×64 images (pixels uniform in [0, 1])."""
    g = torch.Generator().manual_seed(seed)
    return ((torch.rand(2, 3, 64, 64, generator=g) - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1)).contiguous()


CASES = [
    ("epsilon_plus", lambda c: zc.EpsilonPlus(canonizers=[c()]), lambda: composites.EpsilonPlus()),
    ("epsilon_alpha2_beta1", lambda c: zc.EpsilonAlpha2Beta1(canonizers=[c()]), lambda: composites.EpsilonAlpha2Beta1()),
    ("epsilon_gamma_box", lambda c: zc.EpsilonGammaBox(low=LOW, high=HIGH, canonizers=[c()]),
     lambda: composites.EpsilonGammaBox(low=LOW, high=HIGH)),
    ("epsilon_gamma_box_scalar", lambda c: zc.EpsilonGammaBox(low=-3.0, high=3.0, gamma=0.5, canonizers=[c()]),
     lambda: composites.EpsilonGammaBox(low=-3.0, high=3.0, gamma=0.5)),
]


@pytest.fixture(scope="module")
def held():
    """One explainer per model, kept for the module: the named composites share a model's
    canonized conversion, which prpkit's cache keeps only while an explainer holds it
    (converting VGG16-BN costs ≈ 8 s, an attribution 0.5 s)."""
    return {}


@pytest.mark.parametrize("arch", ["vgg16_bn", "resnet50", "resnet18"])
@pytest.mark.parametrize("name,make_zennit,make_prpkit", CASES, ids=[c[0] for c in CASES])
def test_matches_zennit(request, record_property, held, arch, name, make_zennit, make_prpkit):
    model = request.getfixturevalue(arch)
    canonizer = VGGCanonizer if arch.startswith("vgg") else ResNetCanonizer
    x, target = _pixels(7), [3, 999]
    expected = zennit_relevance(model, make_zennit(canonizer), x, target)
    lrp = prpkit.LRP(model, composite=make_prpkit())
    check(lrp.attribute(x, target=target), expected, f"{arch} {name}", record_property)
    held.setdefault(arch, lrp)


@pytest.mark.parametrize("name", ["epsilon_alpha2_beta1", "epsilon_gamma_box"])
def test_resnet50_96px_against_float64(resnet50, held, record_property, name):
    """At 96×96, against zennit in float32 and in float64 (model.double()), same bound:
    the float32 differences of the parity tests are rounding, not a disagreement (measured
    7.5e-7 against zennit, 1.0e-6 … 1.2e-6 against zennit-float64). At 224×224 both float32
    runs can drift from float64 by ~1e-3 (docs/composites.md, bench/composites_vs_zennit.py)."""
    import copy
    _, make_zennit, make_prpkit = next(c for c in CASES if c[0] == name)
    x = ((torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(5)) - MEAN.view(1, 3, 1, 1))
         / STD.view(1, 3, 1, 1)).contiguous()
    expected32 = zennit_relevance(resnet50, make_zennit(ResNetCanonizer), x, [3])
    model64 = held.setdefault("resnet50 float64", copy.deepcopy(resnet50).double())
    zennit64 = make_zennit(ResNetCanonizer) if name != "epsilon_gamma_box" else zc.EpsilonGammaBox(
        low=LOW.double(), high=HIGH.double(), canonizers=[ResNetCanonizer()])
    expected64 = zennit_relevance(model64, zennit64, x.double(), [3]).float()
    actual = prpkit.LRP(resnet50, composite=make_prpkit()).attribute(x, target=3)
    check(actual, expected32, f"resnet50 96px {name} vs zennit", record_property)
    check(actual, expected64, f"resnet50 96px {name} vs zennit-float64", record_property)


def test_names_classes_and_prpkit_models(resnet50, record_property):
    """A registry name, a class and an object are the same composite; a converted
    prpkit.Model gives the torch module's numbers; zennit's canonizers leave the module as
    it was (prpkit never changes it)."""
    x = _pixels(11)
    by_object = prpkit.LRP(resnet50, composite=composites.EpsilonPlus()).attribute(x, target=5)
    for same in ("epsilon_plus", composites.EpsilonPlus):
        assert torch.equal(prpkit.LRP(resnet50, composite=same).attribute(x, target=5), by_object)
    model = prpkit.from_torch(resnet50, x[:1])
    check(prpkit.LRP(model, composite="epsilon_plus").attribute(x, target=5), by_object, "prpkit.Model", record_property)
    expected = zennit_relevance(resnet50, zc.EpsilonPlus(canonizers=[ResNetCanonizer()]), x, [5, 5])
    check(by_object, expected, "resnet50 epsilon_plus, second input", record_property)
    # The rule of every node, as docs/composites.md tabulates it; explicit rules override.
    rules = prpkit.LRP(resnet50, composite="epsilon_plus", rules={"fc": prpkit.rules.EpsilonRule(0.25)}).rules(x[:1])
    assert rules["conv1"] == {"rule": "alpha_beta", "alpha": 1, "beta": 0, "stabilizer": 1e-6}
    assert rules["bn1"] == rules["relu"] == {"rule": "pass_through"}
    assert rules["maxpool"] == {"rule": "gradient"} and rules["flatten"] is None
    assert rules["add"] == rules["avgpool"] == {"rule": "norm", "stabilizer": 1e-6}
    assert rules["fc"] == {"rule": "epsilon", "epsilon": 0.25}


class SigmoidNet(torch.nn.Module):
    """A small CNN with a Sigmoid module, which Captum's LRP refuses (no default rule) and
    zennit passes through (an Activation), a BatchNorm after a conv (merged) and one after
    a pool (not merged by either: zennit passes relevance through it)."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.act = torch.nn.Sigmoid()
        self.pool = torch.nn.AvgPool2d(2)
        self.bn2 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.relu = torch.nn.ReLU()
        self.head = torch.nn.Linear(8 * 8 * 8, 5)

    def forward(self, x):
        x = self.bn2(self.pool(self.act(self.bn1(self.conv1(x)))))
        return self.head(torch.flatten(self.relu(self.conv2(x)), 1))


def test_captum_default_unchanged_and_other_layers(record_property):
    """Without a composite prpkit.LRP still raises Captum's TypeError on a module with no
    Captum rule; with one it follows zennit (Sigmoid passed through, AvgPool2d by Norm,
    BatchNorm merged into conv1, signed first-layer inputs split by sign)."""
    torch.manual_seed(0)
    model = SigmoidNet().eval()
    randomize_batch_norms(model, seed=2)
    x = torch.randn(2, 3, 16, 16)
    with pytest.raises(TypeError, match="Module act of type .*Sigmoid.* has no rule defined"):
        prpkit.LRP(model).attribute(x, target=1)
    for zennit_composite, ours in [(zc.EpsilonPlus, composites.EpsilonPlus()),
                                   (zc.EpsilonAlpha2Beta1, composites.EpsilonAlpha2Beta1())]:
        expected = zennit_relevance(model, zennit_composite(canonizers=[SequentialMergeBatchNorm()]), x, [1, 4])
        check(prpkit.LRP(model, composite=ours).attribute(x, target=[1, 4]), expected,
              f"SigmoidNet {ours.name}", record_property)


class SharedInputHead(torch.nn.Module):
    """Two linear layers reading one tensor: ε-LRP on Captum-style tensor hooks would not
    give zennit's numbers there, so the composites refuse it."""

    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(6, 3), torch.nn.Linear(6, 3)

    def forward(self, x):
        return self.a(x) + self.b(x)


def test_bad_composites_are_refused(resnet50):
    with pytest.raises(ValueError, match="the input of linear layer 'a' is also read by \\['b'\\]"):
        prpkit.LRP(SharedInputHead().eval(), composite="epsilon_plus").attribute(torch.randn(1, 6), target=0)
    x = _pixels(3)[:1]
    with pytest.raises(ValueError, match="unknown composite 'epsilon'; prpkit's named composites are"):
        prpkit.LRP(resnet50, composite="epsilon")
    with pytest.raises(ValueError, match="needs its input bounds"):
        prpkit.LRP(resnet50, composite="epsilon_gamma_box")
    with pytest.raises(TypeError, match="composite must be a prpkit.composites object"):
        prpkit.LRP(resnet50, composite=zc.EpsilonPlus())
    with pytest.raises(TypeError, match="missing 2 required positional arguments"):
        composites.EpsilonGammaBox()
    with pytest.raises(ValueError, match="low must be below high"):
        composites.EpsilonGammaBox(low=3.0, high=-3.0)
    with pytest.raises(ValueError, match="low must be below high"):
        composites.EpsilonGammaBox(low=[0.0, 0.0, 1.0], high=1.0)
    with pytest.raises(ValueError, match="finite"):
        composites.EpsilonGammaBox(low=float("nan"), high=1.0)
    with pytest.raises(TypeError, match="must be a number"):
        composites.EpsilonGammaBox(low="low", high=1.0)
    with pytest.raises(ValueError, match="low has 2 channel bounds, high 3"):
        composites.EpsilonGammaBox(low=[-1.0, -1.0], high=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"one per input channel .*got shape \(1, 3, 64, 64\)"):
        composites.EpsilonGammaBox(low=torch.zeros(1, 3, 64, 64), high=torch.ones(1, 3, 64, 64))
    with pytest.raises(ValueError, match="gamma must be a finite number ≥ 0"):
        composites.EpsilonGammaBox(low=-1.0, high=1.0, gamma=-0.25)
    with pytest.raises(ValueError, match="epsilon must be a finite number ≥ 0"):
        composites.EpsilonPlus(epsilon=-1.0)
    # Bounds for 2 channels on a model whose first convolution takes 3: the layer is named.
    with pytest.raises(ValueError, match="2 channel bounds for the first convolution 'conv1', which takes 3"):
        prpkit.LRP(resnet50, composite=composites.EpsilonGammaBox(low=[-1.0, -1.0], high=[1.0, 1.0])).attribute(x, 0)
    # A prp_utils composite model already has its rules: a named composite on top is refused.
    from prpkit._composite import composite
    cabrnet_style = composite(prpkit.from_torch(resnet50, x), set_bias_to_zero=True, stability_factor=1e-6,
                              use_zbeta=True, zbeta_lower_bound=-2.0, zbeta_upper_bound=2.0, similarity_head=True)
    with pytest.raises(ValueError, match="already carries its composite"):
        prpkit.LRP(cabrnet_style, composite="epsilon_plus")
