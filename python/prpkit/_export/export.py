"""graph_from_torch: the entry point of torch → prpkit conversion."""

from __future__ import annotations

from .. import _rules_from_torch
from .._errors import UnsupportedOperation
from .converter import _Converter
from .graph import _Graph
from .tracing import _Const


def graph_from_torch(module, example_input, *, rules: bool = False, similarity_head: bool = False,
                     module_calls: dict | None = None):
    """Converts a torch module to a prpkit graph (and, optionally, its relevance rules).

    Args:
        module: an ``nn.Module``. It is converted with EVAL semantics always: every
            submodule is put in eval mode for the conversion (BatchNorm uses its running
            statistics, Dropout is the identity) and its training flag is restored
            afterwards. This matters for CaBRNet's ``get_cabrnet_lrp_composite_model``,
            which returns the torchvision trunk in TRAINING mode (a reference quirk: a raw
            Captum ``LRP(composite)`` would then use batch statistics in the reset
            BatchNorms); prpkit matches ``composite.eval()``, as CaBRNet's ``prp()`` does.
            CaBRNet ProtoPNet models (``CaBRNet`` with a ``ConvExtractor`` or any traceable
            extractor, and a ``ProtoPNetClassifier``) are supported; their outputs are
            ``[logits, min_distances]``. CaBRNet's LRP composite (``get_cabrnet_lrp_composite_model``:
            classifier = ``DecisionLRPWrapper``) outputs the similarity map (N, P, H, W)
            only: ``l2_distance`` (cdist) named ``classifier.similarity_layer``, then
            ``log_similarity`` named ``classifier.similarities``. ZBetaConv2d/Linear and
            Alpha1Beta0Conv2d/Linear export as conv2d/linear with their own weights and
            bias, StackedSum as add.
        example_input: a tensor (or tuple/list of forward arguments) used to record
            shapes; the graph's declared input shapes are the tensors'. Non-tensor entries
            (numbers, strings, None, ...) are baked into the graph: the trace is
            specialised to their values (fx ``concrete_args``).
        rules: also return the relevance rules (keyword only).
        module_calls: a dict to fill with ``{id(leaf module): [(output value name, [node
            names created]) per call]}`` (keyword only; how LayerLRP finds a module's node).
        similarity_head: convert a CaBRNet classifier whose decision process prpkit has
            no op for (ProtoTree's soft tree, ProtoPool's slot assignment, ...) to its
            similarity map (N, P, H, W) — ``l2_distance`` then the layer's own similarity,
            what CaBRNet's ``model.similarities`` computes — instead of failing. This is
            all a PRP composite needs (keyword only; ProtoPNet classifiers are converted
            whole either way).

    Returns:
        ``(graph_dict, params)`` as described in docs/model-format.md; with
        ``rules=True``, ``(graph_dict, params, rules)`` where ``rules`` is
        ``{"by_node": {node_name: rule_json}}`` (docs/explainer-config.md), ready to be
        the ``"rules"`` member of an explainer config. Node names are module qualified
        names, so each leaf module's ``rule`` lands on the node it became. Entries:
        the rule of every leaf module that has one (Captum/CaBRNet/prpkit rule objects,
        see `prpkit._rules_from_torch`); the type rule of CaBRNet composite layers
        (zbeta, prp_alpha1_beta0, stacked_sum, prototype_similarity + pass_through on the
        similarity log); ``gradient`` on nodes that come from functions (F.relu,
        torch.sigmoid, F.max_pool2d, ...: no Captum hook). Captum's default rules
        (EpsilonRule(1e-9) on Conv2d/Linear/pools/BatchNorm2d, pass-through on
        ReLU/Dropout/Tanh modules) are NOT emitted: the native side applies them by op
        kind.

    Raises:
        UnsupportedOperation naming the first module or function without a prpkit op.
        With ``rules=True`` also: ``_rules_from_torch.MissingRule`` (a TypeError, Captum's
        message) when a leaf module has no rule and Captum has no default for its exact
        type (e.g. nn.Sigmoid, nn.Flatten, or a Conv2d subclass without a rule) — Captum's
        LRP raises TypeError there, so prpkit does not silently apply the native default
        of the op it exports to; ``_rules_from_torch.UnsupportedRule`` for a rule object
        prpkit cannot express.
    """
    import torch
    examples = list(example_input) if isinstance(example_input, (tuple, list)) else [example_input]
    if not examples or not isinstance(examples[0], torch.Tensor):
        raise TypeError(f"the first example input must be a tensor, got {type(examples[0]).__name__}"
                        if examples else "no example input")
    tensors = [e for e in examples if isinstance(e, torch.Tensor)]
    by_node: dict | None = None
    if rules:
        _rules_from_torch.check_captum_leaves(module)
        by_node = {}
    training = {m: m.training for m in module.modules()}
    module.eval()
    try:
        g = _Graph()
        names = iter(["input"] if len(tensors) == 1 else [f"input_{i}" for i in range(len(tensors))])
        inputs = [g.add_input(next(names), e.shape) if isinstance(e, torch.Tensor) else _Const(e) for e in examples]
        with torch.no_grad():
            # Clones: tracing runs the model, and in-place ops must not touch the caller's tensors.
            out = _Converter(g, by_node, similarity_head).convert_module(
                module, inputs, [e.detach().float().clone() if isinstance(e, torch.Tensor) else e for e in examples],
                "")
    finally:
        for m, flag in training.items():
            m.training = flag
    if module_calls is not None:
        module_calls.update(g.module_calls)
    outputs = _flatten_outputs(out)
    for o in outputs:
        if o in inputs:
            raise UnsupportedOperation(f"graph output is the graph input '{o}' itself (the model computes nothing)")
    if rules:
        return g.to_dict(outputs), g.params, {"by_node": by_node}
    return g.to_dict(outputs), g.params


def _flatten_outputs(out) -> list[str]:
    if isinstance(out, str):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        res = []
        for o in out:
            res.extend(_flatten_outputs(o))
        return res
    raise UnsupportedOperation(f"model output of type {type(out).__name__} is not a tensor")
