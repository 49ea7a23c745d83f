"""CaBRNet's classes found by import (None without CaBRNet) and its similarity layers
recognised by the methods that define them, not by class name."""

from __future__ import annotations

from .._errors import UnsupportedOperation
from .graph import _describe


def _defining_class(cls, name: str):
    """The class of `cls`'s MRO that defines attribute `name`."""
    for base in cls.__mro__:
        if name in vars(base):
            return base
    return None


def _similarity_ops(sim, where: str):
    """(l2_distance mode, (similarity op, attributes)) of a CaBRNet similarity layer, read
    from which CaBRNet building block defines its ``distances`` and
    ``distances_to_similarities`` (any class mixing them is accepted)."""
    import torch
    t = _cabrnet_types()
    cls = type(sim)
    if _defining_class(cls, "similarities") is not t["SimilarityLayer"]:
        raise UnsupportedOperation(f"{where} ({_describe(sim)}): overrides SimilarityLayer.similarities")
    modes = {t["SquaredEuclideanDistance"]: "cdist", t["ProtoPNetDistance"]: "protopnet",
             t["ProtoTreeDistance"]: "prototree"}
    mode = modes.get(_defining_class(cls, "distances"))
    if mode is None:
        raise UnsupportedOperation(f"{where} ({_describe(sim)}): unsupported distance "
                                   f"{_defining_class(cls, 'distances').__qualname__}.distances (prpkit supports "
                                   f"CaBRNet's squared L2 distances)")
    kernel = getattr(sim, "_summation_kernel", None)
    if mode != "cdist" and (kernel is None or not bool(torch.all(kernel == 1))):
        raise UnsupportedOperation(f"{where}._summation_kernel: the legacy distance is supported with its "
                                   f"all-ones summation kernel only")
    to_sim = _defining_class(cls, "distances_to_similarities")
    if to_sim is t["LogDistance"]:
        return mode, ("log_similarity", {"epsilon": float(sim.stability_factor)})
    if to_sim is t["ExpDistance"]:
        return mode, ("exp_similarity", {"epsilon": float(sim.stability_factor),
                                         "log_probabilities": bool(sim.log_probabilities)})
    raise UnsupportedOperation(f"{where} ({_describe(sim)}): unsupported distance-to-similarity function "
                               f"{to_sim.__qualname__}.distances_to_similarities (prpkit supports CaBRNet's "
                               f"log and exp similarities)")


_CAB_TYPES: dict | None | bool = False


def _cabrnet_types():
    global _CAB_TYPES
    if _CAB_TYPES is False:
        try:
            from cabrnet.archs.generic.model import CaBRNet
            from cabrnet.archs.generic.conv_extractor import ConvExtractor
            from cabrnet.archs.generic.decision import CaBRNetClassifier
            from cabrnet.archs.protopnet.decision import ProtoPNetClassifier
            try:
                from cabrnet.archs.pipnet.decision import PIPNetClassifier
            except ImportError:  # a CaBRNet without PIPNet: nothing is one
                PIPNetClassifier = ()
            from cabrnet.core.utils import similarities as s
            _CAB_TYPES = {"CaBRNet": CaBRNet, "ConvExtractor": ConvExtractor,
                          "CaBRNetClassifier": CaBRNetClassifier, "ProtoPNetClassifier": ProtoPNetClassifier,
                          "PIPNetClassifier": PIPNetClassifier,
                          "SquaredEuclideanDistance": s.SquaredEuclideanDistance,
                          "ProtoPNetDistance": s.ProtoPNetDistance, "ProtoTreeDistance": s.ProtoTreeDistance,
                          "LogDistance": s.LogDistance, "ExpDistance": s.ExpDistance,
                          "SimilarityLayer": s.SimilarityLayer}
        except Exception:  # CaBRNet is optional
            _CAB_TYPES = None
    return _CAB_TYPES
