"""`prpkit.LayerLRP`: a drop-in for ``captum.attr.LayerLRP`` on the native engine.

The relevance at the output (or, with ``attribute_to_layer_input=True``, the input) of
one or several layers, with Captum 0.9's numbers: the signal Captum's rule hooks record
there, multiplied by the target score, from the same single forward and backward pass as
`prpkit.LRP`. As in Captum, a layer must carry an LRP rule that installs hooks
(Epsilon/Gamma/Alpha1_Beta0/Identity, or a default one: Conv2d, Linear, pooling,
BatchNorm2d); for the input side it must be the first such layer to consume its input,
and not an IdentityRule layer. Where Captum fails (a ReLU, a GradientRule layer, ...)
prpkit raises `prpkit.InvalidArgumentError` saying why.
"""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np

from ._lrp import LRP, _Call, _targets
from ._model import _torch
from ._threads import num_threads

__all__ = ["LayerLRP"]

_SIDE = {False: 0, True: 1}  # PRPKIT_LAYER_OUTPUT / PRPKIT_LAYER_INPUT


class LayerLRP(LRP):
    """Layer-wise relevance at chosen layers, Captum's ``LayerLRP``.

    Args:
        model: as for `prpkit.LRP` (a prpkit Model, a prpkit composite, a torch module).
        layer: the layer, or a list of layers: ``torch.nn.Module`` objects of a torch
            ``model`` (each called once in its forward), or node names (``str``, e.g.
            ``"features.3"``; the node names of a converted torch module are its modules'
            qualified names).
        rules: optional explicit rules ``{node_name: rule}``, as for `prpkit.LRP`.
        threads: worker threads for this explainer's calls, as for `prpkit.LRP`.
    """

    def __init__(self, model: Any, layer: Any, rules: dict | None = None, threads: int | None = None) -> None:
        super().__init__(model, rules, threads)
        self.layer = layer

    def _node_names(self, call: _Call) -> list[str]:
        layers = self.layer if isinstance(self.layer, list) else [self.layer]
        if not layers:
            raise ValueError("LayerLRP: the list of layers is empty")
        names = []
        torch = _torch()
        for layer in layers:
            if isinstance(layer, str):
                names.append(layer)
                continue
            if call.conversion is None or torch is None or not isinstance(layer, torch.nn.Module):
                raise TypeError(f"LayerLRP: a layer is a node name (str)"
                                f"{' or a torch.nn.Module of the model' if call.conversion else ''}, got "
                                f"{type(layer).__module__}.{type(layer).__qualname__}")
            calls = call.conversion.module_calls.get(id(layer))
            what = f"LayerLRP: layer {type(layer).__qualname__}"
            if not calls:
                raise ValueError(f"{what} is not called by the model's forward as a leaf module")
            if len(calls) > 1:
                raise ValueError(f"{what} is called {len(calls)} times in the forward (Captum's LRP supports "
                                 f"a module used once)")
            out, nodes = calls[0]
            if not isinstance(out, str) or out not in nodes:
                raise ValueError(f"{what} computes nothing in the converted graph (e.g. an Identity); it has no "
                                 f"relevance of its own")
            names.append(out)
        return names

    @overload
    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None, *,
                  return_convergence_delta: Literal[True], attribute_to_layer_input: bool = False,
                  verbose: bool = False) -> tuple[Any, Any]: ...

    @overload
    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                  return_convergence_delta: Literal[False] = False, attribute_to_layer_input: bool = False,
                  verbose: bool = False) -> Any: ...

    def attribute(self, inputs: Any, target: Any = None, additional_forward_args: Any = None,
                  return_convergence_delta: bool = False, attribute_to_layer_input: bool = False,
                  verbose: bool = False) -> Any:
        """Relevance at the layer(s) for ``target`` (Captum's ``LayerLRP.attribute``).

        Args:
            inputs: as for `prpkit.LRP.attribute`.
            target: as for `prpkit.LRP.attribute`.
            additional_forward_args: as for `prpkit.LRP.attribute`.
            return_convergence_delta: also return ``s − Σ layer relevance`` per example
                (a list, one per layer, when ``layer`` is a list).
            attribute_to_layer_input: the relevance at the layer's input instead of its
                output.
            verbose: print the rule applied to every node.

        Returns:
            The relevance shaped like the layer's output (input) tensor, (N, ...), or a list
            of them when ``layer`` is a list; with the delta(s) when asked. torch in →
            torch out, NumPy in → NumPy out.
        """
        call = self._prepare(inputs, additional_forward_args, "prpkit.LayerLRP")
        names = self._node_names(call)
        t = _targets(target, call.batch, call.out_dims)
        if verbose:
            import json
            for node, rule in json.loads(call.explainer.rules_json()).items():
                print(f"Applied {rule} on node {node}")
        with num_threads(self._threads):
            relevance, scores, _ = call.explainer.attribute_layers(call.buffers, 0, t, names,
                                                                   _SIDE[bool(attribute_to_layer_input)])
        arrays = self._wrap(call, [np.frombuffer(buf, np.float32).reshape(shape) for buf, shape in relevance])
        score = self._wrap(call, [np.frombuffer(scores, np.float32).copy()])[0]
        deltas = [self.compute_convergence_delta(a, score) for a in arrays]
        if isinstance(self.layer, list):
            return (arrays, deltas) if return_convergence_delta else arrays
        return (arrays[0], deltas[0]) if return_convergence_delta else arrays[0]
