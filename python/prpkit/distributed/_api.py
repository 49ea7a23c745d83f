"""The Python face of `prpkit explain` / `prpkit evaluate` with ``--ray``."""

from __future__ import annotations

import os
from typing import Any, Sequence


def _argv(options: dict[str, Any]) -> list[str]:
    """Keyword options as the command's flags: top_k=3 → --top-k 3, colorbar=True →
    --colorbar, False/None → left out, a list → comma-separated."""
    argv: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [flag, ",".join(str(v) for v in value)]
        else:
            argv += [flag, str(value)]
    return argv


def _run(command: str, images: Sequence[str | os.PathLike], options: dict[str, Any]) -> dict:
    from ..cli.parser import build_parser
    address = options.pop("address", None)
    argv = [command, *(os.fspath(i) for i in images), *_argv(options), f"--ray={address or ''}"]
    args = build_parser().parse_args(argv)
    args.func(args)
    return {**args.result, "ray": getattr(args, "ray_stats", None)}


def explain(images: Sequence[str | os.PathLike], out: str | os.PathLike, *, address: str | None = None,
            workers: int = 0, threads: int = 1, resume: bool = False, quiet: bool = True, **options) -> dict:
    """Runs `prpkit explain` on a Ray cluster.

    Args:
        images: inputs as the command takes them (files, folders, globs, .txt/.csv lists,
            .npy/.npz); they must be readable at the same paths on every node.
        out: the output folder (records.jsonl and the pictures, written by this process).
        address: the cluster, as ``ray.init`` takes it (``"auto"``, ``"HOST:PORT"``,
            ``"ray://HOST:PORT"``); None: RAY_ADDRESS, else a local cluster. When Ray is
            already initialised in this process, that cluster is used.
        workers: Ray actors (0: the cluster's CPUs divided by ``threads``).
        threads: native threads (and CPUs reserved) per actor.
        resume: continue an interrupted run into ``out`` (see `prpkit explain --resume`).
        **options: any other option of `prpkit explain`, by its name with underscores
            (``model=``, ``top_k=3``, ``prototypes=[4, 17]``, ``batch_size=8``, ``panels=True``).

    Returns:
        {"images", "records", "resumed_images", "duplicates_ignored", "records_path",
        "ray": RayStats}.

    Raises:
        prpkit.cli.CLIError: bad inputs or options (the command's one-line message), or a
            shard that failed on every attempt.
    """
    return _run("explain", images, {"out": os.fspath(out), "address": address, "ray_workers": workers,
                                    "threads": threads, "resume": resume, "quiet": quiet, **options})


def evaluate(images: Sequence[str | os.PathLike], out: str | os.PathLike, metric: str, *,
             address: str | None = None, workers: int = 0, threads: int = 1, resume: bool = False,
             quiet: bool = True, **options) -> dict:
    """Runs `prpkit evaluate` on a Ray cluster (``metric``: pointing, deletion or
    insertion; ``out``: the .jsonl file; the other arguments as for `explain`, with
    evaluate's options, e.g. ``masks="data/masks"``, ``steps=16``)."""
    return _run("evaluate", images, {"out": os.fspath(out), "metric": metric, "address": address,
                                     "ray_workers": workers, "threads": threads, "resume": resume,
                                     "quiet": quiet, **options})
