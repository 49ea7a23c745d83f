"""The model a command runs on: the file (the bundled default without --model), its sidecar
metadata (input normalisation, class names, prototype → class map) and its PRP composite."""

from __future__ import annotations

import json
import os

from .._zbeta import IMAGENET_MEAN, IMAGENET_STD, zbeta_bounds  # noqa: F401 (the commands import them from here)
from .errors import CLIError

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
BUNDLED_MODEL = os.path.join(DATA_DIR, "digits_protopnet.prpkit")
BUNDLED_SAMPLES = os.path.join(DATA_DIR, "samples")


def metadata_path(model_path: str) -> str:
    root, _ = os.path.splitext(model_path)
    return root + ".json"


def load_metadata(model_path: str) -> dict:
    path = metadata_path(model_path)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise CLIError(f"{path}: unreadable model metadata ({e})") from None
    if not isinstance(meta, dict):
        raise CLIError(f"{path}: model metadata is not a JSON object")
    return meta


def load_model(path: str | None):
    import prpkit
    path = path or BUNDLED_MODEL
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such model file")
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a directory, not a model file")
    try:
        return path, prpkit.load(path)
    except prpkit.PRPKitError as e:
        raise CLIError(f"{path}: cannot load the model ({e})") from None


def prototype_classes(model, meta: dict) -> list[int] | None:
    """Prototype → class: from the metadata, else the argmax of the last layer's weights."""
    pc = meta.get("prototype_class")
    if isinstance(pc, list) and all(isinstance(v, int) for v in pc):
        return pc
    try:
        by_name = {n["name"]: n for n in model.nodes}
        for node in reversed(model.nodes):
            if node["op"] == "linear" and by_name.get(node["inputs"][0], {}).get("op") == "log_similarity":
                return [int(c) for c in model.parameter(node["parameters"]["weight"]).argmax(0)]
    except Exception:
        return None
    return None


def build_composite(model, lower: float, upper: float):
    from ..prp_utils import get_cabrnet_lrp_composite_model
    import prpkit
    try:
        comp = get_cabrnet_lrp_composite_model(model, zbeta_lower_bound=lower, zbeta_upper_bound=upper)
    except prpkit.PRPKitError as e:
        raise CLIError(f"cannot build the PRP composite of this model ({e})") from None
    outs = comp.outputs
    if len(outs) != 1 or len(outs[0][1]) != 4 or not any(n["op"] == "l2_distance" for n in model.nodes):
        raise CLIError("the model has no prototype similarity layer (l2_distance); explain needs a prototype model")
    return comp
