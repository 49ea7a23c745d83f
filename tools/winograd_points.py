#!/usr/bin/env python3
"""Interpolation points for Winograd F(m, 3): float32 error of candidate point sets.

For each candidate set of m + 1 finite points (plus the point at infinity) this builds
the Toom-Cook matrices Aᵀ (m × α), G (α × 3), Bᵀ (α × α), α = m + 2, in exact rational
arithmetic, checks the 1-D identity y = Aᵀ[(G g) ⊙ (Bᵀ d)] against a direct correlation,
and measures the 2-D algorithm Y = Aᵀ[Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B)]A in float32 against
float64 on random tiles (64 input channels; inputs in [−1, 1) and, as after a ReLU, in
[0, 1)), as max|Y − Y_exact| / max|Y_exact|. prpkit uses the most accurate set per m
whose matrices have a cheap factored form (Sources/_PRPKitKernelsV4/WinogradTransforms.swift):
F(4, 3) with 0, ±3/2, ±2/3 measured ≈ 4× more accurate than the usual 0, ±1, ±2.

    python3 tools/winograd_points.py [--search]   # --search: all 5-point sets from a pool (slow)
"""
from __future__ import annotations

import argparse
import itertools
from fractions import Fraction as F

import numpy as np


def polymul(a, b):
    out = [F(0)] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return out


def toom_cook(points, m, r=3):
    """Exact Aᵀ, G, Bᵀ for F(m, r) with the given finite points and ∞."""
    n = m + r - 1
    pts = [F(p) for p in points]
    assert len(pts) == n - 1, "need m + r - 2 finite points"
    at = [[p ** i for p in pts] + [F(1) if i == m - 1 else F(0)] for i in range(m)]
    g = []
    for k, p in enumerate(pts):
        denom = F(1)
        for q in pts[:k] + pts[k + 1:]:
            denom *= p - q
        g.append([p ** j / denom for j in range(r)])
    g.append([F(0)] * (r - 1) + [F(1)])
    bt = []
    for k in range(len(pts)):
        poly = [F(1)]
        for q in pts[:k] + pts[k + 1:]:
            poly = polymul(poly, [-q, F(1)])
        bt.append(poly + [F(0)] * (n - len(poly)))
    poly = [F(1)]
    for q in pts:
        poly = polymul(poly, [-q, F(1)])
    bt.append(poly)
    return at, g, bt


def as_float(mat):
    return np.array([[float(x) for x in row] for row in mat])


def check_identity(at, g, bt, m, rng):
    d, w = rng.standard_normal(m + 2), rng.standard_normal(3)
    y = at @ ((g @ w) * (bt @ d))
    ref = np.array([d[i:i + 3] @ w for i in range(m)])
    return float(np.abs(y - ref).max())


def error_2d(at, g, bt, m, rng, nonnegative, channels=64, tiles=300, outs=16):
    a = m + 2
    low = 0.0 if nonnegative else -1.0
    d = rng.uniform(low, 1, (tiles, channels, a, a)).astype(np.float32)
    w = rng.uniform(-1, 1, (outs, channels, 3, 3)).astype(np.float32)
    f32 = np.float32
    u = np.einsum("ia,ocab,jb->ocij", g, w.astype(np.float64), g).astype(f32)
    v = np.einsum("ir,tcrs,js->tcij", bt.astype(f32), d, bt.astype(f32)).astype(f32)
    mm = np.einsum("ocij,tcij->toij", u, v).astype(f32)
    y = np.einsum("ri,toij,sj->tors", at.astype(f32), mm, at.astype(f32)).astype(f32)
    ref = np.zeros((tiles, outs, m, m))
    d64, w64 = d.astype(np.float64), w.astype(np.float64)
    for ky in range(3):
        for kx in range(3):
            ref += np.einsum("oc,tcrs->tors", w64[:, :, ky, kx], d64[:, :, ky:ky + m, kx:kx + m])
    return float(np.abs(y - ref).max() / np.abs(ref).max())


CANDIDATES = {
    2: [[0, 1, -1]],
    4: [[0, 1, -1, 2, -2], [0, 1, -1, F(1, 2), -2], [0, F(3, 2), -F(3, 2), F(2, 3), -F(2, 3)],
        [0, F(1, 2), -F(1, 2), F(3, 2), -F(3, 2)]],
    6: [[0, 1, -1, 2, -2, F(1, 2), -F(1, 2)], [0, 1, -1, F(3, 2), -F(3, 2), F(2, 3), -F(2, 3)],
        [0, 1, -1, 2, -2, F(2, 3), -F(2, 3)]],
}
POOL = [F(0), F(1), F(-1), F(2), F(-2), F(1, 2), F(-1, 2), F(3), F(-3), F(1, 3), F(-1, 3),
        F(3, 2), F(-3, 2), F(2, 3), F(-2, 3), F(1, 4), F(-1, 4), F(4), F(-4)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--search", action="store_true", help="rank every 5-point set of the pool for F(4, 3)")
    args = ap.parse_args()
    rng = np.random.default_rng(5)
    sets = {m: list(c) for m, c in CANDIDATES.items()}
    if args.search:
        sets = {4: [list(s) for s in itertools.combinations(POOL, 5)]}
    rows = []
    for m, candidates in sets.items():
        for pts in candidates:
            at, g, bt = map(as_float, toom_cook(pts, m))
            ident = check_identity(at, g, bt, m, rng)
            rows.append((m, error_2d(at, g, bt, m, rng, False), error_2d(at, g, bt, m, rng, True),
                         ident, ", ".join(str(p) for p in pts)))
    rows.sort(key=lambda r: (r[0], r[1]))
    print("| m | error, inputs in [-1, 1) | error, inputs in [0, 1) | 1-D identity | points (and ∞) |")
    print("|---|---|---|---|---|")
    for m, e1, e2, ident, pts in rows[: 40 if args.search else None]:
        print(f"| {m} | {e1:.2e} | {e2:.2e} | {ident:.0e} | {pts} |")


if __name__ == "__main__":
    main()
