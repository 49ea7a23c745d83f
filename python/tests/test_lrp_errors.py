"""prpkit.LRP's errors, checked against what captum.attr.LRP raises on the same call.

Where Captum raises an AssertionError/RuntimeError for a bad argument, prpkit raises the
more specific built-in type (IndexError, ValueError, TypeError); the test states both.
"""
from __future__ import annotations

import re

import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module
from captum.attr import LRP as CaptumLRP

import prpkit
from prpkit import rules as prpkit_rules

pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")


class Head(torch.nn.Module):
    """Linear(12 → 3), then an optional extra module or function."""

    def __init__(self, extra=None, fn=None):
        super().__init__()
        self.fc = torch.nn.Linear(12, 3)
        if extra is not None:
            self.extra = extra
        self.fn = fn

    def forward(self, x):
        y = self.fc(torch.flatten(x, 1))
        if hasattr(self, "extra"):
            y = self.extra(y)
        return self.fn(y) if self.fn is not None else y


def model(extra=None, fn=None):
    torch.manual_seed(0)
    return Head(extra, fn).eval()


X = torch.randn(2, 12, generator=torch.Generator().manual_seed(1))


def captum_raises(m, x, exc, **kw):
    with pytest.raises(exc) as info:
        CaptumLRP(m).attribute(x.detach().clone(), **kw)  # Captum leaves requires_grad set when it raises
    return info


# --------------------------------------------------------------------------- missing rules

@pytest.mark.parametrize("leaf", [torch.nn.Flatten(), torch.nn.Sigmoid(), torch.nn.GELU(), torch.nn.Softmax(dim=1)],
                         ids=lambda m: type(m).__name__)
def test_leaf_without_rule_is_type_error(leaf):
    m = torch.nn.Sequential(torch.nn.Linear(12, 3), leaf).eval()
    if isinstance(leaf, torch.nn.Flatten):
        m = torch.nn.Sequential(leaf, torch.nn.Linear(12, 3)).eval()
    captum_raises(m, X, TypeError, target=0)
    with pytest.raises(TypeError) as info:
        prpkit.LRP(m).attribute(X, target=0)
    msg = str(info.value)
    assert isinstance(info.value, prpkit.UnsupportedOperation), type(info.value).__mro__
    name = "0" if isinstance(leaf, torch.nn.Flatten) else "1"
    assert re.search(rf"Module {name} of type <class '[\w.]*\.{type(leaf).__name__}'>", msg), msg
    assert "has no rule defined and no default rule exists" in msg, msg


def test_leaf_with_a_rule_is_accepted():
    """Captum's remedy (set a rule) works for prpkit as well: Sigmoid with IdentityRule."""
    m = torch.nn.Sequential(torch.nn.Linear(12, 3), torch.nn.Sigmoid()).eval()
    m[1].rule = prpkit_rules.IdentityRule()
    out = prpkit.LRP(m).attribute(X, target=0)
    assert out.shape == X.shape and torch.all(torch.isfinite(out))


def test_named_submodule_in_message():
    m = model(extra=torch.nn.ELU())
    with pytest.raises(TypeError, match=r"Module extra of type <class 'torch\.nn\.modules\.activation\.ELU'>"):
        prpkit.LRP(m).attribute(X, target=0)


@pytest.mark.parametrize("fn", [torch.nn.functional.elu, torch.erf], ids=["elu", "erf"])
def test_unsupported_function(fn):
    """A torch function the converter does not know. Captum accepts it (plain autograd
    through a function: no module, no rule); prpkit's graph has no such op, so it is an
    UnsupportedOperation (TypeError) naming the function — a documented limitation."""
    m = model(fn=fn)
    CaptumLRP(m).attribute(X, target=0)
    with pytest.raises(prpkit.UnsupportedOperation, match=rf"unsupported function .*{fn.__name__}"):
        prpkit.LRP(m).attribute(X, target=0)
    assert issubclass(prpkit.UnsupportedOperation, TypeError)


# --------------------------------------------------------------------------- targets

@pytest.mark.parametrize("target", [3, -4, 100], ids=str)
def test_target_out_of_range(target):
    m = model()
    captum_raises(m, X, IndexError, target=target)
    with pytest.raises(IndexError, match=rf"target \({target},\) is out of range for output dims \(3,\)"):
        prpkit.LRP(m).attribute(X, target=target)


def test_target_out_of_range_per_example():
    m = model()
    with pytest.raises(IndexError, match=r"target\[1\]: target \(5,\) is out of range"):
        prpkit.LRP(m).attribute(X, target=[0, 5])
    with pytest.raises(IndexError, match=r"out of range"):
        prpkit.LRP(m).attribute(X, target=torch.tensor([0, 3]))


def test_target_out_of_range_4d():
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)).eval()  # (N, 4, 6, 6)
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(IndexError, match=r"target \(1, 6, 0\) is out of range for output dims \(4, 6, 6\)"):
        prpkit.LRP(m).attribute(x, target=(1, 6, 0))


def test_target_wrong_arity():
    m = model()
    captum_raises(m, X, AssertionError, target=(0, 1))  # Captum: "Cannot choose target column"
    with pytest.raises(ValueError, match=r"target \(0, 1\) must index all 1 output dims after the batch \(3,\)"):
        prpkit.LRP(m).attribute(X, target=(0, 1))
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)).eval()
    with pytest.raises(ValueError, match=r"must index all 3 output dims"):
        prpkit.LRP(conv).attribute(torch.randn(2, 3, 8, 8), target=1)
    with pytest.raises(ValueError, match=r"target\[0\]: target \(1, 2\) must index all 3 output dims"):
        prpkit.LRP(conv).attribute(torch.randn(2, 3, 8, 8), target=[(1, 2), (1, 2, 3)])


@pytest.mark.parametrize("target", [[0, 1, 2], [0], torch.tensor([0, 1, 2])], ids=["list3", "list1", "tensor3"])
def test_target_count_mismatch(target):
    m = model()
    captum_raises(m, X, AssertionError, target=target)  # "Target list length does not match output!"
    n = len(target)
    with pytest.raises(ValueError, match=rf"target list has {n} entries for 2 examples"):
        prpkit.LRP(m).attribute(X, target=target)


@pytest.mark.parametrize("target", ["a", 1.0, (0.5,)], ids=repr)
def test_target_wrong_type(target):
    m = model()
    with pytest.raises(TypeError, match=r"a target is an int or a tuple of ints"):
        prpkit.LRP(m).attribute(X, target=target)


def test_target_none_on_multi_output():
    m = model()
    info = captum_raises(m, X, AssertionError, target=None)
    with pytest.raises(AssertionError) as mine:
        prpkit.LRP(m).attribute(X, target=None)
    assert str(mine.value) == str(info.value), (str(mine.value), str(info.value))
    assert "Target not provided when necessary" in str(mine.value)


def test_target_none_on_scalar_output_is_fine():
    m = torch.nn.Sequential(torch.nn.Linear(12, 1)).eval()
    ref = CaptumLRP(m).attribute(X, target=None).detach()
    got = prpkit.LRP(m).attribute(X, target=None)
    assert torch.allclose(got, ref, rtol=0, atol=1e-4 * float(ref.abs().max()))


# --------------------------------------------------------------------------- inputs / arguments

def test_float64_input():
    m = model()
    captum_raises(m, X.double(), RuntimeError, target=0)  # Captum: dtype mismatch in the matmul
    with pytest.raises(TypeError, match=r"input 0: expected a float32 tensor, got torch\.float64"):
        prpkit.LRP(m).attribute(X.double(), target=0)
    with pytest.raises(TypeError, match=r"float32"):
        prpkit.LRP(m).attribute(X.double().numpy(), target=0)


def test_additional_forward_args_the_model_does_not_take():
    """Captum passes them to forward, which fails; prpkit's conversion fails naming the model
    (supported uses: test_lrp_api.py)."""
    m = model()
    captum_raises(m, X, TypeError, target=0, additional_forward_args=(1,))
    with pytest.raises(prpkit.UnsupportedOperation, match="forward argument 1"):
        prpkit.LRP(m).attribute(X, target=0, additional_forward_args=(1,))
    with pytest.raises(prpkit.UnsupportedOperation, match="takes 1 inputs, given 2"):
        prpkit.LRP(m).attribute(X, target=0, additional_forward_args=torch.zeros(2, 3))


def test_not_a_model():
    with pytest.raises(TypeError, match=r"LRP expects a prpkit\.Model or a torch\.nn\.Module"):
        prpkit.LRP(object())
