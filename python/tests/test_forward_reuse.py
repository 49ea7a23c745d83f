"""Forward-state reuse across calls: repeated `prp()` / `LRP.attribute` calls on one input
run one forward pass, and every result is bit-identical to a fresh explainer's.

What can change a result — the input's bytes, the model's weights, the rules — is changed
one at a time below, and each change must give the fresh result (never a stale one). The
counts come from the native explainer (`forward_counts()`: forward passes run, states
reused). Equality is exact (`assert_array_equal`): a reused state is the same state.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the numpy-only pass skips this module

import prpkit  # noqa: E402
from prpkit import _core, _prp  # noqa: E402
from prpkit.prp_utils import get_cabrnet_lrp_composite_model as prpkit_composite  # noqa: E402

pytest.importorskip("cabrnet.core.visualization.gradients")
from test_prp_composite import build_protopnet  # noqa: E402

SIZE = 64


class Img:
    width, height = 80, 70


@pytest.fixture(scope="module")
def protopnet():
    model = build_protopnet("resnet18", "layer2")
    torch.manual_seed(3)
    x = torch.randn(1, 3, SIZE, SIZE)
    return model, x


def fresh_composite(model, x):
    return prpkit_composite(model, example_input=x)


def test_ten_prp_calls_one_forward(protopnet):
    model, x = protopnet
    composite = fresh_composite(model, x)
    ex = composite._explainer
    maps = [prpkit.prp(composite, Img(), x, p, location="max") for p in range(10)]
    assert ex.forward_counts() == (1, 9)
    for p in (0, 4, 9):  # each equals a fresh explainer's first (uncached) call
        other = fresh_composite(model, x)
        np.testing.assert_array_equal(prpkit.prp(other, Img(), x, p, location="max"), maps[p])
        assert other._explainer.forward_counts() == (1, 0)
    # all locations and a fixed location reuse the same state too
    prpkit.prp(composite, Img(), x, 3, location=None, similarity_threshold=-1e9)
    prpkit.prp(composite, Img(), x, 3, location=(2, 1))
    assert ex.forward_counts() == (1, 11)


def test_input_bytes_are_the_key(protopnet):
    model, x = protopnet
    composite = fresh_composite(model, x)
    ex = composite._explainer
    a = x.numpy().copy()
    first = prpkit.prp_relevance(composite, a, [2])[0]
    same_values = a.copy()  # another buffer, same bytes: reused
    np.testing.assert_array_equal(prpkit.prp_relevance(composite, same_values, [2])[0], first)
    assert ex.forward_counts() == (1, 1)

    changed = a.copy()
    changed.flat[777] = np.nextafter(changed.flat[777], np.float32(np.inf))  # one ulp of one element
    got = prpkit.prp_relevance(composite, changed, [2])[0]
    assert ex.forward_counts() == (2, 1)
    np.testing.assert_array_equal(got, prpkit.prp_relevance(fresh_composite(model, x), changed, [2])[0])
    assert not np.array_equal(got, first)

    # bytes, not values: -0.0 and 0.0 compare equal but are other bytes
    zeros, negative_zeros = np.zeros_like(a), -np.zeros_like(a)
    prpkit.prp_relevance(composite, zeros, [2])
    prpkit.prp_relevance(composite, negative_zeros, [2])
    assert ex.forward_counts() == (4, 1)

    # the caller may overwrite its buffer after a call: the state kept its own copy
    buf = a.copy()
    before = prpkit.prp_relevance(composite, buf, [5])[0]
    buf[:] = changed
    np.testing.assert_array_equal(prpkit.prp_relevance(composite, buf, [5])[0],
                                  prpkit.prp_relevance(fresh_composite(model, x), changed, [5])[0])
    buf[:] = a
    np.testing.assert_array_equal(prpkit.prp_relevance(composite, buf, [5])[0], before)


def test_changed_torch_weights_are_not_stale(protopnet):
    """prp() on a torch module: an in-place weight change gives the new model's numbers."""
    import copy
    model, x = protopnet
    model = copy.deepcopy(model)
    before = prpkit.prp(model, Img(), x, 1, location="max")
    again = prpkit.prp(model, Img(), x, 1, location="max")
    np.testing.assert_array_equal(before, again)
    # the explainer prp() runs on (its composite of the cached conversion)
    assert _prp._explainer_for(model, 1e-6, x).forward_counts() == (1, 1)
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        conv.weight.mul_(1.5)
    after = prpkit.prp(model, Img(), x, 1, location="max")
    assert not np.array_equal(after, before)
    np.testing.assert_array_equal(after, prpkit.prp(copy.deepcopy(model), Img(), x, 1, location="max"))


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(11)
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1))
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def test_lrp_targets_share_one_forward_and_rule_changes_are_not_stale():
    from captum.attr._utils.lrp_rules import EpsilonRule, GammaRule
    net = SmallCNN().eval()
    x = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(4))
    lrp = prpkit.LRP(net)
    results = [lrp.attribute(x, target=t) for t in range(5)]
    assert lrp._explainer.forward_counts() == (1, 4)
    for t in (0, 3):
        np.testing.assert_array_equal(prpkit.LRP(net).attribute(x, target=t).numpy(), results[t].numpy())

    net.features[3].rule = GammaRule(gamma=0.5)  # a rule change: a new conversion, a new explainer
    gamma = lrp.attribute(x, target=2)
    assert not np.array_equal(gamma.numpy(), results[2].numpy())
    np.testing.assert_array_equal(gamma.numpy(), prpkit.LRP(net).attribute(x, target=2).numpy())
    assert lrp._explainer.forward_counts() == (1, 0)
    net.features[3].rule = EpsilonRule(epsilon=1e-3)
    eps = lrp.attribute(x, target=2)
    np.testing.assert_array_equal(eps.numpy(), prpkit.LRP(net).attribute(x, target=2).numpy())
    assert not np.array_equal(eps.numpy(), gamma.numpy())


def test_limits_bound_the_cache_and_consumed_states_give_the_same_numbers(protopnet):
    """states: 2 keeps two inputs; states: 0 / megabytes: 0 keep none (each call then frees
    its state during the backward) — with identical results in every mode."""
    model, x = protopnet
    source = prpkit.from_torch(model, x)
    base = fresh_composite(model, x).config
    xs = [np.ascontiguousarray(np.random.default_rng(s).standard_normal((1, 3, SIZE, SIZE), dtype=np.float32))
          for s in range(3)]

    def explainer(cache):
        return _core.Explainer(source._core, json.dumps({**base, "forward_cache": cache}))

    def run(ex, x):
        (rbuf, _), _ = ex.prp(x, np.array([1, 6], dtype=np.int64), 0, 0, 0, 0.0)
        return np.frombuffer(rbuf, np.float32).copy()

    reference = [run(explainer({"states": 0}), x) for x in xs]
    two = explainer({"states": 2})
    for i in (0, 1, 0, 1, 2, 0):
        np.testing.assert_array_equal(run(two, xs[i]), reference[i])
    # 0, 1 computed; 0, 1 reused; 2 evicts 0; 0 recomputed
    assert two.forward_counts() == (4, 2)
    for cache in ({"states": 0}, {"megabytes": 0}):
        none = explainer(cache)
        for i in (0, 0, 1):
            np.testing.assert_array_equal(run(none, xs[i]), reference[i])
        assert none.forward_counts() == (3, 0)
    with pytest.raises(prpkit.InvalidArgumentError, match="forward_cache"):
        explainer({"states": -1})
    with pytest.raises(prpkit.InvalidArgumentError, match="forward_cache"):
        explainer({"entries": 1})


def test_model_composite_is_kept_per_stability_factor(protopnet):
    """prp() on a prpkit.Model builds its composite once per stability factor (a Model is
    immutable): the same factor reuses explainer and forward state, another factor builds
    a new composite, whose numbers are a fresh model's."""
    from prpkit import _prp
    model, x = protopnet
    source = prpkit.from_torch(model, x)
    first = prpkit.prp(source, Img(), x, 4, location="max")
    explainer = _prp._CACHE[source][1]
    np.testing.assert_array_equal(prpkit.prp(source, Img(), x, 4, location="max"), first)
    assert _prp._CACHE[source][1] is explainer and explainer.forward_counts() == (1, 1)

    other = prpkit.prp(source, Img(), x, 4, location="max", stability_factor=0.1)
    rebuilt = _prp._CACHE[source][1]
    assert rebuilt is not explainer and rebuilt.forward_counts() == (1, 0)
    np.testing.assert_array_equal(other, prpkit.prp(prpkit.from_torch(model, x), Img(), x, 4, location="max",
                                                    stability_factor=0.1))
    assert not np.array_equal(other, first)
