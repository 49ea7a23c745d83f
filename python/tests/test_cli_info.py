"""`prpkit info` and `Model.summary`: the library's one description of a model (the Swift
CLI's `prpkit-run info` prints the same bytes; scripts/test_swift_packages.sh compares
them), checked against what the library reports otherwise (shapes, parameters, the PRP
composite's rules) and for the sidecar's z^B bounds."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import prpkit
from prpkit import cli
from prpkit._zbeta import zbeta_bounds
from prpkit.prp_utils import get_cabrnet_lrp_composite_model

TINY = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "c", "tiny.prpk")


def run(argv, capsys):
    rc = cli.main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_info_bad_model(tmp_path, capsys):
    rc, _, err = run(["info", "--model", tmp_path / "none.prpkit"], capsys)
    assert rc == 2 and err.startswith("prpkit: error: ")


def test_info_json_agrees_with_the_library(capsys):
    rc, out, err = run(["info", "--json"], capsys)
    assert rc == 0, err
    info = json.loads(out)
    model = prpkit.load(cli.BUNDLED_MODEL)
    assert info["model"] == os.path.abspath(cli.BUNDLED_MODEL)
    assert info["file_bytes"] == os.path.getsize(cli.BUNDLED_MODEL)
    assert info["inputs"] == [["input", [1, 3, 32, 32]]]
    assert info["prp_composite_outputs"] == [["classifier.lrp_similarity", [1, 30, 8, 8]]]
    assert info["prp_composite_error"] is None
    params = model.parameter_shapes
    assert info["parameter_count"] == sum(int(np.prod(s)) for s in params.values())
    shapes = model.value_shapes()
    assert [n["name"] for n in info["nodes"]] == [n["name"] for n in model.nodes]
    for row, node in zip(info["nodes"], model.nodes):
        assert row["op"] == node["op"] and row["inputs"] == node["inputs"]
        assert tuple(row["output_shape"]) == shapes[node["name"]]
        assert row["parameters"] == sum(int(np.prod(params[t])) for t in node.get("parameters", {}).values())
    # The rules are the composite's, as the Python API builds it with the sidecar's bounds.
    meta = json.load(open(os.path.join(cli.DATA_DIR, "digits_protopnet.json")))
    lower, upper = zbeta_bounds(meta["mean"], meta["std"])
    rules = get_cabrnet_lrp_composite_model(model, zbeta_lower_bound=lower, zbeta_upper_bound=upper).rules
    for row in info["nodes"]:
        rule = rules.get(row["name"]) if row["in_prp_composite"] else None
        assert row["prp_rule"] == (rule or {}).get("rule")
        assert row["prp_rule_options"] == {k: v for k, v in (rule or {}).items() if k != "rule"}
    by_name = {n["name"]: n for n in info["nodes"]}
    assert by_name["extractor.convnet.features.0"]["prp_rule"] == "zbeta"
    assert by_name["classifier.last_layer"]["in_prp_composite"] is False
    assert info["prp_composite_extra_nodes"] == [
        {"name": "classifier.lrp_similarity", "op": "log_similarity", "prp_rule": "pass_through"}]
    assert info["metadata"]["stated_test_accuracy"] == meta["stated_test_accuracy"]


def test_info_table(capsys):
    rc, out, _ = run(["info"], capsys)
    assert rc == 0
    model = prpkit.load(cli.BUNDLED_MODEL)
    assert out == model.summary(cli.BUNDLED_MODEL, json.load(open(os.path.join(cli.DATA_DIR, "digits_protopnet.json"))))
    lines = out.splitlines()
    assert lines[0].startswith(f"model       {os.path.abspath(cli.BUNDLED_MODEL)} (")
    assert "parameters  395,436 (stored tensors, incl. BatchNorm statistics)" in lines
    row = next(line for line in lines if line.startswith("extractor.convnet.features.0 "))
    assert row.split()[1:7] == ["conv2d", "(1,", "64,", "32,", "32)", "1,792"] and "zbeta (lower_bound=" in row
    assert next(line for line in lines if line.startswith("classifier.last_layer ")).endswith("(not in composite)")


def test_sidecar_normalisation_sets_the_zbeta_bounds(tmp_path, capsys):
    path = tmp_path / "m.prpkit"
    shutil.copy(cli.BUNDLED_MODEL, path)
    (tmp_path / "m.json").write_text(json.dumps({"mean": [0.5, 0.5, 0.25], "std": [0.5, 0.25, 0.5]}))
    rc, out, err = run(["info", "--model", path, "--json"], capsys)
    assert rc == 0, err
    first = json.loads(out)["nodes"][0]
    lower, upper = zbeta_bounds([0.5, 0.5, 0.25], [0.5, 0.25, 0.5])  # (-2, 3)
    assert first["prp_rule_options"]["lower_bound"] == pytest.approx(lower, rel=1e-7)
    assert first["prp_rule_options"]["upper_bound"] == pytest.approx(upper, rel=1e-7)
    (tmp_path / "m.json").write_text("[1, 2]")
    rc, _, err = run(["info", "--model", path], capsys)
    assert rc == 2 and "model metadata is not a JSON object" in err


def test_model_without_prototypes_has_no_composite():
    model = prpkit.load(TINY)
    info = json.loads(model.summary(as_json=True))
    assert info["prp_composite_outputs"] is None and info["prp_composite_error"] is None
    assert "model" not in info and "metadata" not in info
    assert all(row["prp_rule"] is None and not row["in_prp_composite"] for row in info["nodes"])
    text = model.summary()
    assert "PRP output" not in text
    assert all(line.endswith("  -") for line in text.splitlines()[text.splitlines().index("") + 2:])


def test_summary_rejects_bad_metadata():
    model = prpkit.load(TINY)
    with pytest.raises(TypeError):
        model.summary(metadata={"x": object()})
    with pytest.raises(prpkit.InvalidArgumentError, match="model metadata must be a JSON object"):
        model._core.summary(None, "[1]", False)
