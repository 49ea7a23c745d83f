"""from_torch + forward equals torch's forward: max|diff| ≤ 1e-4 · max|output|."""
from __future__ import annotations

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module

import prpkit
from conftest import assert_close_rel, prpkit_model, torch_model

CASES = [
    ("vgg11_bn", (2, 3, 64, 64)),
    ("vgg11_bn", (1, 3, 224, 224)),
    ("resnet18", (2, 3, 64, 64)),
    ("resnet18", (1, 3, 224, 224)),
    ("resnet50", (2, 3, 64, 64)),
    ("resnet50", (1, 3, 224, 224)),
]


@pytest.mark.parametrize("name,shape", CASES, ids=[f"{n}-{s[0]}x{s[2]}" for n, s in CASES])
def test_torchvision_forward_matches_torch(name, shape):
    tm, pm = torch_model(name), prpkit_model(name)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        ref = tm(x)
    out = pm(x)  # torch in -> torch out
    assert isinstance(out, torch.Tensor)
    diff, scale = assert_close_rel(out, ref, what=f"{name} {shape}")
    print(f"{name} {tuple(shape)}: max|diff| = {diff:.3g}, max|ref| = {scale:.3g}")
    # NumPy in -> NumPy out, same numbers.
    out_np = pm(x.numpy())
    assert isinstance(out_np, np.ndarray) and out_np.dtype == np.float32
    np.testing.assert_array_equal(out_np, out.numpy())


def test_protopnet_resnet18_logits_and_min_distances():
    tm, pm = torch_model("protopnet_resnet18"), prpkit_model("protopnet_resnet18")
    assert [n for n, _ in pm.outputs] == ["classifier.last_layer", "classifier.min_distances"]
    assert pm.outputs[0][1] == (1, 10) and pm.outputs[1][1] == (1, 100)
    for shape in [(1, 3, 224, 224), (2, 3, 64, 64)]:
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(11))
        with torch.no_grad():
            ref_logits, ref_dist = tm(x)
        out = pm(x)
        assert isinstance(out, tuple) and len(out) == 2
        logits, dist = out
        d1, s1 = assert_close_rel(logits, ref_logits, what=f"logits {shape}")
        d2, s2 = assert_close_rel(dist, ref_dist, what=f"min distances {shape}")
        print(f"protopnet {shape}: logits {d1:.3g}/{s1:.3g}, min distances {d2:.3g}/{s2:.3g}")
        # forward() always returns a tuple, in output order.
        again = pm.forward(x.numpy())
        np.testing.assert_array_equal(again[0], logits.numpy())
        np.testing.assert_array_equal(again[1], dist.numpy())


class TwoInputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.b = torch.nn.Conv2d(2, 4, 1)

    def forward(self, x, y):
        s = torch.relu(self.a(x)) + self.b(y)
        return s, torch.flatten(torch.nn.functional.adaptive_avg_pool2d(s, 1), 1)


def test_multiple_inputs_and_outputs(rng):
    torch.manual_seed(3)
    tm = TwoInputs().eval()
    x = rng.standard_normal((2, 3, 8, 8), dtype=np.float32)
    y = rng.standard_normal((2, 2, 8, 8), dtype=np.float32)
    pm = prpkit.from_torch(tm, (torch.from_numpy(x), torch.from_numpy(y)))
    assert [s for _, s in pm.inputs] == [(2, 3, 8, 8), (2, 2, 8, 8)]
    with torch.no_grad():
        ref = tm(torch.from_numpy(x), torch.from_numpy(y))
    out = pm(x, y)
    assert isinstance(out, tuple) and len(out) == 2 and all(isinstance(o, np.ndarray) for o in out)
    for o, r in zip(out, ref):
        assert_close_rel(o, r)
    with pytest.raises(TypeError, match="takes 2 input"):
        pm(x)


def test_default_example_input_and_linear_only():
    torch.manual_seed(4)
    net = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2)).eval()
    pm = prpkit.from_torch(net)
    assert pm.inputs[0][1] == (1, 5)
    x = torch.randn(4, 5)
    with torch.no_grad():
        assert_close_rel(pm(x), net(x))
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3)).eval()
    assert prpkit.from_torch(conv).inputs[0][1] == (1, 3, 224, 224)
