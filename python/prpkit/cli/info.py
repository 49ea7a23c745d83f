"""`prpkit info`: a model file's graph, shapes, parameter count and PRP rules.

The description is the library's (``Model.summary``), so ``prpkit-run info`` prints the
same text and JSON; this command only supplies the file and its sidecar metadata."""

from __future__ import annotations

from .model import load_metadata, load_model


def cmd_info(args) -> int:
    path, model = load_model(args.model)
    print(model.summary(path, load_metadata(path) or None, as_json=args.json), end="" if not args.json else "\n")
    return 0
