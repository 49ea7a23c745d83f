"""Canonization of a prpkit graph for the named composites (`prpkit.composites`): BatchNorm
merged into the layer before it, as zennit 0.5.1's ``SequentialMergeBatchNorm`` (used by
its ``VGGCanonizer`` and ``ResNetCanonizer``) does it.

zennit folds a BatchNorm into the Linear/Conv module registered right before it and then
*resets* the BatchNorm (weight 1, bias 0, running mean 0, running variance 1) but keeps
its ``eps``: the reset layer still computes x / √(1 + eps), and its rule (Pass) hands the
relevance on unchanged. prpkit does the same on the graph, pairing by dataflow instead of
by module order: a ``batch_norm2d`` whose input is a ``conv2d``/``linear`` output read by
nothing else. The two agree on torchvision's VGG and ResNet families; where the layer's
output is also read elsewhere, merging would change the model, and prpkit leaves the
BatchNorm as it is (it keeps the pass-through rule, as zennit gives every BatchNorm).

zennit's ResNet canonizer also replaces each block's ``out + identity`` by its ``Sum``
module so that its ``Norm`` rule applies; a prpkit graph already has an ``add`` node
there, which the composites give the ``norm`` rule directly.
"""

from __future__ import annotations

import numpy as np

__all__ = ["merge_batch_norms"]

_MERGEABLE = ("conv2d", "linear")


def _consumers(graph: dict) -> dict:
    out: dict = {}
    for node in graph["nodes"]:
        for v in node["inputs"]:
            out.setdefault(v, []).append(node["name"])
    for v in graph.get("outputs", []):
        out.setdefault(v, []).append(None)  # a graph output counts as a reader
    return out


def merge_batch_norms(graph: dict, params: dict) -> tuple[dict, dict, list]:
    """Returns ``(graph, params, merged)``: copies with every mergeable BatchNorm folded into
    the layer it follows and reset, and the list of ``(layer, batch_norm)`` names merged.

    The arithmetic is zennit's, in float32: s = γ / (var + eps)^½, W ← W·s (per output
    channel), b ← (b − μ)·s + β, with b = 0 for a layer without bias.
    """
    nodes = [dict(n, parameters=dict(n.get("parameters", {}))) for n in graph["nodes"]]
    by_name = {n["name"]: n for n in nodes}
    readers = _consumers(graph)
    params = dict(params)
    taken = set(params)
    merged = []

    def fresh(base: str) -> str:
        name, i = base, 1
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        taken.add(name)
        return name

    for bn in nodes:
        if bn["op"] != "batch_norm2d":
            continue
        layer = by_name.get(bn["inputs"][0])
        if layer is None or layer["op"] not in _MERGEABLE or readers.get(layer["name"]) != [bn["name"]]:
            continue
        p = {role: np.asarray(params[name], dtype=np.float32) for role, name in bn["parameters"].items()}
        eps = np.float32(bn["attributes"]["epsilon"])
        scale = p["weight"] / np.sqrt(p["running_var"] + eps)
        w = np.asarray(params[layer["parameters"]["weight"]], dtype=np.float32)
        bias_name = layer["parameters"].get("bias")
        b = np.asarray(params[bias_name], dtype=np.float32) if bias_name else np.zeros(w.shape[0], np.float32)
        new_w = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
        new_b = (b - p["running_mean"]) * scale + p["bias"]
        # Names apart from the native PRP composite's own merge ("…#merged", "…#reset"),
        # which prpkit.composites builds on a canonized graph to read its gate rules.
        lw, lb = fresh(f"{layer['name']}.weight#zennit_merged"), fresh(f"{layer['name']}.bias#zennit_merged")
        params[lw], params[lb] = new_w.astype(np.float32), new_b.astype(np.float32)
        layer["parameters"] = {"weight": lw, "bias": lb}
        c = scale.shape[0]
        ones, zeros = fresh(f"{bn['name']}#zennit_reset.ones"), fresh(f"{bn['name']}#zennit_reset.zeros")
        params[ones], params[zeros] = np.ones(c, np.float32), np.zeros(c, np.float32)
        bn["parameters"] = {"weight": ones, "bias": zeros, "running_mean": zeros, "running_var": ones}
        merged.append((layer["name"], bn["name"]))

    used = {name for n in nodes for name in n["parameters"].values()}
    params = {k: v for k, v in params.items() if k in used}
    return dict(graph, nodes=nodes), params, merged


def _merged(graph: dict, params: dict) -> tuple[dict, dict]:
    graph, params, _ = merge_batch_norms(graph, params)
    return graph, params


def canonize_model(model):
    """A prpkit Model canonized (its graph and weights are read back from the library)."""
    from ._convert import model_from_graph
    if getattr(model, "_explainer_config", None):
        raise ValueError("a prpkit composite model (prp_utils) already carries its composite; pass the plain model "
                         "to use a named composite")
    return model_from_graph(*_merged(model.graph, {name: model.parameter(name) for name in model.parameter_shapes}))


def canonize_torch(module, args: tuple):
    """A torch module converted with `args` (forward arguments) and canonized, through the
    conversion cache (every named composite shares it: canonization does not depend on the
    composite)."""
    from ._convert import canonized_source
    return canonized_source(module, args, _merged)
