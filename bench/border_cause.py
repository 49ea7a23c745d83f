"""Where PRP's relevance in the image border comes from, by intervention (docs/faithfulness.md).

The bundled digits ProtoPNet (VGG11-BN features up to conv 8, add-on, 30 prototypes) is
re-implemented here in float64 PyTorch with CaBRNet's PRP rules written out layer by
layer, so that one rule or one input can be changed at a time. Before any number is
printed, the re-implementation is checked against prpkit's CaBRNet composite on the same
pairs (relative difference ≤ 1e-3; prpkit runs float32 and keeps CaBRNet's reset
BatchNorm, which rescales by (1 + 1e-5)^(-1/2)).

Border share = share of Σ|R| in the outermost 2 rows/columns (raw relevance summed over
channels, no blur: the mechanism, not the displayed heatmap), averaged over the pairs whose
explained location lies on the similarity map's edge ("edge") and the others ("interior").
The outer ring of 2 px is 23.4 % of a 32 × 32 image.

    python3 bench/border_cause.py [--images 120]   # the first N held-out digits × top 3 prototypes
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=120, help="the first N held-out images (default 120)")
    args = ap.parse_args(argv)

    import torch
    import torch.nn.functional as F
    import prpkit
    from prpkit import cli
    from prpkit._safetensors import load_file
    from prpkit.prp_utils import get_cabrnet_lrp_composite_model
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))

    path, model = cli.load_model(None)
    meta = cli.load_metadata(path)
    weights, _ = load_file(path)
    mean = np.asarray(meta["mean"], np.float32)
    std = np.asarray(meta["std"], np.float32)
    gray = np.load(cli.DATA_DIR + "/digits_heldout.npz")["images"][:args.images].astype(np.float32) / 255
    x32 = np.ascontiguousarray((np.repeat(gray[:, None], 3, 1) - mean[:, None, None]) / std[:, None, None])

    def T(k):
        return torch.from_numpy(weights[k].astype(np.float64))

    def fold(conv, bn):  # BatchNorm merged into the conv before it
        k = T(f"extractor.convnet.features.{bn}.weight") / torch.sqrt(T(f"extractor.convnet.features.{bn}.running_var") + 1e-5)
        w = T(f"extractor.convnet.features.{conv}.weight") * k[:, None, None, None]
        b = (T(f"extractor.convnet.features.{conv}.bias") - T(f"extractor.convnet.features.{bn}.running_mean")) * k \
            + T(f"extractor.convnet.features.{bn}.bias")
        return w, b

    convs = [fold(0, 1), fold(4, 5), fold(8, 9)]
    add_on = [(T("extractor.add_on.conv1.weight"), T("extractor.add_on.conv1.bias")),
              (T("extractor.add_on.conv2.weight"), T("extractor.add_on.conv2.bias"))]
    protos = T("classifier.prototypes").reshape(30, -1)
    black = torch.from_numpy(((0 - mean) / std).astype(np.float64))[None, :, None, None]

    def conv0(x, pad_black: bool):
        if pad_black:  # the padding ring takes the background's value: no artificial frame edge
            return F.conv2d(F.pad(x - black, (1, 1, 1, 1)) + black, *convs[0])
        return F.conv2d(x, *convs[0], padding=1)

    def forward(x, pad_black=False):
        a = {"x": x}
        a["r0"] = F.relu(conv0(x, pad_black))
        a["p0"] = F.max_pool2d(a["r0"], 2)
        a["r1"] = F.relu(F.conv2d(a["p0"], *convs[1], padding=1))
        a["p1"] = F.max_pool2d(a["r1"], 2)
        a["r2"] = F.relu(F.conv2d(a["p1"], *convs[2], padding=1))
        a["ra"] = F.relu(F.conv2d(a["r2"], *add_on[0]))
        a["f"] = torch.sigmoid(F.conv2d(a["ra"], *add_on[1]))
        d = ((a["f"][:, None] - protos[None, :, :, None, None]) ** 2).sum(2)
        return torch.log((d + 1) / (d + 1e-4)), a

    def stab(z, eps=1e-6):
        return z + eps * torch.where(z >= 0, 1.0, -1.0)

    def vjp(x, w, s, padding):
        return torch.nn.grad.conv2d_input(x.shape, w, s, padding=padding)

    def alpha1beta0(x, w, R, padding):  # CaBRNet's: bias dropped, x⁺w⁺ + x⁻w⁻
        wp, wm, xp, xm = w.clamp(min=0), w.clamp(max=0), x.clamp(min=0), x.clamp(max=0)
        s = R / stab(F.conv2d(xp, wp, padding=padding) + F.conv2d(xm, wm, padding=padding))
        return xp * vjp(x, wp, s, padding) + xm * vjp(x, wm, s, padding)

    def epsilon(x, w, b, R, padding):  # LRP-ε with the bias in the denominator
        s = R / stab(F.conv2d(x, w, b, padding=padding))
        return x * vjp(x, w, s, padding)

    def first_layer(rule, x, R, bounds):
        w, b = convs[0]
        if rule == "zbeta":
            lo, hi = (torch.ones_like(x) * bounds[0], torch.ones_like(x) * bounds[1])
            wp, wm = w.clamp(min=0), w.clamp(max=0)
            s = R / stab(F.conv2d(x, w, padding=1) - F.conv2d(lo, wp, padding=1) - F.conv2d(hi, wm, padding=1))
            return x * vjp(x, w, s, 1) - lo * vjp(x, wp, s, 1) - hi * vjp(x, wm, s, 1)
        if rule in ("flat", "w2"):
            ww = torch.ones_like(w) if rule == "flat" else w * w
            return vjp(x, ww, R / stab(F.conv2d(torch.ones_like(x), ww, padding=1)), 1)
        if rule == "epsilon":
            return epsilon(x, w, b, R, 1)
        raise ValueError(rule)

    def maxpool_route(x, R):
        _, idx = F.max_pool2d(x, 2, return_indices=True)
        out = torch.zeros_like(x).flatten(2)
        out.scatter_add_(2, idx.flatten(2), R.flatten(2))
        return out.view_as(x)

    cab_bounds = (float(meta["zbeta_lower_bound"]), float(meta["zbeta_upper_bound"]))

    def prp(x, targets, trunk="alpha1beta0", first="zbeta", pad_black=False, stop_at_conv0=False, sim_rule="cabrnet"):
        sim, a = forward(x, pad_black)
        n = len(targets)
        rows = torch.arange(n)
        ps, hs, ws = (torch.tensor([t[k] for t in targets]) for k in range(3))
        f = a["f"][rows, :, hs, ws]
        if sim_rule == "cabrnet":  # 1/((f_c − p_c)² + ε), whatever f_c's size
            g = 1 / ((f - protos[ps]) ** 2 + 1e-12)
            g = g / (g.sum(1, keepdim=True) + 1e-12)
        else:  # by contribution, f_c·(f_c − p_c) (gradient × input of the distance, up to a factor)
            g = f * (f - protos[ps])
            g = g / stab(g.sum(1, keepdim=True))
        R = torch.zeros_like(a["f"])
        R[rows, :, hs, ws] = g * sim[rows, ps, hs, ws][:, None]

        def rule(inp, w, b, R, padding):
            return alpha1beta0(inp, w, R, padding) if trunk == "alpha1beta0" else epsilon(inp, w, b, R, padding)
        R = rule(a["ra"], *add_on[1], R, 0)
        R = rule(a["r2"], *add_on[0], R, 0)
        R = rule(a["p1"], *convs[2], R, 1)
        R = maxpool_route(a["r1"], R)
        R = rule(a["p0"], *convs[1], R, 1)
        R = maxpool_route(a["r0"], R)
        if stop_at_conv0:
            return R
        if pad_black:
            raise ValueError("the first-layer rules here assume zero padding")
        return first_layer(first, x, R, cab_bounds)

    def gradient_x_activation(x, targets, at="x"):
        x = x.clone().requires_grad_(True)
        sim, a = forward(x)
        a["r0"].retain_grad()
        torch.stack([sim[i, p, h, w] for i, (p, h, w) in enumerate(targets)]).sum().backward()
        return (a[at] * a[at].grad if at != "x" else x * x.grad).detach()

    # pairs: each image's 3 most similar prototypes at their maximum
    with torch.no_grad():
        sim, _ = forward(torch.from_numpy(x32.astype(np.float64)))
    sim = sim.numpy()
    pairs = []
    for i in range(len(x32)):
        flat = sim[i].reshape(30, -1)
        for p in np.argsort(-flat.max(1), kind="stable")[:3]:
            loc = int(np.argmax(flat[p]))
            pairs.append((i, int(p), loc // 8, loc % 8))
    x = torch.from_numpy(x32[[i for i, *_ in pairs]].astype(np.float64))
    targets = [t[1:] for t in pairs]
    edge = np.array([h in (0, 7) or w in (0, 7) for _, _, h, w in pairs])

    # the re-implementation against prpkit's CaBRNet composite (the first 12 pairs)
    cab = get_cabrnet_lrp_composite_model(model, zbeta_lower_bound=cab_bounds[0], zbeta_upper_bound=cab_bounds[1])
    ref = prp(x[:12], targets[:12]).numpy()
    worst = 0.0
    for k, (i, p, h, w) in enumerate(pairs[:12]):
        got = prpkit.prp_relevance(cab, x32[i:i + 1], [p], (h, w))[0][0, 0]
        worst = max(worst, float(np.abs(got - ref[k]).max() / np.abs(ref[k]).max()))
    print(f"{len(pairs)} pairs ({len(x32)} images), {int(edge.sum())} at an edge location; "
          f"re-implementation vs prpkit CaBRNet composite: max rel. diff {worst:.1e}")
    if worst > 1e-3:
        print("the re-implementation does not match prpkit's CaBRNet composite", file=sys.stderr)
        return 1

    ring = np.zeros((32, 32), bool)
    ring[:2] = ring[-2:] = True
    ring[:, :2] = ring[:, -2:] = True

    def share(R, pick=None):
        v = np.abs(R.numpy()).sum(1)
        m = v[:, ring].sum(1) / np.maximum(v.reshape(len(v), -1).sum(1), 1e-300)
        e = edge if pick is None else pick
        return f"{m[e].mean():.3f} / {m[~e].mean():.3f}"

    def batched(fn, *a, **k):
        return torch.cat([fn(x[s:s + 96], targets[s:s + 96], *a, **k) for s in range(0, len(targets), 96)])

    rows = []
    rows.append(("input: CaBRNet PRP (z^B first, α1β0 trunk)", share(batched(prp))))
    rows.append(("input: gradient × input", share(batched(gradient_x_activation))))
    rows.append(("conv0 output: CaBRNet trunk (α1β0), before the first-layer rule", share(batched(prp, stop_at_conv0=True))))
    rows.append(("conv0 output: gradient × activation", share(batched(gradient_x_activation, at="r0"))))
    rows.append(("conv0 output: trunk LRP-ε with bias", share(batched(prp, trunk="epsilon", stop_at_conv0=True))))
    rows.append(("conv0 output: α1β0 trunk, similarity rule by contribution",
                 share(batched(prp, sim_rule="contribution", stop_at_conv0=True))))
    for first in ("flat", "w2", "epsilon"):
        rows.append((f"input: α1β0 trunk, first layer {first} instead of z^B", share(batched(prp, first=first))))
    rows.append(("input: trunk LRP-ε with bias, z^B first", share(batched(prp, trunk="epsilon"))))
    rows.append(("input: trunk LRP-ε with bias, first layer LRP-ε with bias", share(batched(prp, trunk="epsilon", first="epsilon"))))
    rows.append(("input: LRP-ε with bias everywhere, similarity rule by contribution",
                 share(batched(prp, trunk="epsilon", first="epsilon", sim_rule="contribution"))))

    # the frame: zero padding is mid-grey (the normalisation mean) next to a black background
    with torch.no_grad():
        _, a = forward(x[::3])
        r0 = a["r0"].numpy()
        bg = (x[::3].numpy() == black.numpy()).all(1)  # black pixels
        bg_inner = bg.copy()  # black pixels whose 3 × 3 neighbourhood is black too
        bg_inner[:, 1:-1, 1:-1] &= bg[:, :-2, 1:-1] & bg[:, 2:, 1:-1] & bg[:, 1:-1, :-2] & bg[:, 1:-1, 2:]
        outer = np.zeros((32, 32), bool)
        outer[0] = outer[-1] = True
        outer[:, 0] = outer[:, -1] = True
        act = r0.sum(1)
        frame = act[bg & outer[None]].mean()
        inner = act[bg_inner & ~outer[None]].mean()
        ink = act[~bg].mean()
    print(f"conv0 activation Σ_c relu(z) on black pixels: outermost row/column {frame:.2f}, "
          f"black interior {inner:.2f}, non-black {ink:.2f}")
    # counterfactual: pad with black (the model sees no frame); locations re-chosen
    with torch.no_grad():
        sim_b, _ = forward(x, pad_black=True)
    targets_b = []
    for k, (p, _, _) in enumerate(targets):
        loc = int(torch.argmax(sim_b[k, p]))
        targets_b.append((p, loc // 8, loc % 8))
    edge_b = np.array([h in (0, 7) or w in (0, 7) for _, h, w in targets_b])
    R_b = torch.cat([prp(x[s:s + 96], targets_b[s:s + 96], pad_black=True, stop_at_conv0=True)
                     for s in range(0, len(targets), 96)])
    s0 = np.array([sim[i, p, h, w] for i, p, h, w in pairs])
    s1 = np.array([float(sim_b[k, p, h, w]) for k, (_, p, h, w) in enumerate(pairs)])
    change = float(np.median(np.abs(s1 - s0) / np.abs(s0)))
    rows.append((f"conv0 output: CaBRNet trunk, input padded with black (explained similarity changes by "
                 f"{change:.0%}, median)",
                 share(R_b, edge_b)))

    # z^B's bound terms: the share of the input relevance on black pixels
    R = batched(prp).numpy()
    blk = (x.numpy() == black.numpy()).all(1)
    v = np.abs(R).sum(1)
    on_black = (v * blk).reshape(len(v), -1).sum(1) / v.reshape(len(v), -1).sum(1)
    g = np.abs(batched(gradient_x_activation).numpy()).sum(1)
    on_black_g = (g * blk).reshape(len(g), -1).sum(1) / g.reshape(len(g), -1).sum(1)
    print(f"share of |R| on black pixels (x = its lower bound): CaBRNet PRP {on_black.mean():.3f}, "
          f"gradient × input {on_black_g.mean():.3f}; black pixels are {blk.mean():.3f} of the image")

    print("\n| relevance | border share: edge / interior |\n|---|---|")
    for name, s in rows:
        print(f"| {name} | {s} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
