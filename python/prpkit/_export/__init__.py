"""Conversion of PyTorch modules (and CaBRNet ProtoPNet models) to prpkit graphs.

`graph_from_torch(module, example_input)` traces `module` with torch.fx (in eval mode),
maps every traced operation to a prpkit op (docs/model-format.md) and returns
``(graph_dict, params)``: the graph JSON object and the float32 parameter arrays it
references. `save_model` writes both as a prpkit model file; `load_model_arrays` reads
one back.

CaBRNet models are handled structurally: the feature extractor (a torchvision
feature-extractor GraphModule + add-on layers) is converted from its fx graph, the
ProtoPNet classifier is mapped to l2_distance → spatial_min → similarity → linear.
CaBRNet's LRP composite (``get_cabrnet_lrp_composite_model``) is understood too:
ZBeta/Alpha1Beta0 layers → conv2d/linear, StackedSum → add, DecisionLRPWrapper →
l2_distance → log_similarity (the similarity map is the only output).

``graph_from_torch(..., rules=True)`` also returns the relevance rules of the model
(``module.rule`` as Captum reads it, CaBRNet's composite layers by type) as the
``{"by_node": ...}`` rule JSON of docs/explainer-config.md; see `prpkit._rules_from_torch`.
Conversion always uses eval semantics (BatchNorm running statistics).

Supported: nn.Conv2d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
nn.BatchNorm2d, nn.ReLU / F.relu / torch.relu (in-place too), nn.Sigmoid, nn.Tanh,
nn.ReLU6 / nn.Hardtanh(0, 6), nn.SiLU, nn.GELU (exact and tanh), nn.Hardswish, nn.Hardsigmoid,
nn.Dropout*, nn.Identity, additions (+, +=, torch.add, Tensor.add/add_), flatten /
view / reshape keeping the batch dimension, torch.cat, and their functional forms.
Anything else raises `UnsupportedOperation` naming the module or function and its type.

(The package: `files` the model file, `graph` the graph being built, `converter` the fx
walk, `torch_ops` torch.nn modules and functions, `cabrnet` CaBRNet's blocks and
similarity layers, `tracing` fx helpers, `leaves` what is traced as one node, `export`
the entry point.)
"""

from __future__ import annotations

from .._errors import UnsupportedOperation
from .export import graph_from_torch
from .files import FORMAT, FORMAT_VERSION, load_model_arrays, save_model

__all__ = ["graph_from_torch", "save_model", "load_model_arrays", "UnsupportedOperation",
           "FORMAT", "FORMAT_VERSION"]
