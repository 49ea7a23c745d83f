"""CaBRNet models converted structurally: the whole model, its feature extractor, the
ProtoPNet head, the LRP composite's DecisionLRPWrapper, and the similarity map of any
prototype classifier."""

from __future__ import annotations

from .. import _rules_from_torch as R
from .._errors import UnsupportedOperation
from .cabrnet_types import _cabrnet_types, _similarity_ops
from .graph import _describe
from .leaves import _cabrnet_leaf_types, _composite_types


class CabrnetParts:
    """The _Converter methods for CaBRNet blocks (a mixin of converter._Converter)."""

    def cabrnet_block(self, m, inputs, example_inputs, prefix):
        """Structural conversion of CaBRNet modules; NotImplemented for anything else."""
        types = _cabrnet_types()
        if types is None or not isinstance(m, _cabrnet_leaf_types()):
            return NotImplemented
        import torch
        if isinstance(m, types["CaBRNet"]):
            feats_example = None
            if example_inputs is not None:
                with torch.no_grad():
                    feats_example = [m.extractor(*example_inputs)]
            feats = self.convert_module(m.extractor, inputs, example_inputs, f"{prefix}extractor.")
            return self.convert_module(m.classifier, [feats], feats_example, f"{prefix}classifier.")
        if isinstance(m, types["ConvExtractor"]):
            return self.conv_extractor(m, inputs, example_inputs, prefix)
        comp = _composite_types()
        if comp is not None and isinstance(m, comp["DecisionLRPWrapper"]):
            return self.decision_lrp_wrapper(m, inputs, prefix)
        if isinstance(m, types["ProtoPNetClassifier"]):
            return self.protopnet_classifier(m, inputs, prefix)
        if isinstance(m, types["PIPNetClassifier"]):
            return self.pipnet_classifier(m, inputs, prefix)
        if self.similarity_head:
            return self.similarity_map(m, inputs, prefix)
        raise UnsupportedOperation(
            f"{prefix.rstrip('.') or 'model'}: the decision process of {_describe(m)} has no prpkit equivalent "
            f"(prpkit converts ProtoPNet classifiers whole). PRP needs only its similarity map: use "
            f"prpkit.prp, prpkit.prp_utils.get_cabrnet_lrp_composite_model or get_corrected_lrp_composite_model")

    def conv_extractor(self, m, inputs, example_inputs, prefix):
        import torch
        import torch.fx as fx
        from torch.fx.passes.shape_prop import ShapeProp
        if m.num_pipelines != 1:
            raise UnsupportedOperation(f"{prefix}: ConvExtractor with {m.num_pipelines} pipelines "
                                       f"(prpkit supports one)")
        if not isinstance(m.convnet, fx.GraphModule):
            raise UnsupportedOperation(f"{prefix}convnet: extractor trunk of type {_describe(m.convnet)} "
                                       f"(only torchvision feature extractors are supported)")
        ShapeProp(m.convnet).propagate(*example_inputs)
        out = self.convert_graph(m.convnet, inputs, f"{prefix}convnet.")
        if isinstance(out, dict):
            if len(out) != 1:
                raise UnsupportedOperation(f"{prefix}convnet: {len(out)} outputs, expected one")
            out = next(iter(out.values()))
        if m.add_on:
            with torch.no_grad():
                feats = m.convnet(*example_inputs)
            feats = next(iter(feats.values())) if isinstance(feats, dict) else feats
            out = self.convert_module(m.add_on, [out], [feats], f"{prefix}add_on.")
        return out

    def decision_lrp_wrapper(self, m, inputs, prefix):
        """CaBRNet's DecisionLRPWrapper (get_cabrnet_lrp_composite_model): the similarity map.

        `classifier.similarity_layer` (SimilarityLRPWrapper, a ProtoPNetSimilarity):
        l2_distance (cdist) named after that module, then `classifier.similarities`
        (log_similarity); the output is the (N, P, H, W) map, with no min-pooling and no
        last layer. Rules: prototype_similarity on the distance, pass_through on the log.
        """
        comp = _composite_types()
        sim = m.similarity_layer
        g = self.g
        where = f"{prefix}similarity_layer ({_describe(sim)})"
        if not isinstance(sim, comp["SimilarityLRPWrapper"]):
            raise UnsupportedOperation(f"{where}: DecisionLRPWrapper without CaBRNet's SimilarityLRPWrapper")
        protos = m.prototypes
        if protos.dim() != 4 or tuple(protos.shape[2:]) != (1, 1):
            raise UnsupportedOperation(f"{prefix}prototypes: shape {tuple(protos.shape)}, expected (P, D, 1, 1)")
        dist = g.node(f"{prefix}similarity_layer", "l2_distance", [inputs[0]], {"mode": "cdist"},
                      {"prototypes": g.param(f"{prefix}prototypes", protos)})
        sims = g.node(f"{prefix}similarities", "log_similarity", [dist],
                      {"epsilon": float(sim.stability_factor)})
        if self.rules is not None:
            self.rules[dist] = R.module_rule(sim, where)
            self.rules[sims] = dict(R.PASS_THROUGH)
        return sims

    def similarity_map(self, m, inputs, prefix):
        """Any CaBRNet prototype classifier, reduced to its similarity map (N, P, H, W):
        ``classifier.similarities(features)``, i.e. ``similarity_layer.distances`` (an
        ``l2_distance`` node named ``{prefix}distances``) then
        ``similarity_layer.distances_to_similarities`` (``{prefix}similarities``). The
        classifier is recognised by what it computes, not by its class: it must keep
        CaBRNetClassifier's ``similarities`` and hold ``prototypes`` (P, D, 1, 1) and a
        ``similarity_layer`` whose two functions are CaBRNet's squared-L2 distances and
        log/exp similarities (`_similarity_ops`)."""
        types = _cabrnet_types()
        where = f"{prefix.rstrip('.')} ({_describe(m)})"
        if type(m).similarities is not types["CaBRNetClassifier"].similarities:
            raise UnsupportedOperation(f"{where}: overrides CaBRNetClassifier.similarities; prpkit cannot tell "
                                       f"what its similarity map is")
        sim = getattr(m, "similarity_layer", None)
        protos = getattr(m, "prototypes", None)
        if sim is None or not hasattr(protos, "dim"):
            raise UnsupportedOperation(f"{where}: no prototypes tensor and similarity_layer (nothing for PRP "
                                       f"to explain)")
        if protos.dim() != 4 or tuple(protos.shape[2:]) != (1, 1):
            raise UnsupportedOperation(f"{prefix}prototypes: shape {tuple(protos.shape)}, expected (P, D, 1, 1)")
        mode, similarity = _similarity_ops(sim, f"{prefix}similarity_layer")
        g = self.g
        dist = g.node(f"{prefix}distances", "l2_distance", [inputs[0]], {"mode": mode},
                      {"prototypes": g.param(f"{prefix}prototypes", protos)})
        op, attrs = similarity
        return g.node(f"{prefix}similarities", op, [dist], attrs)

    def pipnet_classifier(self, m, inputs, prefix):
        """PIPNet's decision: its prototypes are the channels of the softmax over the
        features' channels (the presence map, ``{prefix}similarities``, what PRP explains);
        then presence = max over H, W and logits = presence · relu(W)ᵀ (+ b)."""
        t = _cabrnet_types()["PIPNetClassifier"]
        where = f"{prefix.rstrip('.')} ({_describe(m)})"
        for method in ("similarities", "forward"):
            if getattr(type(m), method) is not getattr(t, method):
                raise UnsupportedOperation(f"{where}: overrides PIPNetClassifier.{method}; prpkit cannot tell what it "
                                           f"computes")
        g = self.g
        presence_map = g.node(f"{prefix}similarities", "softmax", [inputs[0]])
        if self.similarity_head:
            return presence_map
        import torch
        presence = g.node(f"{prefix}prototype_presence", "spatial_max", [presence_map])
        last = m.last_layer
        with torch.no_grad():
            weight = g.param(f"{prefix}last_layer.weight", array=torch.relu(last.weight).numpy())
        params = {"weight": weight}
        if last.bias is not None:
            params["bias"] = g.param(f"{prefix}last_layer.bias", last.bias)
        logits = g.node(f"{prefix}last_layer", "linear", [presence], {}, params)
        return (presence_map, presence, logits)

    def protopnet_classifier(self, m, inputs, prefix):
        types = _cabrnet_types()
        sim = m.similarity_layer
        g = self.g
        where = f"{prefix}similarity_layer ({_describe(sim)})"
        if isinstance(sim, types["SquaredEuclideanDistance"]):
            mode = "cdist"
        elif isinstance(sim, types["ProtoPNetDistance"]):
            mode = "protopnet"
        elif isinstance(sim, types["ProtoTreeDistance"]):
            mode = "prototree"
        else:
            raise UnsupportedOperation(f"{where}: unsupported distance (prpkit supports squared L2 distances)")
        protos = m.prototypes
        if protos.dim() != 4 or tuple(protos.shape[2:]) != (1, 1):
            raise UnsupportedOperation(f"{prefix}prototypes: shape {tuple(protos.shape)}, expected (P, D, 1, 1)")
        x = inputs[0]
        dist = g.node(f"{prefix}distances", "l2_distance", [x], {"mode": mode},
                      {"prototypes": g.param(f"{prefix}prototypes", protos)})
        mins = g.node(f"{prefix}min_distances", "spatial_min", [dist])
        if getattr(m, "_compatibility_mode", False):
            # Legacy: log((d + 1) / (d + 1e-4)) without the relu (identical for d >= 0).
            sims = g.node(f"{prefix}similarities", "log_similarity", [mins], {"epsilon": 1e-4})
        elif isinstance(sim, types["LogDistance"]):
            sims = g.node(f"{prefix}similarities", "log_similarity", [mins],
                          {"epsilon": float(sim.stability_factor)})
        elif isinstance(sim, types["ExpDistance"]):
            sims = g.node(f"{prefix}similarities", "exp_similarity", [mins],
                          {"epsilon": float(sim.stability_factor),
                           "log_probabilities": bool(sim.log_probabilities)})
        else:
            raise UnsupportedOperation(f"{where}: unsupported distance-to-similarity function")
        last = m.last_layer
        params = {"weight": g.param(f"{prefix}last_layer.weight", last.weight)}
        if last.bias is not None:
            params["bias"] = g.param(f"{prefix}last_layer.bias", last.bias)
        logits = g.node(f"{prefix}last_layer", "linear", [sims], {}, params)
        return (logits, mins)
