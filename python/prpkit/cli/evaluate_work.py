"""What `prpkit evaluate` computes for a batch of images — one record per (image,
prototype) — as an object that runs the same in this process or in a Ray actor."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from .explain_work import add_input_fields
from .inputs import Item, load_batch
from .masks import read_mask
from .run import _Size, classify, group_by_prototypes
from .stream import ItemResult
from .work import RunModel, norm_arrays, selection


class EvaluateWork:
    """``cfg``: the run's options (see evaluate.cmd_evaluate); ``model``: a RunModel."""

    def __init__(self, cfg: dict, model: RunModel) -> None:
        self.cfg, self.model = cfg, model
        self._masks: dict[str, np.ndarray] = {}

    def _mask(self, name: str) -> np.ndarray:
        if name not in self._masks:
            _, ih, iw = self.cfg["in_shape"]
            self._masks[name] = read_mask(self.cfg["mask_files"][name], ih, iw)
        return self._masks[name]

    def run(self, batch: Sequence[tuple[int, Item]]) -> list[ItemResult]:
        import prpkit
        from .. import metrics
        cfg = self.cfg
        model, comp = self.model.get()
        mean_a, std_a = norm_arrays(cfg)
        in_shape, n_protos = tuple(cfg["in_shape"]), cfg["n_protos"]
        _, ih, iw = in_shape
        location, loc_mode, metric = cfg["location"], cfg["loc_mode"], cfg["metric"]
        if loc_mode == "at":
            location = tuple(location)
        proto_class = cfg["proto_class"]
        items = [it for _, it in batch]
        x, show, _ = load_batch(items, in_shape, mean_a, std_a)
        predicted, max_sim = classify(model, comp, x, n_protos)
        groups = group_by_prototypes(selection(cfg), cfg["ids"], max_sim, proto_class, predicted, n_protos)
        per_image: dict[int, list[dict]] = {i: [] for i in range(len(items))}
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
                                                     polarity="absolute", gaussian_ksize=cfg["sigma"], normalize=True))
                    pairs.append((i, p))
                    locs.append((h, w, float(s[h, w])))
            heat = np.ascontiguousarray(np.stack(heats).astype(np.float32))
            t0 = time.perf_counter()
            if metric == "pointing":
                if cfg["mask_files"] is not None:
                    m = np.stack([self._mask(items[i].name) for i, _ in pairs])
                else:  # the object: display pixels (channel mean) above the threshold
                    m = np.stack([show[i].mean(axis=-1) > cfg["mask_threshold"] for i, _ in pairs])
                energy, maskrel = metrics.pointing_game(heat, m.astype(np.float32), cfg["area_percentage"])
            else:
                xs = np.ascontiguousarray(x[[i for i, _ in pairs]])
                if cfg["target"] == "similarity":
                    tmodel = comp
                    targets = [(p, h, w) for (_, p), (h, w, _) in zip(pairs, locs)]
                else:
                    tmodel = model
                    targets = [(int(predicted[i]),) for i, _ in pairs]
                scores, auc, fractions = metrics.perturbation_curves(
                    tmodel, xs, heat, targets, mode=metric, steps=cfg["steps"], baseline=cfg["baseline"],
                    blur_sigma=cfg["blur_sigma"], output_index=0, softmax=cfg["softmax"],
                    batch_size=cfg["forward_batch"])
            per_pair = 1000 * (time.perf_counter() - t0) / len(pairs)
            for j, ((i, p), (h, w, simv)) in enumerate(zip(pairs, locs)):
                it = items[i]
                rec: dict[str, Any] = {
                    "image": it.path, "index": it.index, "prototype": int(p),
                    "prototype_class": None if proto_class is None else int(proto_class[p]),
                    "predicted_class": int(predicted[i]), "location": [h, w], "similarity": simv,
                    "metric": metric,
                }
                if metric == "pointing":
                    rec.update({"energy_relevance": float(energy[j]), "mask_relevance": float(maskrel[j]),
                                "area_percentage": cfg["area_percentage"],
                                "mask": cfg["mask_files"][it.name] if cfg["mask_files"] is not None else
                                {"threshold": cfg["mask_threshold"]},
                                "mask_area": float(m[j].mean())})
                else:
                    rec.update({"target": cfg["target"],
                                "target_index": list(targets[j]), "steps": cfg["steps"],
                                "baseline": (cfg["baseline"] if cfg["baseline"] != "blur"
                                             else f"blur:{cfg['blur_sigma']:g}"),
                                "softmax": bool(cfg["softmax"]), "auc": float(auc[j]),
                                "scores": [float(v) for v in scores[j]],
                                "fractions": [float(v) for v in fractions]})
                add_input_fields(rec, it)
                if cfg["timings"]:
                    rec["timings_ms"] = {"metric": round(per_pair, 3)}
                per_image[i].append(rec)
        return [ItemResult(index, per_image[i], []) for i, (index, _) in enumerate(batch)]
