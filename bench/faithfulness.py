"""Faithfulness of PRP heatmaps: deletion / insertion AUC, border mass, pointing game.

For every image of a set and its K most similar prototypes (location "max" of each), every
method makes a heatmap, post-processed exactly as `prpkit evaluate` scores it (absolute
relevance, channel mean, Gaussian blur σ = 5·H/224, min–max normalisation). All methods
explain the same (image, prototype, location) pairs and are scored by the same function:
the model's own similarity at the explained location (the corrected composite's forward,
which is the model's forward).

Metrics per pair:
- deletion AUC (↓): RISE deletion to zero (the normalisation mean), `--steps` steps;
- insertion AUC (↑): RISE insertion onto the image blurred with σ = 5;
- border mass: the share of the heatmap's total in the outermost `--border` rows and
  columns (default H/16: 2 px at 32²), reported for all pairs and split by whether the
  explained location lies on the similarity map's edge (its patch touches the image edge);
- pointing game (where masks exist): CaBRNet's energy (mask share of the heatmap) and mask
  relevance (share of the top 10 % pixels inside the mask). For the bundled digits the
  mask is the ink: pixels brighter than `--mask-threshold` (0.5).

Statistics: mean ± standard error clustered by image (the K pairs of one image are not
independent), and paired differences against references (same pairs), with their
clustered SE, z = Δ / SE and the share of pairs where the method is better.

    python3 bench/faithfulness.py                      # bundled model, all 360 held-out digits
    python3 bench/faithfulness.py --ablation           # + the corrected composite with each choice reverted
    python3 bench/faithfulness.py --model M.prpkit IMAGES... [--masks DIR] --json out.json

`--split tune|confirm` keeps the even / odd images of the set (a tuning half to choose
rules on, and a confirmation half they have never seen).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np

# Method names used in tables and as reference names.
CABRNET = "PRP, CaBRNet composite"
CORRECTED = "PRP, corrected composite"
GRADIENT = "gradient × input"
RANDOM = "random map"


class _Size:
    def __init__(self, w: int, h: int) -> None:
        self.width, self.height = w, h


# ----------------------------------------------------------------------------- statistics

def clustered_mean(values: np.ndarray, clusters: np.ndarray) -> tuple[float, float]:
    """Mean of `values` and its cluster-robust standard error (CR1: clusters are
    independent, observations within one are not): SE² = G/(G−1) · Σ_g (Σ_{i∈g} (v_i − v̄))² / N²."""
    v = np.asarray(values, np.float64)
    c = np.asarray(clusters)
    n = len(v)
    mean = float(v.mean())
    groups = np.unique(c)
    g = len(groups)
    if g < 2:
        return mean, float("nan")
    sums = np.array([(v[c == k] - mean).sum() for k in groups])
    se = np.sqrt(g / (g - 1) * (sums ** 2).sum()) / n
    return mean, float(se)


def paired(a: np.ndarray, b: np.ndarray, clusters: np.ndarray, lower_is_better: bool) -> dict:
    """Δ = mean(a − b) ± clustered SE, z and the share of pairs where a beats b (ties: half)."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    mean, se = clustered_mean(d, clusters)
    better = (d < 0) if lower_is_better else (d > 0)
    share = float((better.sum() + 0.5 * (d == 0).sum()) / len(d))
    z = mean / se if se > 0 else (0.0 if mean == 0 else float(np.copysign(np.inf, mean)))
    return {"delta": mean, "se": se, "z": z,
            "share_better": share}


def border_mask(h: int, w: int, width: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[:width] = m[-width:] = True
    m[:, :width] = m[:, -width:] = True
    return m


def border_mass(heat: np.ndarray, width: int) -> np.ndarray:
    """Share of each map's total (N, H, W, non-negative) in its outer `width` rows/columns."""
    m = border_mask(heat.shape[1], heat.shape[2], width)
    total = heat.reshape(len(heat), -1).sum(1, dtype=np.float64)
    inside = heat[:, m].sum(1, dtype=np.float64)
    return np.where(total > 0, inside / np.where(total > 0, total, 1), 0.0)


# ----------------------------------------------------------------------------- data

def load_image_set(specs: Sequence[str] | None, in_shape, mean, std, masks: str | None,
                   mask_threshold: float | None):
    """(x normalised (N, C, H, W), display pixels (N, H, W) in [0, 1], masks (N, H, W) bool or None).
    An .npz holds `images` ((N, H, W) or (N, H, W, C), uint8 or float in [0, 1]) and optionally
    `masks`; anything else goes through `prpkit explain`'s image loader."""
    from prpkit import cli
    c, h, w = in_shape
    mean_a = np.asarray(mean, np.float32)[:, None, None]
    std_a = np.asarray(std, np.float32)[:, None, None]
    mask = None
    if specs is None or (len(specs) == 1 and specs[0].endswith(".npz")):
        path = specs[0] if specs else os.path.join(cli.DATA_DIR, "digits_heldout.npz")
        data = np.load(path)
        imgs = data["images"]
        imgs = imgs.astype(np.float32) / 255.0 if imgs.dtype == np.uint8 else imgs.astype(np.float32)
        if imgs.ndim == 3:
            imgs = imgs[..., None]
        if imgs.shape[1:3] != (h, w):
            raise SystemExit(f"{path}: images are {imgs.shape[1:3]}, the model takes {(h, w)}")
        pix = np.repeat(imgs, c, axis=-1) if imgs.shape[-1] == 1 else imgs[..., :c]
        x = (pix.transpose(0, 3, 1, 2) - mean_a) / std_a
        show = pix.mean(-1)
        if "masks" in data.files:
            mask = data["masks"].astype(bool)
        if specs is None and mask_threshold is None:
            mask_threshold = 0.5  # the digits' ink
    else:
        items = cli.collect_items(list(specs), in_shape)
        x, disp, _ = cli.load_batch(items, in_shape, mean_a, std_a)
        show = disp.mean(-1)
        if masks:
            files = cli.find_masks(items, masks)
            mask = np.stack([cli.read_mask(files[it.name], h, w) for it in items])
    if mask is None and mask_threshold is not None:
        mask = show > mask_threshold
    return np.ascontiguousarray(x, dtype=np.float32), show, mask


# ----------------------------------------------------------------------------- methods

def node_names(comp) -> list[str]:
    return list(comp.rules)


def gradient_config(corrected) -> dict:
    """Plain gradient (no rule anywhere) on the corrected composite's graph: the model's own
    forward and similarity. PRP's seed makes it S·∇S, scaled away by the normalisation."""
    cfg = corrected.config
    cfg["rules"] = {"by_node": {n: {"rule": "gradient"} for n in node_names(corrected)}}
    return cfg


def methods(model, mean, std, ablation: bool = False) -> list[tuple[str, Any, bool]]:
    """(name, composite, times input) for each heatmap method; None composite = random."""
    from prpkit._composite import CompositeModel
    from prpkit.cli import zbeta_bounds
    from prpkit.prp_utils import get_cabrnet_lrp_composite_model, get_corrected_lrp_composite_model
    lower, upper = zbeta_bounds(mean, std)
    cab = get_cabrnet_lrp_composite_model(model, zbeta_lower_bound=lower, zbeta_upper_bound=upper)
    cor = get_corrected_lrp_composite_model(model, input_mean=mean, input_std=std)
    out = [(CABRNET, cab, False), (CORRECTED, cor, False),
           (GRADIENT, CompositeModel(model, gradient_config(cor)), True), (RANDOM, None, False)]
    if ablation:
        out += [(name, CompositeModel(model, cfg), False) for name, cfg in ablation_configs(cab, cor)]
    return out


# CaBRNet's rule → the part of the composite it belongs to (for the ablation's names)
_PARTS = {"zbeta": "first conv", "prp_alpha1_beta0": "other convs", "prototype_similarity": "similarity rule",
          "stacked_sum": "residual sums", "identity": "sigmoid"}


def ablation_configs(cab, cor) -> list[tuple[str, dict]]:
    """The corrected composite with one part's rules set back to the CaBRNet composite's
    (the nodes where the two composites' rules differ, grouped by CaBRNet's rule)."""
    cab_rules, cor_rules = cab.rules, cor.rules
    parts: dict[str, dict] = {}
    for node, rule in cab_rules.items():
        if rule and node in cor_rules and cor_rules[node] != rule:
            parts.setdefault(_PARTS.get(rule["rule"], rule["rule"]), {})[node] = rule
    out = []
    for part, rules in parts.items():
        cfg = cor.config
        cfg["rules"] = {"by_node": rules}
        out.append((f"corrected, {part} as CaBRNet's", cfg))
    return out


def select_pairs(scorer, x: np.ndarray, top_k: int, batch: int = 64) -> list[tuple[int, int, int, int]]:
    """(image, prototype, h, w): each image's `top_k` most similar prototypes (stable order)
    at the location of their maximum (first in row-major order)."""
    pairs = []
    for b0 in range(0, len(x), batch):
        sim = np.asarray(scorer(np.ascontiguousarray(x[b0:b0 + batch])))
        n, p, hs, ws = sim.shape
        flat = sim.reshape(n, p, -1)
        for i in range(n):
            for proto in np.argsort(-flat[i].max(1), kind="stable")[:min(top_k, p)]:
                loc = int(np.argmax(flat[i, proto]))
                pairs.append((b0 + i, int(proto), loc // ws, loc % ws))
    return pairs


def heatmaps(comp, times_input: bool, x: np.ndarray, pairs, sigma: float, seed: int = 0) -> np.ndarray:
    """(len(pairs), H, W) post-processed heatmaps of one method (`prpkit evaluate`'s)."""
    import prpkit
    h, w = x.shape[2:]
    if comp is None:
        return np.random.default_rng(seed).random((len(pairs), h, w)).astype(np.float32)
    by_image: dict[int, list[int]] = {}
    for j, (i, p, _, _) in enumerate(pairs):
        by_image.setdefault(i, []).append(j)
    out = np.zeros((len(pairs), h, w), np.float32)
    for i, js in by_image.items():
        protos = [pairs[j][1] for j in js]
        rel, sim = prpkit.prp_relevance(comp, x[i:i + 1], protos, "max")
        for k, j in enumerate(js):
            _, p, hh, ww = pairs[j]
            # the explained location must be the pair's (one scorer chose it for every method)
            loc = np.unravel_index(int(np.argmax(sim[0, p])), sim.shape[2:])
            r = rel[0, k] if tuple(loc) == (hh, ww) else prpkit.prp_relevance(comp, x[i:i + 1], [p], (hh, ww))[0][0, 0]
            out[j] = prpkit.post_process(np.ascontiguousarray(r), img=_Size(w, h), img_tensor=x[i],
                                         polarity="absolute", gaussian_ksize=sigma, normalize=True,
                                         grads_x_input=times_input)
    return out


def score(scorer, x, pairs, heat, steps: int, forward_batch: int) -> tuple[np.ndarray, np.ndarray]:
    from prpkit import metrics
    xs = np.ascontiguousarray(x[[i for i, _, _, _ in pairs]])
    targets = [(p, h, w) for _, p, h, w in pairs]
    _, dele, _ = metrics.perturbation_curves(scorer, xs, heat, targets, mode="deletion", steps=steps,
                                             baseline="zero", batch_size=forward_batch)
    _, ins, _ = metrics.perturbation_curves(scorer, xs, heat, targets, mode="insertion", steps=steps,
                                            baseline="blur", blur_sigma=5.0, batch_size=forward_batch)
    return dele.astype(np.float64), ins.astype(np.float64)


# ----------------------------------------------------------------------------- report

def summarise(results: dict, pairs, edge: np.ndarray, references: Sequence[str]) -> dict:
    clusters = np.array([i for i, _, _, _ in pairs])
    summary = {}
    for name, r in results.items():
        s = {"deletion": clustered_mean(r["deletion"], clusters), "insertion": clustered_mean(r["insertion"], clusters),
             "border": float(np.mean(r["border"])),
             "border_edge": float(np.mean(r["border"][edge])) if edge.any() else float("nan"),
             "border_interior": float(np.mean(r["border"][~edge])) if (~edge).any() else float("nan")}
        if "energy" in r:
            s["energy"] = clustered_mean(r["energy"], clusters)
            s["mask_relevance"] = clustered_mean(r["mask_relevance"], clusters)
        s["paired"] = {}
        for ref in references:
            if ref in results and ref != name:
                s["paired"][ref] = {
                    "deletion": paired(r["deletion"], results[ref]["deletion"], clusters, lower_is_better=True),
                    "insertion": paired(r["insertion"], results[ref]["insertion"], clusters, lower_is_better=False)}
        summary[name] = s
    return summary


def markdown(summary: dict, n_pairs: int, n_images: int, n_edge: int, references: Sequence[str]) -> str:
    pg = any("energy" in s for s in summary.values())
    lines = [f"{n_pairs} pairs ({n_images} images), {n_edge} at an edge location; mean ± SE clustered by image", "",
             "| method | deletion AUC ↓ | insertion AUC ↑ | border mass: all / edge / interior |"
             + (" pointing: energy / mask relevance |" if pg else ""),
             "|---|---|---|---|" + ("---|" if pg else "")]
    for name, s in summary.items():
        row = (f"| {name} | {s['deletion'][0]:.3f} ± {s['deletion'][1]:.3f} | {s['insertion'][0]:.3f} ± "
               f"{s['insertion'][1]:.3f} | {s['border']:.3f} / {s['border_edge']:.3f} / {s['border_interior']:.3f} |")
        if pg:
            row += (f" {s['energy'][0]:.3f} / {s['mask_relevance'][0]:.3f} |" if "energy" in s else " — |")
        lines.append(row)
    for ref in references:
        rows = [(n, s["paired"][ref]) for n, s in summary.items() if ref in s["paired"]]
        if not rows:
            continue
        lines += ["", f"Paired against {ref} (Δ = method − reference, ± clustered SE; z = Δ/SE; share of pairs better):", "",
                  "| method | Δ deletion | z | better | Δ insertion | z | better |", "|---|---|---|---|---|---|---|"]
        for n, p in rows:
            d, i = p["deletion"], p["insertion"]
            lines.append(f"| {n} | {d['delta']:+.4f} ± {d['se']:.4f} | {d['z']:+.1f} | {100 * d['share_better']:.0f} % "
                         f"| {i['delta']:+.4f} ± {i['se']:.4f} | {i['z']:+.1f} | {100 * i['share_better']:.0f} % |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("images", nargs="*", help="an .npz (images [, masks]) or image files / folders / .npy; "
                                               "default: the bundled held-out digits")
    ap.add_argument("--model", help="prpkit model file (default: the bundled digits ProtoPNet)")
    ap.add_argument("--mean", help="normalisation mean (default: the model's metadata)")
    ap.add_argument("--std", help="normalisation std (default: the model's metadata)")
    ap.add_argument("--masks", help="folder of masks named like the images (pointing game)")
    ap.add_argument("--mask-threshold", type=float, help="mask = display pixels brighter than this "
                                                         "(default 0.5 for the bundled digits: the ink)")
    ap.add_argument("--top-k", type=int, default=3)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--border", type=int, help="border width in pixels (default H/16)")
    ap.add_argument("--split", choices=("all", "tune", "confirm"), default="all",
                    help="all images, the even ones (tune) or the odd ones (confirm)")
    ap.add_argument("--limit", type=int, help="only the first N images (after --split)")
    ap.add_argument("--ablation", action="store_true",
                    help="also the corrected composite with each part's rules set back to CaBRNet's")
    ap.add_argument("--methods", help="subset of the method names to run, separated by ';' (the names hold commas)")
    ap.add_argument("--forward-batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", help="write every per-pair number and the summary here")
    args = ap.parse_args(argv)

    import prpkit
    from prpkit import cli
    from prpkit.prp_utils import get_corrected_lrp_composite_model
    if args.threads:
        prpkit.set_num_threads(args.threads)
    path, model = cli.load_model(args.model)
    meta = cli.load_metadata(path)
    in_shape = tuple(model.inputs[0][1][1:])
    mean = cli.parse_floats(args.mean, "--mean") if args.mean else list(meta.get("mean", cli.IMAGENET_MEAN))
    std = cli.parse_floats(args.std, "--std") if args.std else list(meta.get("std", cli.IMAGENET_STD))
    x, show, masks = load_image_set(args.images or None, in_shape, mean, std, args.masks, args.mask_threshold)
    index = np.arange(len(x))
    if args.split != "all":
        index = index[(index % 2 == 0) if args.split == "tune" else (index % 2 == 1)]
    if args.limit:
        index = index[:args.limit]
    x = np.ascontiguousarray(x[index])
    masks = masks[index] if masks is not None else None
    h, w = in_shape[1:]
    sigma = round(5.0 * max(h, w) / 224.0, 3)
    width = args.border or max(1, round(min(h, w) / 16))

    scorer = get_corrected_lrp_composite_model(model, input_mean=mean, input_std=std)
    pairs = select_pairs(scorer, x, args.top_k)
    hs, ws = scorer.outputs[0][1][2:]
    edge = np.array([hh in (0, hs - 1) or ww in (0, ws - 1) for _, _, hh, ww in pairs])
    chosen = methods(model, mean, std, args.ablation)
    if args.methods:
        keep = {m.strip() for m in args.methods.split(";") if m.strip()}
        unknown = keep - {m[0] for m in chosen}
        if unknown:
            ap.error(f"--methods: unknown {sorted(unknown)}; the methods are {[m[0] for m in chosen]}")
        chosen = [m for m in chosen if m[0] in keep]
    load = os.getloadavg()[0]
    print(f"{path}: {len(x)} images ({args.split}), {len(pairs)} pairs; load average {load:.1f}", file=sys.stderr)
    results: dict[str, dict] = {}
    for name, comp, times_input in chosen:
        t0 = time.perf_counter()
        heat = heatmaps(comp, times_input, x, pairs, sigma)
        dele, ins = score(scorer, x, pairs, heat, args.steps, args.forward_batch)
        r = {"deletion": dele, "insertion": ins, "border": border_mass(heat, width)}
        if masks is not None:
            m = np.ascontiguousarray(masks[[i for i, _, _, _ in pairs]].astype(np.float32))
            energy, maskrel = prpkit.metrics.pointing_game(heat, m, 0.1)
            r["energy"], r["mask_relevance"] = np.asarray(energy, np.float64), np.asarray(maskrel, np.float64)
        results[name] = r
        print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    references = [CABRNET, GRADIENT]
    summary = summarise(results, pairs, edge, references)
    print(markdown(summary, len(pairs), len(x), int(edge.sum()), references))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"command": " ".join(sys.argv), "model": path, "split": args.split, "images": index.tolist(),
                       "pairs": pairs, "edge": edge.tolist(), "border_width": width, "load_average": load,
                       "summary": summary,
                       "per_pair": {n: {k: v.tolist() for k, v in r.items()} for n, r in results.items()}},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
