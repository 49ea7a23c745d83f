"""The prpkit model file: a safetensors file whose metadata carries the graph JSON."""

from __future__ import annotations

import json

import numpy as np

from .. import _safetensors

FORMAT = "prpkit"
FORMAT_VERSION = "1"


def save_model(path: str, graph_dict: dict, params: dict[str, np.ndarray]) -> None:
    """Writes a prpkit model file: a safetensors file whose metadata carries the graph."""
    referenced = {name for node in graph_dict["nodes"] for name in node.get("parameters", {}).values()}
    missing = sorted(referenced - set(params))
    if missing:
        raise ValueError(f"graph references parameters that are not provided: {missing}")
    tensors = {k: np.ascontiguousarray(np.asarray(v, dtype=np.float32)) for k, v in params.items()}
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "graph": json.dumps(graph_dict, separators=(",", ":"))}
    _safetensors.save_file(tensors, path, metadata)


def load_model_arrays(path: str) -> tuple[dict, dict[str, np.ndarray]]:
    """Reads a prpkit model file: (graph_dict, params)."""
    tensors, metadata = _safetensors.load_file(path)
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path}: not a prpkit model file (metadata format={metadata.get('format')!r})")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported prpkit format_version {metadata.get('format_version')!r}")
    if "graph" not in metadata:
        raise ValueError(f"{path}: prpkit model file without a graph")
    return json.loads(metadata["graph"]), tensors
