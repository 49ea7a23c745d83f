"""What explain and evaluate share: the checked options, the model with its normalisation,
composite and prototype ids, the prototypes chosen per image, the heatmap's output size."""

from __future__ import annotations

import os

import numpy as np

from .errors import CLIError
from .model import IMAGENET_MEAN, IMAGENET_STD, build_composite, load_metadata, load_model, zbeta_bounds
from .options import parse_floats


def check_selection(args) -> None:
    """Options shared by explain and evaluate: threads, prototype selection, batch size."""
    import prpkit
    if args.threads and args.ray is None:  # with --ray, the threads of each actor
        prpkit.set_num_threads(args.threads)
    selectors = [args.prototypes is not None, args.top_k is not None, args.predicted_class]
    if sum(selectors) > 1:
        raise CLIError("choose one of --prototypes, --top-k, --predicted-class")
    if not any(selectors):
        args.top_k = 3
    if args.top_k is not None and args.top_k < 1:
        raise CLIError(f"--top-k must be ≥ 1, got {args.top_k}")
    if args.batch_size < 1:
        raise CLIError(f"--batch-size must be ≥ 1, got {args.batch_size}")
    if args.ray_workers < 0:
        raise CLIError(f"--ray-workers must be ≥ 0, got {args.ray_workers}")
    if args.ray_workers and args.ray is None:
        raise CLIError("--ray-workers needs --ray")
    if args.ray and os.path.exists(args.ray):
        raise CLIError(f"--ray {args.ray}: an input, not a Ray address (put --ray after the inputs, or write "
                       f"--ray=ADDRESS)")
    if args.ray is not None:
        from ..distributed._engine import ray_module
        ray_module()  # a clear error now rather than after the inputs are read


def load_run(args, command: str, location, loc_mode):
    """What explain and evaluate share: the model and its metadata, the input
    normalisation, the PRP composite, the explicit prototype ids (validated)."""
    path, model = load_model(args.model)
    meta = load_metadata(path)
    if len(model.inputs) != 1 or len(model.inputs[0][1]) != 4:
        raise CLIError(f"{path}: {command} needs a model with one image input (N, C, H, W), "
                       f"it has {model.inputs}")
    in_shape = tuple(model.inputs[0][1][1:])
    c = in_shape[0]
    mean = parse_floats(args.mean, "--mean") if args.mean else list(meta.get("mean", IMAGENET_MEAN))
    std = parse_floats(args.std, "--std") if args.std else list(meta.get("std", IMAGENET_STD))
    for what, v in (("--mean", mean), ("--std", std)):
        if len(v) == 1:
            v *= c
        if len(v) != c:
            raise CLIError(f"{what}: {len(v)} values for a {c}-channel model")
    if any(s <= 0 for s in std):
        raise CLIError("--std: values must be > 0")
    lower, upper = zbeta_bounds(mean, std)
    comp = build_composite(model, lower, upper)
    n_protos, sh, sw = comp.outputs[0][1][1:]
    ids: list[int] = []
    if args.prototypes is not None:
        try:
            ids = [int(v) for v in args.prototypes.split(",") if v.strip() != ""]
        except ValueError:
            raise CLIError(f"--prototypes: expected comma-separated ids, got {args.prototypes!r}") from None
        bad = [i for i in ids if not 0 <= i < n_protos]
        if not ids or bad:
            raise CLIError(f"--prototypes: ids must be in 0..{n_protos - 1}, got {args.prototypes!r}")
    if loc_mode == "at" and not (0 <= location[0] < sh and 0 <= location[1] < sw):
        raise CLIError(f"--location {args.location}: outside the {sh}×{sw} similarity map")
    return path, model, meta, in_shape, mean, std, comp, ids, n_protos, sh, sw


def classify(model, comp, x: np.ndarray, n_protos: int) -> tuple[np.ndarray, np.ndarray]:
    """One forward pass of a batch x (N, C, H, W): (the predicted class of each image, −1
    when the model's first output is not (N, classes); each prototype's maximum
    similarity (N, P))."""
    logits = np.asarray(model(x)[0] if len(model.outputs) > 1 else model(x))
    sim_maps = np.asarray(comp(x))
    predicted = logits.argmax(1) if logits.ndim == 2 else np.full(len(x), -1)
    return predicted, sim_maps.reshape(len(x), n_protos, -1).max(2)


def group_by_prototypes(args, ids, max_sim, proto_class, predicted, n_protos) -> dict:
    """The prototypes to explain for each image of a batch (explicit ids, top-k by
    similarity — stable: ties keep the lower id — or the predicted class's), grouped so
    that images sharing a selection run as one batched PRP call: {prototypes: [rows]}."""
    groups: dict[tuple, list[int]] = {}
    for i in range(len(max_sim)):
        if args.prototypes is not None:
            ps = tuple(ids)
        elif args.top_k is not None:
            order = np.argsort(-max_sim[i], kind="stable")[:min(args.top_k, n_protos)]
            ps = tuple(int(p) for p in order)
        else:
            ps = tuple(p for p, cl in enumerate(proto_class) if cl == int(predicted[i]))
        groups.setdefault(ps, []).append(i)
    return groups


class _Size:
    """The ``img`` of post_process, which reads only its size: the heatmap's output size."""

    __slots__ = ("width", "height")

    def __init__(self, w: int, h: int) -> None:
        self.width, self.height = w, h
