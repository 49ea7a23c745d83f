"""The named composites (`prpkit.composites`) on the op families zennit has no rule for —
products (squeeze-excitation gates), layer norm, layer scale, the activations of DenseNet,
MobileNet, EfficientNet and ConvNeXt trunks: prpkit's extension of zennit, the same reading
of these ops as the PRP composites' (docs/backbones.md, docs/composites.md).

Which operand of a product is the signal, and which nodes only feed gates (and so receive
no relevance), are read from the rules the native CaBRNet-compatible PRP composite assigns
to the same graph (`Sources/PRPKit/Composites/CompositeExtensions.swift`), so that both
kinds of composite decide them by one piece of code.
"""

from __future__ import annotations

import json

from . import _core

__all__ = ["shared_rules", "refuse_product_overrides"]


def shared_rules(model, composite_name: str) -> dict:
    """``{node: rule JSON}`` the named composites take from the native PRP composite of
    `model` (a canonized `prpkit.Model`): ``gate`` on every ``mul`` (its ``signal``), and
    ``pass_through`` wherever the native composite passes relevance through — activations,
    layer scale, BatchNorms, and every node of a gate branch (all its paths to the output
    enter a gate: squeeze-excitation's pooling, small convs and sigmoid). Empty for a graph
    without products (the composites' own table then says everything)."""
    nodes = model.graph["nodes"]
    if not any(n["op"] == "mul" for n in nodes):
        return {}
    # The native composite over the whole graph (no prototype head), CaBRNet's defaults. A
    # node it leaves without a rule (e.g. a prototype head's ops, which have no Captum
    # default) gets the gradient by kind, so that only a product it cannot read can fail it;
    # its own rules by node (all that is read here) win over rules by kind.
    fill = {n["op"]: {"rule": "gradient"} for n in nodes if n["op"] != "mul"}
    config = {"composite": "cabrnet_prp", "composite_options": {"similarity_head": False},
              "rules": {"by_kind": fill}}
    try:
        native = json.loads(_core.Explainer(model._core, json.dumps(config)).rules_json())
    except _core.UnsupportedError as e:
        if "cannot tell the signal" not in str(e):
            raise
        raise ValueError(f"{composite_name}: {e}. The named composites cannot explain a product whose signal "
                         f"they cannot tell from its gate") from None
    return {name: rule for name, rule in native.items()
            if rule is not None and rule.get("rule") in ("gate", "pass_through")}


def refuse_product_overrides(graph: dict, explicit: dict, composite_name: str) -> None:
    """A named composite chooses a product's signal and the gate branch that gets no
    relevance together; an explicit rule on a ``mul`` would change one without the other."""
    products = sorted(n["name"] for n in graph["nodes"] if n["op"] == "mul" and n["name"] in explicit)
    if products:
        raise ValueError(f"{composite_name}: rules= may not set the rule of product (mul) nodes {products}: the "
                         f"composite gives each product the gate rule and its gate branch no relevance, together")
