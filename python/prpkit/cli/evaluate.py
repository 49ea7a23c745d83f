"""`prpkit evaluate`: relevance metrics of PRP heatmaps (pointing game, deletion and
insertion curves), one JSON line per (image, prototype), streamed into --out as each image
finishes, resumable with --resume; computed here or on a Ray cluster (--ray)."""

from __future__ import annotations

import json
import os
import sys

from .engine import run_fingerprint, stream_run
from .errors import CLIError, unwritable
from .evaluate_work import EvaluateWork
from .inputs import collect_items
from .masks import find_masks, read_mask
from .model import prototype_classes
from .options import parse_location
from .report import evaluate_report
from .run import check_selection, load_run
from .stream import RecordStream
from .work import RunModel
from .._zbeta import zbeta_bounds


def cmd_evaluate(args) -> int:
    check_selection(args)
    if args.metric == "pointing":
        if (args.masks is None) == (args.mask_threshold is None):
            raise CLIError("--metric pointing needs exactly one of --masks DIR and --mask-threshold T")
        if not 0.0 <= args.area_percentage <= 1.0:
            raise CLIError(f"--area-percentage must be in [0, 1], got {args.area_percentage}")
    else:
        if args.steps < 1:
            raise CLIError(f"--steps must be ≥ 1, got {args.steps}")
        if args.blur_sigma < 0:
            raise CLIError(f"--blur-sigma must be ≥ 0, got {args.blur_sigma}")
        if args.softmax and args.target != "class":
            raise CLIError("--softmax needs --target class (a softmax over prototypes is not a probability)")
    location, loc_mode = parse_location(args.location)
    if loc_mode == "all":
        raise CLIError("--location: evaluate takes max or H,W")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise CLIError(f"{args.out}: parent folder {out_dir} does not exist")
    if os.path.isdir(args.out):
        raise CLIError(f"{args.out}: is a directory; give a .jsonl file path")

    path, model, meta, in_shape, mean, std, comp, ids, n_protos, sh, sw = load_run(args, "evaluate", location, loc_mode)
    c, ih, iw = in_shape
    proto_class = prototype_classes(model, meta)
    if args.predicted_class and proto_class is None:
        raise CLIError("--predicted-class: the prototype → class map is unknown (no metadata, no last layer)")
    if args.target == "class" and (len(model.outputs) < 1 or len(model.outputs[0][1]) != 2):
        raise CLIError("--target class needs a model whose first output is (N, classes)")

    items = collect_items(args.images, in_shape)
    mask_files = find_masks(items, args.masks) if args.metric == "pointing" and args.masks else None
    for f in (mask_files or {}).values():
        read_mask(f, ih, iw)  # validates every mask before anything is computed
    sigma = args.gaussian_sigma if args.gaussian_sigma is not None else round(5.0 * max(in_shape[1:]) / 224.0, 3)
    cfg = {
        "in_shape": list(in_shape), "mean": mean, "std": std, "n_protos": n_protos, "ids": ids,
        "prototypes": args.prototypes, "top_k": args.top_k, "predicted_class": bool(args.predicted_class),
        "proto_class": proto_class, "location": list(location) if loc_mode == "at" else location, "loc_mode": loc_mode,
        "metric": args.metric, "sigma": sigma, "mask_files": mask_files, "mask_threshold": args.mask_threshold,
        "area_percentage": args.area_percentage, "steps": args.steps,
        "baseline": args.baseline or ("zero" if args.metric == "deletion" else "blur"),
        "blur_sigma": args.blur_sigma, "target": args.target, "softmax": bool(args.softmax),
        "forward_batch": args.forward_batch, "timings": not args.no_timings,
    }
    work = EvaluateWork(cfg, RunModel(path, zbeta_bounds(mean, std), model, comp))
    run = run_fingerprint("evaluate", path, {k: v for k, v in cfg.items() if k != "forward_batch"})
    stream = RecordStream(args.out, None, run, [it.label for it in items])
    try:
        resumed = stream.open(args.resume)
    except OSError as e:
        raise unwritable(args.out, e) from None
    try:
        stream_run(work, items, stream, args, "evaluate", args.out)
        if args.report:
            with open(args.out, encoding="utf-8") as f:
                report = evaluate_report(os.path.join(out_dir, "report"), [json.loads(line) for line in f],
                                         f"model {os.path.basename(path)}, {len(items)} image(s)")
    except OSError as e:
        raise unwritable(args.out, e) from None
    args.result = {"images": len(items), "records": stream.n_records, "resumed_images": resumed,
                   "duplicates_ignored": stream.duplicates, "records_path": args.out}
    if not args.quiet:
        print(f"evaluated {len(items)} image(s)" + (f" ({resumed} already complete)" if resumed else "")
              + (f" on {args.ray_stats.workers} Ray worker(s)" if getattr(args, "ray_stats", None) else "")
              + f": {stream.n_records} record(s) ({args.metric}) in {args.out}"
              + (f"; report {report}" if args.report else ""), file=sys.stdout)
    return 0
