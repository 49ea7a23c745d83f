"""Model.graph, Model.value_shapes, Model.parameter_shapes and Model.parameter come from
the library (prpkit_model_graph_json / shapes_json / parameter); checked here against an
independent reading of the model file (the package's safetensors reader) and against the
forward pass's own output shapes."""
from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

import prpkit
from prpkit import _safetensors, cli

PACKAGE = os.path.dirname(os.path.abspath(prpkit.__file__))


@pytest.fixture(scope="module")
def bundled():
    tensors, metadata = _safetensors.load_file(cli.BUNDLED_MODEL)
    return prpkit.load(cli.BUNDLED_MODEL), tensors, json.loads(metadata["graph"])


def test_graph_is_the_files_graph(bundled):
    model, _, graph = bundled
    assert [n["name"] for n in model.nodes] == [n["name"] for n in graph["nodes"]]
    assert [n["op"] for n in model.nodes] == [n["op"] for n in graph["nodes"]]
    assert model.graph["inputs"] == graph["inputs"] and model.graph["outputs"] == graph["outputs"]
    for got, want in zip(model.nodes, graph["nodes"]):
        assert got["parameters"] == want["parameters"] and got["inputs"] == want["inputs"]
        for key, value in want.get("attributes", {}).items():
            assert _same(got["attributes"][key], value), (got["name"], key, got["attributes"][key], value)


def _same(got, want) -> bool:
    """Equal, where floats come back as the float32 the library holds (1e-05 → 9.99999975e-06)."""
    if isinstance(want, float) or isinstance(got, float):
        return np.float32(got) == np.float32(want)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(_same, got, want))
    return got == want


def test_parameters_are_the_files_tensors(bundled):
    model, tensors, _ = bundled
    assert model.parameter_shapes == {k: tuple(v.shape) for k, v in tensors.items()}
    for name, tensor in tensors.items():
        got = model.parameter(name)
        assert got.dtype == np.float32 and got.shape == tensor.shape
        assert np.array_equal(got.view(np.uint32), tensor.view(np.uint32)), name
    with pytest.raises(prpkit.InvalidArgumentError, match="no parameter named 'nope'"):
        model.parameter("nope")
    with pytest.raises(TypeError):
        model.parameter(3)


@pytest.mark.parametrize("shape", [None, (1, 3, 32, 32), (4, 3, 48, 40)])
def test_value_shapes_match_the_forward(bundled, shape):
    model, _, _ = bundled
    shapes = model.value_shapes(shape) if shape else model.value_shapes()
    x = np.zeros(shape or model.inputs[0][1], np.float32)
    outs = model.forward(x)
    names = [model.inputs[0][0]] + [n["name"] for n in model.nodes]
    assert list(shapes) == names
    assert shapes[names[0]] == x.shape
    for (name, _), out in zip(model.outputs, outs):
        assert shapes[name] == out.shape, name


def test_value_shapes_reject_what_the_forward_rejects(bundled):
    model, _, _ = bundled
    for bad in [(1, 3, 32), (1, 4, 32, 32), (1, 3, 0, 32)]:
        with pytest.raises(prpkit.InvalidArgumentError):
            model.value_shapes(bad)
    with pytest.raises(prpkit.InvalidArgumentError):
        model.value_shapes((1, 3, 32, 32), (1, 3, 32, 32))


def test_no_module_but_the_safetensors_codec_reads_a_file_header():
    """Model introspection goes through the library: only _safetensors.py (the codec the
    exporter writes with) decodes the 8-byte header length of a safetensors file."""
    readers = []
    for root, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                with open(path, encoding="utf-8") as fh:
                    if re.search(r"""unpack(_from)?\(\s*["']<Q""", fh.read()):
                        readers.append(os.path.relpath(path, PACKAGE))
    assert readers == ["_safetensors.py"], readers
