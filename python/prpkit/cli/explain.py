"""`prpkit explain`: PRP heatmaps of prototypes on images, staged in a temporary folder and
moved into --out when every explanation succeeded."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from .errors import PILLOW_HINT, CLIError, unwritable
from .inputs import collect_items, load_batch
from .model import prototype_classes
from .options import parse_location
from .overlay import explain_heat, have_pillow, overlay_png
from .panels import PanelWriter, caption, prototype_sources
from .progress import progress
from .report import explain_report
from .run import _Size, check_selection, classify, group_by_prototypes, load_run


def cmd_explain(args) -> int:
    import prpkit
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
    class_names = meta.get("class_names")

    items = collect_items(args.images, in_shape)
    mean_a = np.asarray(mean, np.float32)[:, None, None]
    std_a = np.asarray(std, np.float32)[:, None, None]
    scale = args.scale if args.scale else max(1, 256 // max(in_shape[1:]))
    sigma = args.gaussian_sigma if args.gaussian_sigma is not None else round(5.0 * max(in_shape[1:]) / 224.0, 3)

    parent = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(parent):
        raise CLIError(f"{args.out}: parent folder {parent} does not exist")
    overlays = have_pillow()
    if not overlays and not args.quiet:
        print(f"prpkit: note: no heatmap overlays (.png) without Pillow ({PILLOW_HINT}); writing the "
              f"relevance (.npy) and records.jsonl", file=sys.stderr)
    size = _Size(in_shape[2] * scale, in_shape[1] * scale)
    panels = None
    if args.panels:
        if not overlays:
            raise CLIError(f"--panels: drawing panels needs Pillow ({PILLOW_HINT})")
        panels = PanelWriter(comp, prototype_sources(meta, path, n_protos, sh, sw), in_shape, mean_a, std_a,
                             size, sigma, args.colormap, args.alpha)
    try:
        stage = tempfile.mkdtemp(prefix=".prpkit-explain-", dir=parent)
    except OSError as e:
        raise unwritable(args.out, e) from None
    n_records = 0
    try:
        records = open(os.path.join(stage, "records.jsonl"), "w", encoding="utf-8")
        t_start = time.perf_counter()
        show_progress = not args.quiet and sys.stderr.isatty()
        progress(0, len(items), show_progress, t_start)
        for b0 in range(0, len(items), args.batch_size):
            batch = items[b0:b0 + args.batch_size]
            t0 = time.perf_counter()
            x, show, resized = load_batch(batch, in_shape, mean_a, std_a)
            t_load = time.perf_counter() - t0
            t0 = time.perf_counter()
            predicted, max_sim = classify(model, comp, x, n_protos)
            t_forward = time.perf_counter() - t0
            # prototypes per image, grouped so that images with the same set share a call
            groups = group_by_prototypes(args, ids, max_sim, proto_class, predicted, n_protos)
            for ps, rows in groups.items():
                if not ps:
                    continue
                t0 = time.perf_counter()
                rel, sim = prpkit.prp_relevance(comp, np.ascontiguousarray(x[rows]), list(ps), location,
                                                similarity_threshold=args.threshold)
                t_prp = time.perf_counter() - t0
                per_prp = 1000 * t_prp / (len(rows) * len(ps))
                for r, i in enumerate(rows):
                    it = batch[i]
                    label = (class_names[int(predicted[i])]
                             if class_names and 0 <= predicted[i] < len(class_names) else None)
                    panel_rows = []
                    for k, p in enumerate(ps):
                        t0 = time.perf_counter()
                        s = sim[r, p]
                        if loc_mode == "max":
                            h, w = (int(v) for v in np.unravel_index(int(np.argmax(s)), s.shape))
                            locs, score = [[h, w]], float(s[h, w])
                        elif loc_mode == "at":
                            h, w = location
                            locs, score = [[h, w]], float(s[h, w])
                        else:
                            sel = np.argwhere(s >= args.threshold)
                            locs = [[int(a), int(bb)] for a, bb in sel]
                            score = float(np.sum(s[s >= args.threshold], dtype=np.float64))
                        relevance = np.ascontiguousarray(rel[r, k])
                        rel_sum = float(np.sum(relevance, dtype=np.float64))
                        heat = explain_heat(relevance, size, sigma, args.colormap)
                        base = f"{it.name}_p{p:03d}"
                        if overlays:
                            overlay_png(os.path.join(stage, base + ".png"), show[i], heat, args.colormap, args.alpha,
                                        args.colorbar)
                        np.save(os.path.join(stage, base + ".npy"), relevance)
                        t_write = time.perf_counter() - t0
                        rec = {
                            "image": it.path, "index": it.index, "resized": bool(resized[i]),
                            "prototype": int(p),
                            "prototype_class": None if proto_class is None else int(proto_class[p]),
                            "predicted_class": int(predicted[i]),
                            "predicted_label": label,
                            "location_mode": loc_mode, "locations": locs,
                            "similarity": score, "max_similarity": float(max_sim[i, p]),
                            "relevance_sum": rel_sum, "conservation_delta": score - rel_sum,
                            "heatmap": base + ".png" if overlays else None, "relevance": base + ".npy",
                            "relevance_shape": list(relevance.shape),
                            "timings_ms": {"load": round(1000 * t_load / len(batch), 3),
                                           "forward": round(1000 * t_forward / len(batch), 3),
                                           "prp": round(per_prp, 3), "write": round(1000 * t_write, 3)},
                        }
                        if panels is not None:
                            rec["panel"] = f"{it.name}_panel.png"
                            panel_rows.append((panels.view(show[i], heat), int(p), caption(rec, class_names)))
                        records.write(json.dumps(rec) + "\n")
                        n_records += 1
                    if panel_rows:
                        panels.write(os.path.join(stage, f"{it.name}_panel.png"),
                                     f"{os.path.basename(it.label)}: predicted {label if label is not None else predicted[i]}", panel_rows)
            progress(min(b0 + args.batch_size, len(items)), len(items), show_progress, t_start)
        records.close()
        # everything succeeded: move the files into place
        os.makedirs(args.out, exist_ok=True)
        for f in sorted(os.listdir(stage)):
            os.replace(os.path.join(stage, f), os.path.join(args.out, f))
        if args.report:
            with open(os.path.join(args.out, "records.jsonl"), encoding="utf-8") as f:
                report = explain_report(args.out, [json.loads(line) for line in f],
                                        f"model {os.path.basename(path)}, {len(items)} image(s)")
    except BaseException as e:
        shutil.rmtree(stage, ignore_errors=True)
        # Inputs are read (and their errors reported) by load_batch; an OSError here is a write.
        if isinstance(e, OSError):
            raise unwritable(args.out, e) from None
        raise
    shutil.rmtree(stage, ignore_errors=True)
    if not args.quiet:
        print(f"explained {len(items)} image(s): {n_records} heatmap(s) in {args.out} "
              f"(records.jsonl, {'<image>_p<id>.png overlays, ' if overlays else ''}<image>_p<id>.npy relevance)"
              + (f"; report {report}" if args.report else ""))
    return 0
