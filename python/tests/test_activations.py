"""The activations of mobile and modern trunks (ReLU6, SiLU, GELU exact and tanh, hard-swish,
hard-sigmoid; modules and functional forms) convert, run as torch does, and back-propagate
as torch autograd does (the gradient rule everywhere: relevance = seed × ∂y/∂x).

Tolerances: forward and gradient within 2e-6 of the largest |value| — float32 elementwise
functions (libm's expf/erff/tanhf against torch's vectorised versions differ by a few ulp)
between float32 convolutions summed in different orders (measured ≤ 4.6e-7). The kinks are
hit exactly (inputs on −3, 0, 3, 6) to check each derivative's choice there."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the numpy-only pass skips this module
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import prpkit  # noqa: E402
from prpkit.rules import GradientRule  # noqa: E402

MODULES = {
    "relu6": lambda: nn.ReLU6(), "hardtanh(0,6)": lambda: nn.Hardtanh(0, 6), "silu": lambda: nn.SiLU(),
    "gelu": lambda: nn.GELU(), "gelu_tanh": lambda: nn.GELU(approximate="tanh"), "hardswish": lambda: nn.Hardswish(),
    "hardsigmoid": lambda: nn.Hardsigmoid(), "relu6 inplace": lambda: nn.ReLU6(inplace=True),
}
FUNCTIONS = {
    "F.relu6": F.relu6, "F.hardtanh(0,6)": lambda x: F.hardtanh(x, 0.0, 6.0), "F.silu": F.silu, "F.gelu": F.gelu,
    "F.gelu tanh": lambda x: F.gelu(x, approximate="tanh"), "F.hardswish": F.hardswish, "F.hardsigmoid": F.hardsigmoid,
}


class Net(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.act = act
        self.fc = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.act(self.conv(x)), 1))


class FunctionalNet(Net):
    def forward(self, x):
        return self.fc(torch.flatten(self.act(self.conv(x)), 1))


def _input():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6, 6) * 3
    return x


def _check(module):
    torch.manual_seed(1)
    x = _input()
    module.eval()
    model = prpkit.from_torch(module, example_input=x)
    # Forward.
    with torch.no_grad():
        ref = module(x).numpy()
    got = model.forward(x.numpy())[0]
    assert np.abs(got - ref).max() <= 2e-6 * np.abs(ref).max()
    # Backward: the gradient rule on every node gives seed × ∂y_t/∂x.
    lrp = prpkit.LRP(model, rules={n["name"]: GradientRule() for n in model.nodes})
    for t in (0, 4):
        xx = x.clone().requires_grad_(True)
        y = module(xx)
        y[:, t].sum().backward()
        expected = (y[:, t].detach()[:, None, None, None] * xx.grad).numpy()
        rel = lrp.attribute(x, target=t)
        rel = rel.numpy() if hasattr(rel, "numpy") else np.asarray(rel)
        assert np.abs(expected).max() > 0
        err = np.abs(rel - expected).max() / np.abs(expected).max()
        assert err <= 2e-6, t
    return model


@pytest.mark.parametrize("name", list(MODULES))
def test_module(name):
    model = _check(Net(MODULES[name]()))
    kinds = [n["op"] for n in model.nodes]
    assert kinds[1] == {"hardtanh(0,6)": "relu6", "relu6 inplace": "relu6"}.get(name, name)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_function(name):
    _check(FunctionalNet(FUNCTIONS[name]))


@pytest.mark.parametrize("kind,fn", [("relu6", F.relu6), ("hardswish", F.hardswish), ("hardsigmoid", F.hardsigmoid),
                                     ("silu", F.silu), ("gelu", F.gelu)])
def test_kinks_match_autograd(kind, fn):
    """Inputs exactly on each kink: the derivative's choice there is torch's."""
    class Pointwise(nn.Module):
        def forward(self, x):
            return fn(x)
    values = torch.tensor([-4.0, -3.0, -1.5, 0.0, 1.0, 3.0, 6.0, 7.0]).reshape(1, 8)
    module = nn.Sequential(Pointwise(), nn.Linear(8, 1, bias=False))
    with torch.no_grad():
        module[1].weight.fill_(1.0)
    model = prpkit.from_torch(module, example_input=values)
    # A sum of 8 values near 16: one float32 ulp there is 1.9e-6.
    assert np.allclose(model.forward(values.numpy())[0], module(values).detach().numpy(), rtol=1e-6, atol=1e-6)
    lrp = prpkit.LRP(model, rules={n["name"]: GradientRule() for n in model.nodes})
    xx = values.clone().requires_grad_(True)
    y = module(xx)
    y.sum().backward()
    rel = lrp.attribute(values, target=0)
    rel = rel.numpy() if hasattr(rel, "numpy") else np.asarray(rel)
    expected = (float(y) * xx.grad).numpy()
    assert np.allclose(rel, expected, rtol=1e-6, atol=1e-6), (kind, rel, expected)


def test_other_hardtanh_bounds_are_refused():
    with pytest.raises(prpkit.UnsupportedOperation, match="min_val=0, max_val=6"):
        prpkit.from_torch(Net(nn.Hardtanh(-1, 1)), example_input=_input())
