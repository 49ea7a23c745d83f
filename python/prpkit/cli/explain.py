"""`prpkit explain`: PRP heatmaps of prototypes on images, streamed into --out as each image
finishes (its pictures and relevance written atomically, its records appended), resumable
with --resume; computed here or on a Ray cluster (--ray)."""

from __future__ import annotations

import json
import os
import sys

from .engine import run_fingerprint, stream_run
from .errors import PILLOW_HINT, CLIError, unwritable
from .explain_work import ExplainWork
from .inputs import collect_items
from .model import prototype_classes
from .options import parse_location
from .overlay import have_pillow
from .panels import prototype_sources
from .report import explain_report
from .run import check_selection, load_run
from .stream import RecordStream
from .work import RunModel
from .._zbeta import zbeta_bounds


def cmd_explain(args) -> int:
    check_selection(args)
    if not 0.0 <= args.alpha <= 1.0:
        raise CLIError(f"--alpha: expected an opacity in [0, 1], got {args.alpha}")
    location, loc_mode = parse_location(args.location)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CLIError(f"{args.out}: exists and is not a directory")

    path, model, meta, in_shape, mean, std, comp, ids, n_protos, sh, sw = load_run(args, "explain", location, loc_mode)
    proto_class = prototype_classes(model, meta)
    if args.predicted_class and proto_class is None:
        raise CLIError("--predicted-class: the prototype → class map is unknown (no metadata, no last layer)")

    items = collect_items(args.images, in_shape)
    scale = args.scale if args.scale else max(1, 256 // max(in_shape[1:]))
    sigma = args.gaussian_sigma if args.gaussian_sigma is not None else round(5.0 * max(in_shape[1:]) / 224.0, 3)

    parent = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(parent):
        raise CLIError(f"{args.out}: parent folder {parent} does not exist")
    overlays = have_pillow()
    if not overlays and not args.quiet:
        print(f"prpkit: note: no heatmap overlays (.png) without Pillow ({PILLOW_HINT}); writing the "
              f"relevance (.npy) and records.jsonl", file=sys.stderr)
    panel_sources = None
    if args.panels:
        if not overlays:
            raise CLIError(f"--panels: drawing panels needs Pillow ({PILLOW_HINT})")
        panel_sources = prototype_sources(meta, path, n_protos, sh, sw)
    cfg = {
        "in_shape": list(in_shape), "mean": mean, "std": std, "n_protos": n_protos, "ids": ids,
        "prototypes": args.prototypes, "top_k": args.top_k, "predicted_class": bool(args.predicted_class),
        "proto_class": proto_class, "class_names": meta.get("class_names"),
        "location": list(location) if loc_mode == "at" else location, "loc_mode": loc_mode, "threshold": args.threshold,
        "size": [in_shape[2] * scale, in_shape[1] * scale], "sigma": sigma, "colormap": args.colormap,
        "alpha": args.alpha, "colorbar": bool(args.colorbar), "overlays": overlays,
        "panel_sources": None if panel_sources is None else {str(p): list(v) for p, v in panel_sources.items()},
        "timings": not args.no_timings,
    }
    work = ExplainWork(cfg, RunModel(path, zbeta_bounds(mean, std), model, comp))
    records_path = os.path.join(args.out, "records.jsonl")
    stream = RecordStream(records_path, args.out, run_fingerprint("explain", path, cfg), [it.label for it in items])
    try:
        os.makedirs(args.out, exist_ok=True)
        resumed = stream.open(args.resume)
    except OSError as e:
        raise unwritable(args.out, e) from None
    try:
        stream_run(work, items, stream, args, "explain", args.out)
        if args.report:
            with open(records_path, encoding="utf-8") as f:
                report = explain_report(args.out, [json.loads(line) for line in f],
                                        f"model {os.path.basename(path)}, {len(items)} image(s)")
    except OSError as e:  # inputs were read, and their errors reported, as CLIError
        raise unwritable(args.out, e) from None
    args.result = {"images": len(items), "records": stream.n_records, "resumed_images": resumed,
                   "duplicates_ignored": stream.duplicates, "records_path": records_path}
    if not args.quiet:
        print(f"explained {len(items)} image(s)" + (f" ({resumed} already complete)" if resumed else "")
              + (f" on {args.ray_stats.workers} Ray worker(s)" if getattr(args, "ray_stats", None) else "")
              + f": {stream.n_records} heatmap(s) in {args.out} "
              f"(records.jsonl, {'<image>_p<id>.png overlays, ' if overlays else ''}<image>_p<id>.npy relevance)"
              + (f"; report {report}" if args.report else ""))
    return 0
