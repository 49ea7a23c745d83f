"""`prpkit info`: a model file's graph, shapes, parameter count and PRP rules."""

from __future__ import annotations

import json
import os

import numpy as np

from .errors import CLIError
from .model import IMAGENET_MEAN, IMAGENET_STD, build_composite, load_metadata, load_model, zbeta_bounds


def cmd_info(args) -> int:
    path, model = load_model(args.model)
    meta = load_metadata(path)
    # From the library: every value's shape at the declared input shapes, every weight's.
    params = model.parameter_shapes
    nodes = model.nodes
    shapes = model.value_shapes()
    try:
        comp = get_info_composite(model, meta)
        rules = comp.rules if comp is not None else {}
    except CLIError:
        rules, comp = {}, None
    n_params = int(sum(int(np.prod(s)) for s in params.values()))
    rows = []
    for node in nodes:
        own = [params[t] for t in node.get("parameters", {}).values() if t in params]
        rule = rules.get(node["name"])
        rows.append({"name": node["name"], "op": node["op"], "inputs": node["inputs"],
                     "output_shape": list(shapes[node["name"]]),
                     "parameters": int(sum(int(np.prod(s)) for s in own)),
                     "prp_rule": (rule or {}).get("rule") if node["name"] in rules else None,
                     "prp_rule_options": {k: v for k, v in (rule or {}).items() if k != "rule"}})
    extra = [{"name": k, "rule": (v or {}).get("rule")} for k, v in rules.items()
             if k not in {n["name"] for n in nodes}]
    info = {"model": os.path.abspath(path), "file_bytes": os.path.getsize(path),
            "inputs": [[n, list(s)] for n, s in model.inputs],
            "outputs": [[n, list(s)] for n, s in model.outputs],
            "parameter_count": n_params, "nodes": rows,
            "prp_composite_outputs": [[n, list(s)] for n, s in comp.outputs] if comp is not None else None,
            "prp_composite_extra_nodes": extra}
    if meta:
        info["metadata"] = {k: meta[k] for k in ("description", "mean", "std", "class_names", "prototype_class",
                                                  "stated_test_accuracy", "test_accuracy") if k in meta}
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"model       {info['model']} ({info['file_bytes'] / 1e6:.2f} MB)")
    if meta.get("description"):
        print(f"            {meta['description']}")
    print("inputs      " + ", ".join(f"{n} {tuple(s)}" for n, s in model.inputs))
    print("outputs     " + ", ".join(f"{n} {tuple(s)}" for n, s in model.outputs))
    if comp is not None:
        print("PRP output  " + ", ".join(f"{n} {tuple(s)}" for n, s in comp.outputs) + " (similarity maps)")
    print(f"parameters  {n_params:,} (stored tensors, incl. BatchNorm statistics)")
    if "stated_test_accuracy" in meta:
        print(f"accuracy    {meta['stated_test_accuracy']} (held-out split, stated)")
    w_name = max([len(r["name"]) for r in rows] + [4])
    w_op = max([len(r["op"]) for r in rows] + [2])
    print()
    print(f"{'node':<{w_name}}  {'op':<{w_op}}  {'output shape':<18}  {'params':>9}  PRP rule")
    for r in rows:
        shape = str(tuple(r["output_shape"]))
        rule = r["prp_rule"] or ("(not in composite)" if comp is not None and r["name"] not in rules
                                 else "backward (VJP)")
        opts = ", ".join(f"{k}={v}" for k, v in r["prp_rule_options"].items())
        print(f"{r['name']:<{w_name}}  {r['op']:<{w_op}}  {shape:<18}  {r['parameters']:>9,}  {rule}"
              + (f" ({opts})" if opts else ""))
    for e in extra:
        print(f"{e['name']:<{w_name}}  {'(composite)':<{w_op}}  {'':<18}  {'':>9}  {e['rule']}")
    return 0


def get_info_composite(model, meta: dict):
    if not any(n["op"] == "l2_distance" for n in model.nodes):
        return None
    lower, upper = zbeta_bounds(meta.get("mean", IMAGENET_MEAN), meta.get("std", IMAGENET_STD))
    return build_composite(model, lower, upper)
