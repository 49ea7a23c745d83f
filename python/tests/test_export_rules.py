"""graph_from_torch(..., rules=True): rules from Captum/CaBRNet/prpkit rule objects and
CaBRNet's LRP composite (get_cabrnet_lrp_composite_model).

Pure Python: imports prpkit._export directly and evaluates exported graphs with the torch
interpreter of tools/make_fixtures.py; the compiled extension is not needed.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import os
import sys
import types

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _source_package():
    """The checkout's python/prpkit as package `_prpkit_src`, without running its __init__
    (no compiled extension needed; conftest may have bound `prpkit` to an installed copy)."""
    name = "_prpkit_src"
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [os.path.join(ROOT, "python", "prpkit")]
        sys.modules[name] = pkg
    return (importlib.import_module(f"{name}._export"), importlib.import_module(f"{name}._rules_from_torch"))


_export, R = _source_package()
graph_from_torch = _export.graph_from_torch

captum_rules = pytest.importorskip("captum.attr._utils.lrp_rules")
from captum.attr._utils.lrp_rules import Alpha1_Beta0_Rule, EpsilonRule, GammaRule, IdentityRule  # noqa: E402


def _fixture_tools():
    """tools/make_fixtures.py (its torch graph interpreter and BatchNorm randomizer)."""
    saved = list(sys.path)
    try:
        spec = importlib.util.spec_from_file_location("make_fixtures",
                                                      os.path.join(ROOT, "tools", "make_fixtures.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path[:] = saved
    return mod


def _rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-30))


# --------------------------------------------------------------------------- Captum rules

class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv3 = nn.Conv2d(8, 8, 1)
        self.avg = nn.AdaptiveAvgPool2d((2, 2))
        self.fc1 = nn.Linear(32, 16)
        self.drop = nn.Dropout()
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = F.relu(self.conv2(x))                 # functional: no Captum hook
        x = self.conv3(x) + x                     # residual add: ordinary backward
        x = torch.flatten(self.avg(F.max_pool2d(x, 1)), 1)
        return self.fc2(self.drop(torch.sigmoid(self.fc1(x))))


def _mixed_with_rules():
    m = Mixed().eval()
    m.conv1.rule = GammaRule(gamma=0.5, set_bias_to_zero=True)
    m.bn1.rule = IdentityRule()
    m.pool1.rule = _gradient_rule_or_skip()()
    m.conv2.rule = EpsilonRule(epsilon=1e-3)
    m.conv3.rule = None                           # "no rule": Captum's default (native)
    m.fc1.rule = Alpha1_Beta0_Rule(set_bias_to_zero=True)
    m.relu1.rule = EpsilonRule()                  # Captum ignores rules on ReLU/Dropout/Tanh
    return m


def _gradient_rule_or_skip():
    cab = R.composite_types()
    if cab is None:
        pytest.skip("CaBRNet not installed")
    return cab["GradientRule"]


def test_rules_false_keeps_the_two_tuple():
    out = graph_from_torch(Mixed().eval(), torch.randn(1, 3, 8, 8))
    assert len(out) == 2


def test_captum_rules_by_node():
    m = _mixed_with_rules()
    graph, params, rules = graph_from_torch(m, torch.randn(2, 3, 8, 8), rules=True)
    by_node = rules["by_node"]
    ops = {n["name"]: n["op"] for n in graph["nodes"]}
    # functional nodes (named after the fx node) get "gradient", whatever their name
    functional = {name: r for name, r in by_node.items() if ops[name] in ("relu", "max_pool2d", "sigmoid")
                  and name not in ("relu1", "pool1")}
    assert sorted(ops[nm] for nm in functional) == ["max_pool2d", "relu", "sigmoid"]
    assert all(r == {"rule": "gradient"} for r in functional.values())
    modules = {k: v for k, v in by_node.items() if k not in functional}
    assert modules == {
        "conv1": {"rule": "gamma", "gamma": 0.5, "set_bias_to_zero": True},
        "bn1": {"rule": "identity"},
        "pool1": {"rule": "gradient"},
        "conv2": {"rule": "epsilon", "epsilon": 1e-3},
        "fc1": {"rule": "alpha1_beta0", "set_bias_to_zero": True},
    }
    # defaults are not emitted; functional kinds (add, flatten) have no entry
    for name in ("conv3", "avg", "fc2", "drop", "relu1"):
        assert name not in by_node
    assert not any(ops[nm] in ("add", "flatten") for nm in by_node)
    json.dumps(rules)  # plain JSON


def test_rule_objects_are_not_modified_and_rules_survive():
    m = _mixed_with_rules()
    before = m.conv1.rule
    graph_from_torch(m, torch.randn(1, 3, 8, 8), rules=True)
    assert m.conv1.rule is before and m.conv1.rule.gamma == 0.5


def test_unknown_rule_class_is_an_error():
    class MyRule(EpsilonRule):  # a subclass may change the hooks: not silently mapped
        pass

    m = Mixed().eval()
    m.conv2.rule = MyRule()
    with pytest.raises(R.UnsupportedRule, match="conv2.*MyRule"):
        graph_from_torch(m, torch.randn(1, 3, 8, 8), rules=True)
    m.conv2.rule = "epsilon"
    with pytest.raises(TypeError, match="unsupported rule object"):
        graph_from_torch(m, torch.randn(1, 3, 8, 8), rules=True)


def test_gamma_with_custom_stability_factor_is_an_error():
    m = Mixed().eval()
    r = GammaRule()
    r.STABILITY_FACTOR = 1e-3
    m.conv2.rule = r
    with pytest.raises(R.UnsupportedRule, match="STABILITY_FACTOR"):
        graph_from_torch(m, torch.randn(1, 3, 8, 8), rules=True)


def test_prpkit_rule_objects_are_duck_typed():
    class PrpkitLikeRule:
        def __init__(self, j):
            self.j = j

        def _prpkit_rule_json(self):
            return self.j

    class PrpkitLikeProperty:
        _prpkit_rule_json = {"rule": "epsilon", "epsilon": 0.25}

    m = Mixed().eval()
    m.conv2.rule = PrpkitLikeRule({"rule": "gamma", "gamma": 0.1, "set_bias_to_zero": False})
    m.fc2.rule = PrpkitLikeProperty()
    _, _, rules = graph_from_torch(m, torch.randn(1, 3, 8, 8), rules=True)
    assert rules["by_node"]["conv2"] == {"rule": "gamma", "gamma": 0.1, "set_bias_to_zero": False}
    assert rules["by_node"]["fc2"] == {"rule": "epsilon", "epsilon": 0.25}
    m.conv2.rule = PrpkitLikeRule(["not", "a", "dict"])
    with pytest.raises(R.UnsupportedRule, match="_prpkit_rule_json"):
        graph_from_torch(m, torch.randn(1, 3, 8, 8), rules=True)


def test_prpkit_rules_module_gives_the_same_table_as_captum():
    try:
        P = importlib.import_module("_prpkit_src.rules")
    except ImportError:
        pytest.skip("python/prpkit/rules.py not present")
    x = torch.randn(1, 3, 8, 8)
    _, _, captum_table = graph_from_torch(_mixed_with_rules(), x, rules=True)
    m = _mixed_with_rules()
    m.conv1.rule = P.GammaRule(gamma=0.5, set_bias_to_zero=True)
    m.bn1.rule = P.IdentityRule()
    m.pool1.rule = P.GradientRule()
    m.conv2.rule = P.EpsilonRule(epsilon=1e-3)
    m.fc1.rule = P.Alpha1_Beta0_Rule(set_bias_to_zero=True)
    _, _, prpkit_table = graph_from_torch(m, x, rules=True)
    assert prpkit_table == captum_table
    # prpkit's GradientRule on CaBRNet-style custom layers: traced into, ordinary backward
    assert R.is_gradient_rule(P.GradientRule())


class MyConv(nn.Conv2d):
    """A Conv2d subclass: exported as conv2d, but Captum has no default for its type."""


def _captum_raises(model, x):
    from captum.attr import LRP
    with pytest.raises(TypeError, match="no rule defined"):
        LRP(model).attribute(x, target=0)


@pytest.mark.parametrize("case", ["sigmoid_module", "conv_subclass", "flatten_module"])
def test_leaf_without_rule_or_default_raises_like_captum(case):
    if case == "sigmoid_module":
        m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sigmoid(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
        m[2].rule = EpsilonRule()
    elif case == "conv_subclass":
        m = nn.Sequential(MyConv(3, 4, 3), nn.ReLU())
    else:
        m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    m.eval()
    x = torch.randn(1, 3, 8, 8)
    _captum_raises(copy.deepcopy(m), x)
    with pytest.raises(R.MissingRule, match="has no rule defined") as e:
        graph_from_torch(m, x, rules=True)
    assert isinstance(e.value, TypeError)
    graph_from_torch(m, x)  # without rules the graph itself is fine


def test_subclass_with_rule_is_exported_with_it():
    m = nn.Sequential(MyConv(3, 4, 3), nn.ReLU()).eval()
    m[0].rule = EpsilonRule(0.5)
    graph, _, rules = graph_from_torch(m, torch.randn(1, 3, 8, 8), rules=True)
    assert [n["op"] for n in graph["nodes"]] == ["conv2d", "relu"]
    assert rules["by_node"] == {"0": {"rule": "epsilon", "epsilon": 0.5}}


def test_rule_on_module_prpkit_cannot_map_is_an_error():
    class Scale(nn.Module):
        def forward(self, x):
            return x * 2

    m = nn.Sequential(nn.Conv2d(3, 4, 3), Scale()).eval()
    m[1].rule = EpsilonRule()
    with pytest.raises(TypeError, match="1"):
        graph_from_torch(m, torch.randn(1, 3, 8, 8), rules=True)


# --------------------------------------------------------------------------- CaBRNet composite

SMALL_PROTOPNET = {
    "extractor": {"backbone": {"arch": "resnet18", "weights": "None", "layer": "layer2"},
                  "add_on": {"conv1": {"type": "Conv2d", "params": {"out_channels": 16, "kernel_size": 1}},
                             "relu1": {"type": "ReLU"},
                             "conv2": {"type": "Conv2d", "params": {"out_channels": 16, "kernel_size": 1}},
                             "sigmoid1": {"type": "Sigmoid"}}},
    "classifier": {"module": "cabrnet.archs.protopnet.decision", "name": "ProtoPNetClassifier",
                   "params": {"num_classes": 3, "num_proto_per_class": 2}},
    "similarity": {"name": "ProtoPNetSimilarity"},
    "top_arch": {"module": "cabrnet.archs.protopnet.model", "name": "ProtoPNet"},
}


@pytest.fixture(scope="module")
def composite():
    pytest.importorskip("cabrnet")
    from loguru import logger
    logger.remove()
    from cabrnet.archs.generic.model import CaBRNet
    from cabrnet.core.visualization.prp_utils import get_cabrnet_lrp_composite_model
    tools = _fixture_tools()
    torch.manual_seed(0)
    model = CaBRNet.build_from_config(SMALL_PROTOPNET)
    tools.randomize_bn(model, torch.Generator().manual_seed(3))
    with torch.no_grad():  # prototypes in the range of the add-on's sigmoid output
        model.classifier.prototypes.copy_(torch.rand_like(model.classifier.prototypes))
    model.eval()
    comp = get_cabrnet_lrp_composite_model(model)  # CaBRNet's own composite (trunk left in train mode)
    return model, comp, tools


def test_composite_forward_matches_similarity_map(composite):
    model, comp, tools = composite
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    flags = {n: m.training for n, m in comp.named_modules()}
    assert any(flags.values())  # the reference quirk: trunk in training mode
    graph, params, rules = graph_from_torch(comp, x, rules=True)
    assert {n: m.training for n, m in comp.named_modules()} == flags  # restored
    comp.eval()  # (a composite cannot be deep-copied: its layers hold autograd Function objects)
    try:
        with torch.no_grad():
            ref = comp(x)
            ref_model = model.similarities(x)
    finally:
        for n, m in comp.named_modules():
            m.training = flags[n]
    assert ref.shape == (2, 6, 8, 8)
    assert graph["outputs"] == ["classifier.similarities"]
    (got,) = tools.run_graph_torch(graph, params, [x.numpy()])
    assert got.shape == tuple(ref.shape)
    assert _rel_err(got, ref.numpy()) <= 1e-5
    # and the composite (BN merged into convs) still computes the original model's map
    assert _rel_err(got, ref_model.numpy()) <= 1e-3
    # export does not drift the reset BatchNorms' running statistics
    for m in comp.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.running_mean == 0) and torch.all(m.running_var == 1)


def test_composite_rule_table(composite):
    _, comp, _ = composite
    from cabrnet.core.visualization import prp_utils as P
    graph, params, rules = graph_from_torch(comp, torch.randn(1, 3, 64, 64), rules=True)
    by_node = rules["by_node"]
    nodes = {n["name"]: n for n in graph["nodes"]}
    assert set(by_node) <= set(nodes)
    json.dumps(rules)

    convs = [n["name"] for n in graph["nodes"] if n["op"] == "conv2d"]
    assert convs[0] == "extractor.convnet.conv1"
    assert by_node[convs[0]] == {"rule": "zbeta", "lower_bound": pytest.approx(-0.485 / 0.229),
                                 "upper_bound": pytest.approx((1 - 0.406) / 0.225),
                                 "stability_factor": 1e-6, "set_bias_to_zero": True}
    assert len(convs) == 1 + 4 * 2 + 1 + 2  # stem, 4 blocks × 2, one downsample, add-on × 2
    for c in convs[1:]:
        assert by_node[c] == {"rule": "prp_alpha1_beta0", "stability_factor": 1e-6, "set_bias_to_zero": True}, c
    # conv nodes carry the composite modules' own (BN-merged) weights and bias
    mods = dict(comp.named_modules())
    for c in convs:
        m = mods[c]
        assert isinstance(m, (P.ZBetaConv2d, P.Alpha1Beta0Conv2d))
        np.testing.assert_array_equal(params[nodes[c]["parameters"]["weight"]], m.weight.detach().numpy())
        np.testing.assert_array_equal(params[nodes[c]["parameters"]["bias"]], m.bias.detach().numpy())

    sums = [name for name, m in mods.items() if isinstance(m, P.StackedSum)]
    assert len(sums) == 4
    for s in sums:
        assert nodes[s]["op"] == "add" and by_node[s] == {"rule": "stacked_sum", "stability_factor": 1e-6}
    assert not [n for n in graph["nodes"] if n["op"] == "add" and n["name"] not in sums]

    bns = [n["name"] for n in graph["nodes"] if n["op"] == "batch_norm2d"]
    assert len(bns) == len(convs) - 2  # every trunk conv has its (reset) BatchNorm
    for b in bns:
        assert by_node[b] == {"rule": "identity"}
        p = nodes[b]["parameters"]
        for role, value in (("weight", 1), ("bias", 0), ("running_mean", 0), ("running_var", 1)):
            assert np.all(params[p[role]] == value), (b, role)
    assert by_node["extractor.add_on.sigmoid1"] == {"rule": "identity"}
    assert by_node["extractor.convnet.maxpool"] == {"rule": "gradient"}
    assert nodes["extractor.convnet.maxpool"]["op"] == "max_pool2d"
    # ReLU keeps Captum's default (pass-through, applied natively): no entry
    assert not [n for n in graph["nodes"] if n["op"] == "relu" and n["name"] in by_node]

    dist, sim = "classifier.similarity_layer", "classifier.similarities"
    assert nodes[dist]["op"] == "l2_distance" and nodes[dist]["attributes"] == {"mode": "cdist"}
    np.testing.assert_array_equal(params[nodes[dist]["parameters"]["prototypes"]],
                                  comp.classifier.prototypes.detach().numpy())
    assert nodes[sim]["op"] == "log_similarity" and nodes[sim]["inputs"] == [dist]
    assert nodes[sim]["attributes"] == {"epsilon": comp.classifier.similarity_layer.stability_factor} \
        == {"epsilon": 1e-4}
    assert by_node[dist] == {"rule": "prototype_similarity", "stability_factor": 1e-12}
    assert by_node[sim] == {"rule": "pass_through"}
    # every node with a rule is accounted for above
    assert set(by_node) == set(convs) | set(sums) | set(bns) | {
        "extractor.add_on.sigmoid1", "extractor.convnet.maxpool", dist, sim}


def test_composite_after_captum_deleted_rules(composite):
    """Captum deletes every leaf's rule after attribute(); composite layers are still known
    by type (BatchNorm/MaxPool/Sigmoid then fall back to Captum's defaults or error)."""
    from cabrnet.core.visualization.prp_utils import get_cabrnet_lrp_composite_model
    c = get_cabrnet_lrp_composite_model(composite[0])
    for m in c.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.MaxPool2d, nn.Sigmoid)):
            continue
        if hasattr(m, "rule"):
            del m.rule
    _, _, rules = graph_from_torch(c, torch.randn(1, 3, 64, 64), rules=True)
    assert rules["by_node"]["extractor.convnet.conv1"]["rule"] == "zbeta"
    assert rules["by_node"]["extractor.stacked_adder_0"]["rule"] == "stacked_sum"
    assert rules["by_node"]["classifier.similarity_layer"]["rule"] == "prototype_similarity"


def test_composite_layer_with_foreign_rule_is_an_error(composite):
    from cabrnet.core.visualization.prp_utils import get_cabrnet_lrp_composite_model
    c = get_cabrnet_lrp_composite_model(composite[0])
    dict(c.named_modules())["extractor.convnet.layer1.0.conv1"].rule = EpsilonRule()
    with pytest.raises(R.UnsupportedRule, match="layer1.0.conv1"):
        graph_from_torch(c, torch.randn(1, 3, 64, 64), rules=True)


def test_plain_cabrnet_model_is_rejected_like_captum(composite):
    model, _, _ = composite
    with pytest.raises(R.MissingRule):  # Sigmoid / similarity layer have no Captum default
        graph_from_torch(model, torch.randn(1, 3, 64, 64), rules=True)
    graph, _ = graph_from_torch(model, torch.randn(1, 3, 64, 64))
    assert graph["outputs"] == ["classifier.last_layer", "classifier.min_distances"]


def test_custom_layer_with_gradient_rule_is_traced_into():
    """A childless custom layer with GradientRule (as CaBRNet gives its own layers): Captum
    uses its ordinary backward, so its functions are exported and marked "gradient"."""
    class Squash(nn.Module):
        def forward(self, x):
            return torch.sigmoid(F.relu(x))

    m = nn.Sequential(nn.Conv2d(3, 4, 3), Squash()).eval()
    m[1].rule = _gradient_rule_or_skip()()
    graph, _, rules = graph_from_torch(m, torch.randn(1, 3, 8, 8), rules=True)
    ops = {n["name"]: n["op"] for n in graph["nodes"]}
    assert sorted(ops.values()) == ["conv2d", "relu", "sigmoid"]
    assert {ops[k]: v for k, v in rules["by_node"].items()} == {"relu": {"rule": "gradient"},
                                                                "sigmoid": {"rule": "gradient"}}
