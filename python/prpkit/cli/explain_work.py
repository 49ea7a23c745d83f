"""What `prpkit explain` computes for a batch of images — their records and files — as an
object that runs the same in this process or in a Ray actor (the writer is elsewhere)."""

from __future__ import annotations

import io
import time
from typing import Sequence

import numpy as np

from .inputs import Item, load_batch
from .overlay import explain_heat, overlay_png
from .panels import PanelWriter, caption
from .run import _Size, classify, group_by_prototypes
from .stream import ItemResult
from .work import RunModel, norm_arrays, selection


class ExplainWork:
    """``cfg``: the run's options (see explain.work_config); ``model``: a RunModel."""

    def __init__(self, cfg: dict, model: RunModel) -> None:
        self.cfg, self.model = cfg, model
        self._panels = None

    def run(self, batch: Sequence[tuple[int, Item]]) -> list[ItemResult]:
        """The results of (index, item) pairs, as one forward and one PRP call per
        prototype selection, in the order given."""
        import prpkit
        cfg = self.cfg
        model, comp = self.model.get()
        mean_a, std_a = norm_arrays(cfg)
        in_shape, n_protos = tuple(cfg["in_shape"]), cfg["n_protos"]
        size = _Size(*cfg["size"])
        location, loc_mode = cfg["location"], cfg["loc_mode"]
        if loc_mode == "at":
            location = tuple(location)
        proto_class, class_names = cfg["proto_class"], cfg["class_names"]
        if cfg["panel_sources"] is not None and self._panels is None:
            self._panels = PanelWriter(comp, {int(p): tuple(v) for p, v in cfg["panel_sources"].items()}, in_shape,
                                       mean_a, std_a, size, cfg["sigma"], cfg["colormap"], cfg["alpha"])
        items = [it for _, it in batch]
        t0 = time.perf_counter()
        x, show, resized = load_batch(items, in_shape, mean_a, std_a)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        predicted, max_sim = classify(model, comp, x, n_protos)
        t_forward = time.perf_counter() - t0
        groups = group_by_prototypes(selection(cfg), cfg["ids"], max_sim, proto_class, predicted, n_protos)
        per_image: dict[int, tuple[list[dict], list[tuple[str, bytes]]]] = {i: ([], []) for i in range(len(items))}
        for ps, rows in groups.items():
            if not ps:
                continue
            t0 = time.perf_counter()
            rel, sim = prpkit.prp_relevance(comp, np.ascontiguousarray(x[rows]), list(ps), location,
                                            similarity_threshold=cfg["threshold"])
            per_prp = 1000 * (time.perf_counter() - t0) / (len(rows) * len(ps))
            for r, i in enumerate(rows):
                it = items[i]
                records, files = per_image[i]
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
                        sel = np.argwhere(s >= cfg["threshold"])
                        locs = [[int(a), int(bb)] for a, bb in sel]
                        score = float(np.sum(s[s >= cfg["threshold"]], dtype=np.float64))
                    relevance = np.ascontiguousarray(rel[r, k])
                    rel_sum = float(np.sum(relevance, dtype=np.float64))
                    heat = explain_heat(relevance, size, cfg["sigma"], cfg["colormap"])
                    base = f"{it.name}_p{p:03d}"
                    if cfg["overlays"]:
                        png = io.BytesIO()
                        overlay_png(png, show[i], heat, cfg["colormap"], cfg["alpha"], cfg["colorbar"])
                        files.append((base + ".png", png.getvalue()))
                    npy = io.BytesIO()
                    np.save(npy, relevance)
                    files.append((base + ".npy", npy.getvalue()))
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
                        "heatmap": base + ".png" if cfg["overlays"] else None, "relevance": base + ".npy",
                        "relevance_shape": list(relevance.shape),
                    }
                    add_input_fields(rec, it)
                    if cfg["timings"]:
                        rec["timings_ms"] = {"load": round(1000 * t_load / len(items), 3),
                                             "forward": round(1000 * t_forward / len(items), 3),
                                             "prp": round(per_prp, 3), "write": round(1000 * t_write, 3)}
                    if self._panels is not None:
                        rec["panel"] = f"{it.name}_panel.png"
                        panel_rows.append((self._panels.view(show[i], heat), int(p), caption(rec, class_names)))
                    records.append(rec)
                if panel_rows:
                    png = io.BytesIO()
                    self._panels.write(png, f"{_short(it.label)}: predicted {label if label is not None else predicted[i]}",
                                       panel_rows)
                    files.append((f"{it.name}_panel.png", png.getvalue()))
        return [ItemResult(index, *per_image[i]) for i, (index, _) in enumerate(batch)]


def add_input_fields(rec: dict, it: Item) -> None:
    """The fields only some inputs have: the .npz array's name, the label from a list file."""
    if it.key is not None:
        rec["array"] = it.key
    if it.truth is not None:
        rec["label"] = it.truth


def _short(label: str) -> str:
    import os
    return os.path.basename(label)
