"""The walk over torch.fx graphs that builds a prpkit graph."""

from __future__ import annotations

from typing import Any

from .. import _rules_from_torch as R
from .._errors import UnsupportedOperation
from .cabrnet import CabrnetParts
from .graph import _Graph, _describe
from .leaves import (_FUNCTIONAL_KINDS, _cabrnet_leaf_types, _composite_leaf_types, _plain_subclass_leaf,
                     _rules_leaf)
from .modern_ops import ModernOps
from .torch_ops import TorchOps
from .tracing import _Const, _concrete_args, _fetch_attr
from .values import _TensorAttribute


class _Converter(TorchOps, ModernOps, CabrnetParts):
    """Maps the nodes of torch.fx graphs onto a `_Graph`."""

    def __init__(self, graph: _Graph, rules: dict | None = None, similarity_head: bool = False) -> None:
        import torch  # noqa: F401  (torch is needed only for conversion)
        self.g = graph
        # Reduce CaBRNet classifiers without a prpkit decision process to their similarity map.
        self.similarity_head = similarity_head
        self.inplace: dict = {}
        # node name -> rule JSON, when converting with rules (None: rules are not collected)
        self.rules = rules

    # ---- entry points

    def trace(self, module, prefix: str, constants: dict | None = None, given: int = 1):
        """fx graph module for `module` (CaBRNet blocks are kept as leaves) called with
        `given` positional arguments; `constants` ({position: value}) are the non-tensor
        ones, which the trace is specialised to."""
        import torch.fx as fx
        if isinstance(module, fx.GraphModule) and not constants:
            return module
        leaves = _cabrnet_leaf_types() + _composite_leaf_types()
        with_rules = self.rules is not None

        class Tracer(fx.Tracer):
            def is_leaf_module(self, m, qualname):
                if isinstance(m, leaves) or _plain_subclass_leaf(m):
                    return True
                if with_rules and _rules_leaf(m):
                    return True
                return super().is_leaf_module(m, qualname)

        try:
            graph = Tracer().trace(module, concrete_args=_concrete_args(module, constants, given, prefix))
        except UnsupportedOperation:
            raise
        except Exception as e:  # fx raises many kinds of errors
            raise UnsupportedOperation(
                f"torch.fx could not trace {prefix or 'the model'} ({_describe(module)}): {e}") from e
        return fx.GraphModule(module, graph)

    def convert_module(self, module, inputs: list[Any], example_inputs: list, prefix: str):
        """Converts `module` applied to prpkit `inputs`; returns its output structure."""
        constants = {i: v.value for i, v in enumerate(inputs) if isinstance(v, _Const)}
        if constants and isinstance(module, _cabrnet_leaf_types()):
            raise UnsupportedOperation(f"{prefix or 'model'} ({_describe(module)}): non-tensor forward arguments "
                                       f"are not supported for CaBRNet models")
        cab = self.cabrnet_block(module, inputs, example_inputs, prefix)
        if cab is not NotImplemented:
            return cab
        gm = self.trace(module, prefix, constants, len(inputs))
        takes = sum(1 for n in gm.graph.nodes if n.op == "placeholder")
        if takes < len(inputs):
            raise UnsupportedOperation(f"{prefix or 'model'} ({_describe(module)}): takes {takes} inputs, given "
                                       f"{len(inputs)}")
        from torch.fx.passes.shape_prop import ShapeProp
        ShapeProp(gm).propagate(*example_inputs)
        return self.convert_graph(gm, inputs, prefix)

    # ---- fx graph walk

    def convert_graph(self, gm, inputs: list[Any], prefix: str):
        import torch
        env: dict[Any, Any] = {}
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) < len(inputs):
            raise UnsupportedOperation(f"{prefix or 'model'}: takes {len(placeholders)} inputs, given {len(inputs)}")
        for n, v in zip(placeholders, inputs):
            env[n] = v
        for n in placeholders[len(inputs):]:
            # Parameters left to their defaults (or **kwargs) are not tensors of the graph.
            env[n] = _Const(n.args[0] if n.args else None)
        modules = dict(gm.named_modules())
        for n in gm.graph.nodes:
            if n.op == "placeholder":
                continue
            if n.op == "output":
                return self.lookup(env, n.args[0])
            args = self.lookup(env, n.args)
            kwargs = self.lookup(env, n.kwargs)
            meta = n.meta.get("tensor_meta")
            first_new = len(self.g.nodes)
            if n.op == "call_module":
                m = modules[n.target]
                name = f"{prefix}{n.target}"
                out = self.call_module(m, name, n, args, kwargs, meta)
                self.g.module_calls.setdefault(id(m), []).append(
                    (out, [nd["name"] for nd in self.g.nodes[first_new:]]))
                if self.rules is not None:
                    self.module_rules(m, name, out, first_new)
            elif n.op == "call_function":
                out = self.call_function(n.target, f"{prefix}{n.name}", n, args, kwargs, meta)
                if self.rules is not None:
                    self.function_rules(first_new)
            elif n.op == "call_method":
                out = self.call_method(n.target, f"{prefix}{n.name}", n, args, kwargs, meta)
                if self.rules is not None:
                    self.function_rules(first_new)
            elif n.op == "get_attr":
                obj = _fetch_attr(gm, n.target)
                # A tensor read as an attribute (ConvNeXt's layer scale, LayerNorm2d's weight):
                # only the ops that take one accept it (see values._TensorAttribute).
                out = _TensorAttribute(obj, f"{prefix}{n.target}") if isinstance(obj, torch.Tensor) else _Const(obj)
            else:
                raise UnsupportedOperation(f"{prefix}{n.name}: unknown fx node kind {n.op!r}")
            env[n] = out
            if n in self.inplace:
                env[self.inplace.pop(n)] = out
        raise UnsupportedOperation(f"{prefix or 'model'}: fx graph without output")

    def lookup(self, env, a):
        import torch.fx as fx
        if isinstance(a, fx.Node):
            return env[a]
        if isinstance(a, (list, tuple)):
            return type(a)(self.lookup(env, x) for x in a)
        if isinstance(a, dict):
            return {k: self.lookup(env, v) for k, v in a.items()}
        return a

    # ---- rules (graph_from_torch(..., rules=True))

    def module_rules(self, m, name, out, first_new):
        """Records the rule of leaf module `m` on the node it was converted to."""
        if isinstance(m, _cabrnet_leaf_types()):
            return  # CaBRNet blocks: converted (and given rules) structurally
        rule = R.module_rule(m, f"{name} ({_describe(m)})")
        if rule is None:
            return
        new = [nd["name"] for nd in self.g.nodes[first_new:]]
        if len(new) == 1 and out == new[0]:
            self.rules[out] = rule
        elif not new:
            if rule["rule"] not in ("gradient", "identity", "pass_through"):
                raise R.UnsupportedRule(f"{name} ({_describe(m)}): rule {rule} on a module that computes "
                                        f"nothing in the prpkit graph")
        else:
            raise R.UnsupportedRule(f"{name} ({_describe(m)}): rule {rule} on a module converted to "
                                    f"{len(new)} nodes {new}")

    def function_rules(self, first_new):
        """Functions (F.relu, torch.sigmoid, F.max_pool2d, ...) have no Captum hook: their
        ordinary backward applies. The native default table is by op kind, so every such
        node of a kind with a native default (or none) is marked "gradient"."""
        for nd in self.g.nodes[first_new:]:
            if nd["op"] not in _FUNCTIONAL_KINDS:
                self.rules[nd["name"]] = {"rule": "gradient"}

    def _inplace(self, n, target):
        """Marks `n` as mutating `target`: later readers of `target` see `n`'s output."""
        self.inplace[n] = target

    # ---- shapes

    def require_rank(self, n, i, rank, name, m):
        shape = self.input_shape(n, i)
        if len(shape) != rank:
            raise UnsupportedOperation(f"{name} ({_describe(m)}): input of rank {len(shape)} "
                                       f"(shape {list(shape)}), prpkit supports rank {rank}")

    @staticmethod
    def input_shape(n, i, nested=False):
        import torch.fx as fx
        a = n.args[i]
        if nested and isinstance(a, (list, tuple)):
            a = a[0]
        if not isinstance(a, fx.Node) or a.meta.get("tensor_meta") is None:
            raise UnsupportedOperation(f"{n.name}: argument {i} is not a tensor of known shape")
        meta = a.meta["tensor_meta"]
        if not hasattr(meta, "shape"):
            raise UnsupportedOperation(f"{n.name}: argument {i} is not a single tensor")
        return tuple(meta.shape)
