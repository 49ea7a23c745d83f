"""Never a stale answer: every way of changing a torch module after prpkit has converted it
gives fresh numbers, live against Captum 0.9 and CaBRNet 1.2.

prpkit caches the conversion of a torch module (`prpkit._torch_cache`), keyed on every
parameter's and buffer's identity, storage, version, shape, dtype and bytes, on the
module tree (names, types, plain attributes) and on every rule. Each test below mutates
the module one way, then checks that a REUSED `prpkit.LRP` object (and a fresh
`prpkit.prp` call) equals the reference run on the mutated module, and that the
mutation did reach the reference (its result changed), so the check can fail.

The references run on deep copies (Captum deletes rules and reloads the state dict after
each call; CaBRNet's prp() builds its composite from a copy), so the module under test
changes only where the test changes it.

Tolerance: max|prpkit − reference| ≤ 1e-4 · max|reference| (the rules are
well-conditioned here: ε = 0.1 on the convolutions).
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module
from captum.attr import LRP as CaptumLRP
from captum.attr._utils import lrp_rules as captum_rules

import prpkit
from prpkit import _convert, _torch_cache

pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")

REL = 1e-4


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.ReLU(),
                                        torch.nn.Conv2d(6, 8, 3, padding=1), torch.nn.ReLU())
        self.pool = torch.nn.AdaptiveAvgPool2d(2)
        self.fc = torch.nn.Linear(32, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.body(x)), 1))


def set_rules(net):
    for m in net.body:
        if isinstance(m, torch.nn.Conv2d):
            m.rule = captum_rules.EpsilonRule(epsilon=0.1)


def captum(net, x, target):
    ref = copy.deepcopy(net)
    return CaptumLRP(ref).attribute(x, target=target).detach().numpy()


def rel_diff(a, b):
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max() / np.abs(b).max())


@pytest.fixture
def setup():
    net = Net().eval()
    set_rules(net)
    torch.manual_seed(1)
    x = torch.randn(2, 3, 8, 8)
    lrp = prpkit.LRP(net)
    before = lrp.attribute(x, target=3).numpy()
    assert rel_diff(before, captum(net, x, 3)) <= REL
    return net, x, lrp, before


def _data_assign(net):
    net.body[0].weight.data = torch.randn_like(net.body[0].weight)


def _data_inplace(net):
    net.body[2].bias.data += 0.5


def _data_method_inplace(net):
    net.fc.weight.data.mul_(-1.5)


def _inplace_no_grad(net):
    with torch.no_grad():
        net.body[2].weight.mul_(-1)


def _swap_values(net):
    # Same storage, same version, same sum of values: only the bytes' order changes.
    w = net.fc.weight.data
    w[[0, 3]] = w[[3, 0]].clone()


def _load_state_dict(net):
    other = Net()
    with torch.no_grad():
        for p in other.parameters():
            p.mul_(2).add_(0.1)
    net.load_state_dict(other.state_dict())


def _requires_grad_then_data(net):
    # requires_grad_ alone changes nothing numerically; together with a write through
    # .data (no version bump) the key must still change.
    net.body[0].weight.requires_grad_(False)
    net.body[0].weight.data[0] *= 3


def _replace_parameter(net):
    net.body[2].bias = torch.nn.Parameter(torch.full((8,), 0.7))


def _add_submodule(net):
    torch.manual_seed(3)
    conv = torch.nn.Conv2d(8, 8, 1)
    conv.rule = captum_rules.EpsilonRule(epsilon=0.1)
    net.body.append(conv)
    net.body.append(torch.nn.ReLU())


def _remove_submodule(net):
    del net.body[3]
    del net.body[2]
    net.fc = torch.nn.Linear(24, 5)


def _replace_submodule(net):
    torch.manual_seed(4)
    net.body[2] = torch.nn.Conv2d(6, 8, 3, padding=1)
    net.body[2].rule = captum_rules.EpsilonRule(epsilon=0.1)


def _change_attribute(net):
    net.body[2].padding = (0, 0)
    net.fc = torch.nn.Linear(32, 5)  # 4×4 → pool 2×2 keeps 32 features


def _change_rule(net):
    net.body[2].rule = captum_rules.GammaRule(gamma=0.5)


def _change_rule_in_place(net):
    net.body[0].rule.STABILITY_FACTOR = 2.0


def _delete_rule(net):
    del net.body[0].rule


MUTATIONS = {f.__name__.lstrip("_"): f for f in [
    _data_assign, _data_inplace, _data_method_inplace, _inplace_no_grad, _swap_values, _load_state_dict,
    _requires_grad_then_data, _replace_parameter, _add_submodule, _remove_submodule, _replace_submodule,
    _change_attribute, _change_rule, _change_rule_in_place, _delete_rule]}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_reused_lrp_sees_every_mutation(setup, mutation):
    net, x, lrp, before = setup
    MUTATIONS[mutation](net)
    ref = captum(net, x, 3)
    assert rel_diff(before, ref) > 100 * REL, "the mutation did not change Captum's result: the test tests nothing"
    got = lrp.attribute(x, target=3).numpy()
    assert rel_diff(got, ref) <= REL, f"{mutation}: stale or wrong ({rel_diff(got, ref):.3g})"
    assert rel_diff(prpkit.LRP(net).attribute(x, target=3).numpy(), ref) <= REL


def test_requires_grad_alone_keeps_the_numbers(setup):
    net, x, lrp, before = setup
    for p in net.parameters():
        p.requires_grad_(False)
    assert rel_diff(lrp.attribute(x, target=3).numpy(), before) == 0


def test_unchanged_module_is_converted_once(setup, monkeypatch):
    """The cache is hit while nothing changes (one conversion), missed after a change."""
    net, x, lrp, _ = setup
    calls = []
    real = _convert.convert_with_rules
    monkeypatch.setattr(_convert, "convert_with_rules", lambda *a: calls.append(1) or real(*a))
    for _ in range(3):
        lrp.attribute(x, target=1)
        prpkit.LRP(net).attribute(x, target=2)
    assert calls == []
    net.fc.bias.data += 1
    lrp.attribute(x, target=1)
    lrp.attribute(x, target=1)
    assert calls == [1]
    _torch_cache.clear()
    lrp.attribute(x, target=1)
    assert calls == [1, 1]


def test_fingerprint_covers_parameters_buffers_tree_and_rules():
    net = Net().eval()
    bn = torch.nn.BatchNorm2d(8).eval()
    net.body.append(bn)
    base = _torch_cache.fingerprint(net)
    assert _torch_cache.fingerprint(net) == base
    bn.running_var.data += 1  # a buffer written through .data: no version bump
    assert _torch_cache.fingerprint(net) != base
    base = _torch_cache.fingerprint(net)
    net.train()  # training flags are not part of the key (conversion is always inference)
    assert _torch_cache.fingerprint(net) == base
    net.body[0].rule = captum_rules.EpsilonRule(epsilon=0.3)
    assert _torch_cache.fingerprint(net) != base


# ---- prp(): fresh on the plain CaBRNet model and on CaBRNet's composite ---------------

gradients = pytest.importorskip("cabrnet.core.visualization.gradients")
cabrnet_prp_utils = pytest.importorskip("cabrnet.core.visualization.prp_utils")
from PIL import Image  # noqa: E402

from test_prp_composite import build_protopnet  # noqa: E402

IMG = Image.new("RGB", (64, 64))


def _protos_assign(model):
    torch.manual_seed(7)
    model.classifier.prototypes.data = torch.rand_like(model.classifier.prototypes)


def _add_on_bias_inplace(model):
    model.extractor.add_on.conv1.bias.data += 0.3


def _trunk_load_state_dict(model):
    state = {k: v * 1.5 if v.is_floating_point() and "conv" in k else v
             for k, v in model.extractor.convnet.state_dict().items()}
    model.extractor.convnet.load_state_dict(state)


PRP_MUTATIONS = {f.__name__.lstrip("_"): f for f in [_protos_assign, _add_on_bias_inplace, _trunk_load_state_dict]}


def cabrnet_prp(model, x):
    """CaBRNet's prp(); the plain model is copied (CaBRNet canonises a copy anyway), CaBRNet's
    composite is used in place (it cannot be deep-copied after a forward pass; prp()
    re-attaches the rules Captum deletes)."""
    target = model if hasattr(model, "lrp_ready") else copy.deepcopy(model)
    return gradients.prp(target, IMG, x, 2, "cpu", location="max")


@pytest.mark.parametrize("arrival", ["plain", "cabrnet_composite"])
@pytest.mark.parametrize("mutation", list(PRP_MUTATIONS))
def test_prp_sees_every_mutation(arrival, mutation):
    model = build_protopnet("resnet18", "layer2")
    if arrival == "cabrnet_composite":
        model = cabrnet_prp_utils.get_cabrnet_lrp_composite_model(model).eval()
    torch.manual_seed(1)
    x = torch.randn(1, 3, 64, 64)
    before = prpkit.prp(model, IMG, x, 2, location="max")
    assert rel_diff(before, cabrnet_prp(model, x)) <= REL
    lrp = prpkit.LRP(model) if arrival == "cabrnet_composite" else None
    target = (2, 3, 4)
    if lrp is not None:
        lrp.attribute(x, target=target)
    PRP_MUTATIONS[mutation](model)
    ref = cabrnet_prp(model, x)
    assert rel_diff(before, ref) > 100 * REL, "the mutation did not change CaBRNet's heatmap"
    got = prpkit.prp(model, IMG, x, 2, location="max")
    assert rel_diff(got, ref) <= REL, f"{arrival} {mutation}: stale or wrong ({rel_diff(got, ref):.3g})"
    if lrp is not None:  # a reused prpkit.LRP on CaBRNet's composite too
        got = lrp.attribute(x, target=target).numpy()
        ref = CaptumLRP(model).attribute(x, target=target).detach().numpy()
        cabrnet_prp_utils.attach_lrp_comp_rules(model)
        assert rel_diff(got, ref) <= REL


@pytest.mark.parametrize("arrival", ["plain", "cabrnet_composite"])
def test_prp_converts_an_unchanged_module_once(arrival, monkeypatch):
    """prp() on a torch module converts it once (prpkit._convert) while it is unchanged:
    another stability factor builds another composite on the same conversion (with the
    factor's numbers, as CaBRNet's prp(); CaBRNet's own composite keeps its rules), and a
    change of the module converts it again."""
    model = build_protopnet("resnet18", "layer2")
    if arrival == "cabrnet_composite":
        model = cabrnet_prp_utils.get_cabrnet_lrp_composite_model(model).eval()
    calls = []
    for name in ("from_torch", "convert_with_rules"):
        real = getattr(_convert, name)
        monkeypatch.setattr(_convert, name, lambda *a, real=real, name=name, **k: calls.append(name) or real(*a, **k))
    torch.manual_seed(1)
    x = torch.randn(1, 3, 64, 64)
    first = prpkit.prp(model, IMG, x, 2, location="max")
    other = prpkit.prp(model, IMG, x, 2, location="max", stability_factor=0.5)
    again = prpkit.prp(model, IMG, x, 2, location="max")
    assert calls == ["convert_with_rules" if arrival == "cabrnet_composite" else "from_torch"]
    assert np.array_equal(first, again)
    target = model if arrival == "cabrnet_composite" else copy.deepcopy(model)
    ref = gradients.prp(target, IMG, x, 2, "cpu", location="max", stability_factor=0.5)
    assert rel_diff(other, ref) <= REL
    if arrival == "plain":
        assert rel_diff(first, ref) > 100 * REL, "the stability factor did not change CaBRNet's heatmap"
    _add_on_bias_inplace(model)
    prpkit.prp(model, IMG, x, 2, location="max")
    assert len(calls) == 2


# ---- the other silent wrong answers ------------------------------------------------------

def test_prp_of_a_batch_raises_pointing_to_prp_batch():
    model = build_protopnet("resnet18", "layer2")
    x = torch.randn(2, 3, 64, 64)
    with pytest.raises(ValueError, match="single images"):
        gradients.prp(model, IMG, x, 0, "cpu", location="max")  # CaBRNet
    with pytest.raises(ValueError, match="prp_batch"):
        prpkit.prp(model, IMG, x, 0, location="max")
    with pytest.raises(ValueError, match="prp_batch"):
        prpkit.prp(model, IMG, x.numpy(), 0, location="max")


def test_training_mode_warns_once():
    net = Net()
    net.body.append(torch.nn.BatchNorm2d(8))
    net.train()
    x = torch.randn(2, 3, 8, 8)
    lrp = prpkit.LRP(net)
    with pytest.warns(_torch_cache.TrainingModeWarning, match=r"training mode \('body.4' BatchNorm2d\)"):
        lrp.attribute(x, target=0)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", _torch_cache.TrainingModeWarning)
        lrp.attribute(x, target=0)
        prpkit.LRP(net).attribute(x, target=1)
        net.eval()
        prpkit.LRP(net.eval()).attribute(x, target=1)


def test_training_mode_warning_names_cabrnets_composite():
    model = build_protopnet("resnet18", "layer2")
    composite = cabrnet_prp_utils.get_cabrnet_lrp_composite_model(model)  # trunk in training mode
    assert any(m.training for m in composite.modules() if isinstance(m, torch.nn.BatchNorm2d))
    x = torch.randn(1, 3, 64, 64)
    with pytest.warns(prpkit.TrainingModeWarning, match="get_cabrnet_lrp_composite_model"):
        prpkit.LRP(composite).attribute(x, target=(0, 1, 1))
    import warnings
    with warnings.catch_warnings():  # prp() follows CaBRNet's prp(), which explains in eval mode
        warnings.simplefilter("error", prpkit.TrainingModeWarning)
        prpkit.prp(cabrnet_prp_utils.get_cabrnet_lrp_composite_model(model), IMG, x, 0, location="max")


def test_explicit_rules_changed_in_place_are_read_again():
    """`prpkit.LRP(model, rules={node: rule})`: a rule object changed after construction is
    used as it is at call time (on a prpkit Model, where rules come only from there)."""
    from prpkit import rules as prpkit_rules
    net = Net().eval()
    set_rules(net)
    torch.manual_seed(1)
    x = torch.randn(2, 3, 8, 8)
    native = prpkit.from_torch(net, x)
    rule = prpkit_rules.EpsilonRule(0.1)
    lrp = prpkit.LRP(native, rules={"body.0": rule, "body.2": prpkit_rules.EpsilonRule(0.1)})
    assert rel_diff(lrp.attribute(x, target=3).numpy(), captum(net, x, 3)) <= REL
    rule.STABILITY_FACTOR = 3.0
    net.body[0].rule = captum_rules.EpsilonRule(epsilon=3.0)
    ref = captum(net, x, 3)
    assert rel_diff(lrp.attribute(x, target=3).numpy(), ref) <= REL
