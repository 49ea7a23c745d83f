"""`prpkit evaluate`: relevance metrics of PRP heatmaps (pointing game, deletion and
insertion curves), one JSON line per (image, prototype)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np

from .errors import CLIError, unwritable
from .inputs import collect_items, load_batch
from .masks import find_masks, read_mask
from .model import prototype_classes
from .options import parse_location
from .progress import progress
from .report import evaluate_report
from .run import _Size, check_selection, classify, group_by_prototypes, load_run


def cmd_evaluate(args) -> int:
    import prpkit
    from .. import metrics
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
    mask_files = find_masks(items, args.masks) if args.metric == "pointing" and args.masks else {}
    masks_cache = {name: read_mask(f, ih, iw) for name, f in mask_files.items()}  # validates all first
    mean_a = np.asarray(mean, np.float32)[:, None, None]
    std_a = np.asarray(std, np.float32)[:, None, None]
    sigma = args.gaussian_sigma if args.gaussian_sigma is not None else round(5.0 * max(in_shape[1:]) / 224.0, 3)
    baseline = args.baseline or ("zero" if args.metric == "deletion" else "blur")

    try:
        fd, tmp = tempfile.mkstemp(prefix=".prpkit-evaluate-", suffix=".jsonl", dir=out_dir)
    except OSError as e:
        raise unwritable(args.out, e) from None
    n_records = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            t_start = time.perf_counter()
            show_progress = not args.quiet and sys.stderr.isatty()
            for b0 in range(0, len(items), args.batch_size):
                batch = items[b0:b0 + args.batch_size]
                x, show, _ = load_batch(batch, in_shape, mean_a, std_a)
                predicted, max_sim = classify(model, comp, x, n_protos)
                groups = group_by_prototypes(args, ids, max_sim, proto_class, predicted, n_protos)
                for ps, rows in groups.items():
                    if not ps:
                        continue
                    rel, sim = prpkit.prp_relevance(comp, np.ascontiguousarray(x[rows]), list(ps), location)
                    pairs, heats, locs = [], [], []
                    for r, i in enumerate(rows):
                        for k, p in enumerate(ps):
                            s = sim[r, p]
                            if loc_mode == "max":
                                h, w = (int(v) for v in np.unravel_index(int(np.argmax(s)), s.shape))
                            else:
                                h, w = location
                            # CaBRNet's attribution: post-processed, at the input size, normalised
                            heats.append(prpkit.post_process(np.ascontiguousarray(rel[r, k]), img=_Size(iw, ih),
                                                             polarity="absolute", gaussian_ksize=sigma,
                                                             normalize=True))
                            pairs.append((i, p))
                            locs.append((h, w, float(s[h, w])))
                    heat = np.ascontiguousarray(np.stack(heats).astype(np.float32))
                    t0 = time.perf_counter()
                    if args.metric == "pointing":
                        if args.masks:
                            m = np.stack([masks_cache[batch[i].name] for i, _ in pairs])
                        else:  # the object: display pixels (channel mean) above the threshold
                            m = np.stack([show[i].mean(axis=-1) > args.mask_threshold for i, _ in pairs])
                        energy, maskrel = metrics.pointing_game(heat, m.astype(np.float32), args.area_percentage)
                    else:
                        xs = np.ascontiguousarray(x[[i for i, _ in pairs]])
                        if args.target == "similarity":
                            tmodel, oi = comp, 0
                            targets = [(p, h, w) for (_, p), (h, w, _) in zip(pairs, locs)]
                        else:
                            tmodel, oi = model, 0
                            targets = [(int(predicted[i]),) for i, _ in pairs]
                        scores, auc, fractions = metrics.perturbation_curves(
                            tmodel, xs, heat, targets, mode=args.metric, steps=args.steps, baseline=baseline,
                            blur_sigma=args.blur_sigma, output_index=oi, softmax=args.softmax,
                            batch_size=args.forward_batch)
                    per_pair = 1000 * (time.perf_counter() - t0) / len(pairs)
                    for j, ((i, p), (h, w, simv)) in enumerate(zip(pairs, locs)):
                        it = batch[i]
                        rec: dict[str, Any] = {
                            "image": it.path, "index": it.index, "prototype": int(p),
                            "prototype_class": None if proto_class is None else int(proto_class[p]),
                            "predicted_class": int(predicted[i]), "location": [h, w], "similarity": simv,
                            "metric": args.metric,
                        }
                        if args.metric == "pointing":
                            rec.update({"energy_relevance": float(energy[j]), "mask_relevance": float(maskrel[j]),
                                        "area_percentage": args.area_percentage,
                                        "mask": mask_files.get(it.name) if args.masks else
                                        {"threshold": args.mask_threshold},
                                        "mask_area": float(m[j].mean())})
                        else:
                            rec.update({"target": args.target,
                                        "target_index": list(targets[j]), "steps": args.steps,
                                        "baseline": baseline if baseline != "blur" else f"blur:{args.blur_sigma:g}",
                                        "softmax": bool(args.softmax), "auc": float(auc[j]),
                                        "scores": [float(v) for v in scores[j]],
                                        "fractions": [float(v) for v in fractions]})
                        rec["timings_ms"] = {"metric": round(per_pair, 3)}
                        out.write(json.dumps(rec) + "\n")
                        n_records += 1
                progress(min(b0 + args.batch_size, len(items)), len(items), show_progress, t_start, "evaluate")
        os.replace(tmp, args.out)
        if args.report:
            with open(args.out, encoding="utf-8") as f:
                report = evaluate_report(os.path.join(os.path.dirname(os.path.abspath(args.out)), "report"),
                                         [json.loads(line) for line in f],
                                         f"model {os.path.basename(path)}, {len(items)} image(s)")
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):  # inputs were read, and their errors reported, by load_batch
            raise unwritable(args.out, e) from None
        raise
    if not args.quiet:
        print(f"evaluated {len(items)} image(s): {n_records} record(s) ({args.metric}) in {args.out}"
              + (f"; report {report}" if args.report else ""))
    return 0
