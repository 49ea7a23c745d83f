"""LRP-ε with edge-referenced padding ({"rule": "epsilon", "padding_reference": "edge"},
docs/corrected-composite.md) against the rule written out in torch: the zero padding's
contribution relative to the input's edge pixels, Σ_pad (0 − x̃)·w with x̃ the
edge-replicated input, joins the denominator and keeps its share of the relevance."""

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module
import torch.nn as nn
import torch.nn.functional as F

import prpkit
from prpkit._composite import CompositeModel

EPS = 1e-6


class Net(nn.Module):
    def __init__(self, stride, padding):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=stride, padding=padding)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4 * 4 * 5, 6)

    def forward(self, x):
        return self.fc(torch.flatten(self.relu(self.conv(x)), 1))


def _stab(z):
    return z + EPS * torch.where(z >= 0, 1.0, -1.0)


def _written_out(net, x, target, padding_reference):
    """LRP-ε on fc, pass-through ReLU, LRP-ε on conv with the padding's contribution."""
    conv, fc = net.conv, net.fc
    with torch.no_grad():
        z = conv(x)
        a = F.relu(z)
        y = fc(torch.flatten(a, 1))
        r = torch.zeros_like(y)
        r[:, target] = y[:, target]
        r = (torch.flatten(a, 1) * ((r / _stab(y)) @ fc.weight)).view_as(a)
        den = z
        if padding_reference == "edge":
            ph, pw = conv.padding
            ring = F.pad(x, (pw, pw, ph, ph), mode="replicate")
            ring[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]] = 0
            den = z - F.conv2d(ring, conv.weight, stride=conv.stride)
        g = torch.nn.grad.conv2d_input(x.shape, conv.weight, r / _stab(den), stride=conv.stride, padding=conv.padding)
        return (x * g).numpy()


def _prpkit(net, x, target, padding_reference):
    model = prpkit.from_torch(net, x)
    conv_rule = {"rule": "epsilon", "epsilon": EPS}
    if padding_reference is not None:
        conv_rule["padding_reference"] = padding_reference
    config = {"rules": {"by_node": {"conv": conv_rule, "fc": {"rule": "epsilon", "epsilon": EPS}}}}
    comp = CompositeModel(model, config)
    return prpkit.LRP(comp).attribute(x, target=target).numpy(), comp


@pytest.mark.parametrize("stride,padding,size", [(1, (1, 1), (4, 5)), (2, (1, 2), (7, 7)), (1, (2, 1), (2, 7))])
def test_against_written_out(stride, padding, size):
    torch.manual_seed(0)
    net = Net(stride, padding).eval()
    hh = (size[0] + 2 * padding[0] - 3) // stride + 1
    ww = (size[1] + 2 * padding[1] - 3) // stride + 1
    net.fc = nn.Linear(4 * hh * ww, 6)
    # a bright structure touching the edges on a dark background, like the digits
    x = torch.full((2, 3) + size, -2.0)
    x[:, :, :, size[1] // 2] = 2.2
    x += 0.3 * torch.randn_like(x)
    for target in (0, 3):
        got, comp = _prpkit(net, x, target, "edge")
        expected = _written_out(net, x, target, "edge")
        # float32 in different orders; 1e-4 of the largest |value| (measured ≤ 2e-5)
        assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
        plain = _written_out(net, x, target, "zero")
        # the padding's contribution matters here: the rule is not plain LRP-ε
        assert np.abs(plain - expected).max() > 1e-2 * np.abs(expected).max()
    assert comp.rules["conv"] == {"rule": "epsilon", "epsilon": EPS, "padding_reference": "edge"}


def test_zero_reference_and_no_padding_are_lrp_epsilon():
    torch.manual_seed(1)
    net = Net(1, (1, 1)).eval()
    x = torch.randn(1, 3, 4, 5)
    zero, comp = _prpkit(net, x, 2, "zero")
    assert comp.rules["conv"] == {"rule": "epsilon", "epsilon": EPS}
    np.testing.assert_allclose(zero, _written_out(net, x, 2, "zero"), rtol=0, atol=1e-4 * np.abs(zero).max())
    # an unpadded conv: nothing to refer to, the edge rule is LRP-ε
    net0 = Net(1, (0, 0)).eval()
    net0.fc = nn.Linear(4 * 4 * 5, 6)
    x0 = torch.randn(1, 3, 6, 7)
    edge, _ = _prpkit(net0, x0, 1, "edge")
    plain, _ = _prpkit(net0, x0, 1, None)
    np.testing.assert_array_equal(edge, plain)


def test_bad_padding_reference_is_an_error():
    net = Net(1, (1, 1)).eval()
    with pytest.raises(prpkit.InvalidArgumentError, match="padding_reference"):
        _prpkit(net, torch.randn(1, 3, 4, 5), 0, "reflect")
