"""Model files: save → load → forward bit-identical, introspection, errors."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the numpy-only pass skips this module

import prpkit
from prpkit import _safetensors
from conftest import assert_same_nodes, prpkit_model


@pytest.mark.parametrize("name", ["resnet18", "protopnet_resnet18"])
def test_save_load_forward_bit_identical(tmp_path, rng, name):
    pm = prpkit_model(name)
    path = tmp_path / f"{name}.prpkit"
    prpkit.save(pm, path)  # os.PathLike
    loaded = prpkit.load(str(path))  # str
    assert loaded.inputs == pm.inputs
    assert loaded.outputs == pm.outputs
    assert_same_nodes(loaded.nodes, pm.nodes)
    x = rng.standard_normal((1, 3, 64, 64), dtype=np.float32)
    a, b = pm.forward(x), loaded.forward(x)
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.tobytes() == v.tobytes()
    # Saving the loaded model reproduces the file bit for bit.
    path2 = tmp_path / "again.prpkit"
    loaded.save(path2)
    assert path.read_bytes() == path2.read_bytes()


def test_introspection_matches_the_file(tmp_path):
    pm = prpkit_model("resnet18")
    assert pm.inputs == [("input", (1, 3, 224, 224))]
    assert len(pm.outputs) == 1 and pm.outputs[0][1] == (1, 1000)
    ops = [n["op"] for n in pm.nodes]
    assert ops[0] == "conv2d" and ops[-1] == "linear" and ops.count("add") == 8
    assert set(pm.nodes[0]) >= {"name", "op", "inputs", "attributes", "parameters"}
    assert pm.graph["outputs"] == [pm.outputs[0][0]]
    path = tmp_path / "r18.prpkit"
    pm.save(path)
    tensors, metadata = _safetensors.load_file(str(path))
    assert metadata["format"] == "prpkit"
    assert_same_nodes(json.loads(metadata["graph"])["nodes"], pm.nodes)
    assert tensors["conv1.weight"].shape == (64, 3, 7, 7)
    assert "prpkit.Model" in repr(pm)


def test_load_errors(tmp_path):
    with pytest.raises(prpkit.PRPKitIOError) as e:
        prpkit.load(tmp_path / "missing.prpkit")
    assert isinstance(e.value, OSError) and isinstance(e.value, prpkit.PRPKitError)
    assert e.value.status == 4 and e.value.status_name == "PRPKIT_ERROR_IO"
    assert str(e.value)  # the library's message

    garbage = tmp_path / "garbage.prpkit"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(prpkit.InvalidModelError) as e:
        prpkit.load(garbage)
    assert isinstance(e.value, ValueError) and e.value.status_name == "PRPKIT_ERROR_INVALID_MODEL"

    # A valid safetensors file whose graph names an op prpkit lacks.
    graph = {"inputs": [{"name": "input", "shape": [1, 2]}],
             "nodes": [{"name": "g", "op": "elu", "inputs": ["input"], "attributes": {}, "parameters": {}}],
             "outputs": ["g"]}
    odd = tmp_path / "odd.prpkit"
    _safetensors.save_file({}, str(odd), {"format": "prpkit", "format_version": "1", "graph": json.dumps(graph)})
    with pytest.raises(prpkit.PRPKitError) as e:
        prpkit.load(odd)
    assert "elu" in str(e.value)

    with pytest.raises(prpkit.PRPKitIOError):
        prpkit.save(prpkit_model("resnet18"), tmp_path / "no" / "such" / "dir.prpkit")
    with pytest.raises(TypeError):
        prpkit.save("not a model", tmp_path / "x.prpkit")
    with pytest.raises(TypeError):
        prpkit.load(None)


def test_from_torch_unsupported_names_module_and_type():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ELU())
    with pytest.raises(prpkit.UnsupportedOperation) as e:
        prpkit.from_torch(net, torch.zeros(1, 3, 8, 8))
    assert isinstance(e.value, TypeError)
    assert "ELU" in str(e.value) and "1" in str(e.value)

    class UsesElu(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.elu(x)

    with pytest.raises(prpkit.UnsupportedOperation, match="elu"):
        prpkit.from_torch(UsesElu(), torch.zeros(1, 3, 8, 8))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        prpkit.from_torch(lambda x: x)


def test_version_and_threads():
    major, minor, patch = prpkit.version()
    assert prpkit.__version__.startswith(f"{major}.{minor}.{patch}")
    n = prpkit.get_num_threads()
    assert n >= 1
    with pytest.raises(prpkit.InvalidArgumentError):
        prpkit.set_num_threads(-1)
    for huge in (2**32 + 1, -(2**32) + 1):  # would become 1 if narrowed to a C int
        with pytest.raises(prpkit.InvalidArgumentError):
            prpkit.set_num_threads(huge)
    prpkit.set_num_threads(1)
    assert prpkit.get_num_threads() == 1
    prpkit.set_num_threads(0)
    assert prpkit.get_num_threads() == n or os.environ.get("PRPKIT_NUM_THREADS")
