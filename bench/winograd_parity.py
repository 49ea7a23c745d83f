#!/usr/bin/env python3
"""The parity tests under each convolution algorithm: numerical error of every Winograd
variant on the parity models.

Runs the live parity tests (python/tests: forward vs torch, LRP vs Captum and vs Captum in
float64, the PRP composite vs Captum on CaBRNet's composite, prp() heatmaps vs CaBRNet's
prp()) once per PRPKIT_CONV_ALGORITHM value — auto (the cost model), direct, winograd2,
winograd4, winograd6 — each forced on every convolution Winograd applies to (3×3, stride
1; sign-definite rule weights, α1β0's W⁺ and its flipped kernel, stay direct whatever is
forced). For each group of tests it prints the largest error the tests measured
(max|prpkit − reference| / max|reference|, as each test defines it) and how many cases
failed their tolerance, which is unchanged: a failure under a forced variant means that
variant is not admissible there.

    python3 bench/winograd_parity.py [--variants auto,direct,winograd2,winograd4,winograd6]

Needs the Python package installed (pip install ./python) and torch, Captum, CaBRNet.
Takes ≈5 min per variant on 2 idle cores (one pytest at a time); --groups picks test files.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUPS = {  # label: test file and -k expression (the model-level parity cases)
    "forward vs torch (vgg11_bn, resnet18/50, ProtoPNet-ResNet18)": ("test_forward.py", "torchvision or protopnet"),
    "LRP vs Captum (float32) / vs Captum float64 (VGG11/16-BN, ResNet18/50)": ("test_lrp.py", "vgg or resnet"),
    "PRP composite vs Captum on CaBRNet's composite (VGG11-BN, ResNet18/50 trunks)": ("test_prp_composite.py", "equals_cabrnet"),
    "prp() heatmaps vs CaBRNet prp() (ResNet18 trunk)": ("test_prp.py", "test_prp_equals_cabrnet"),
}
# How the tests report what they measured (stdout or junit properties).
RATIO = re.compile(r"max\|diff\|/max\|ref\| = ([0-9.e+-]+)")
PAIR = re.compile(r"max\|diff\| = ([0-9.e+-]+), max\|ref\| = ([0-9.e+-]+)")
SLASH = re.compile(r"(?:logits|min distances) ([0-9.e+-]+)/([0-9.e+-]+)")
ERR = re.compile(r"\berr ([0-9.e+-]+),")
REL = re.compile(r"\brel=([0-9.e+-]+)")
VS64 = re.compile(r"err\(prpkit vs f64\)=([0-9.e+-]+)")


def measured(text: str) -> tuple[list[float], list[float]]:
    """(errors against the float32 reference, errors against float64) found in `text`."""
    f32 = [float(v) for v in RATIO.findall(text) + ERR.findall(text) + REL.findall(text)]
    f32 += [float(a) / float(b) for a, b in PAIR.findall(text) + SLASH.findall(text) if float(b) > 0]
    return f32, [float(v) for v in VS64.findall(text)]


def run(variant: str, test_file: str, k: str | None) -> dict:
    env = dict(os.environ)
    env.pop("PRPKIT_CONV_ALGORITHM", None)
    if variant != "auto":
        env["PRPKIT_CONV_ALGORITHM"] = variant
    with tempfile.TemporaryDirectory() as tmp:
        xml = os.path.join(tmp, "junit.xml")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}",
               "-o", "junit_logging=system-out", os.path.join("tests", test_file)]
        if k:
            cmd += ["-k", k]
        proc = subprocess.run(cmd, cwd=os.path.join(ROOT, "python"), env=env, capture_output=True, text=True)
        out = {"cases": 0, "failed": [], "f32": [], "f64": []}
        if not os.path.exists(xml):  # pytest itself failed (collection, import, killed)
            out["failed"].append(f"pytest exit {proc.returncode}: {(proc.stdout + proc.stderr)[-300:]!r}")
            return out
        cases = ET.parse(xml).getroot().iter("testcase")
        for case in cases:
            if case.find("skipped") is not None:
                continue
            out["cases"] += 1
            if case.find("failure") is not None or case.find("error") is not None:
                out["failed"].append(case.get("name"))
            text = " ".join(p.get("value", "") for p in case.iter("property"))
            text += " " + " ".join((s.text or "") for s in case.iter("system-out"))
            for el in case.iter("failure"):
                text += " " + (el.get("message") or "")
            f32, f64 = measured(text)
            out["f32"] += f32
            out["f64"] += f64
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default="auto,direct,winograd2,winograd4,winograd6",
                    help="PRPKIT_CONV_ALGORITHM values, comma-separated (auto: the cost model's choice)")
    ap.add_argument("--groups", help="comma-separated test files to run (default: all four)")
    args = ap.parse_args()
    variants = args.variants.split(",")
    if args.groups:
        wanted = args.groups.split(",")
        for label in [l for l, (f, _) in GROUPS.items() if f not in wanted]:
            del GROUPS[label]
    results = {}
    for v in variants:
        for label, (test_file, k) in GROUPS.items():
            r = run(v, test_file, k)
            results[(v, label)] = r
            worst = max(r["f32"], default=float("nan"))
            worst64 = max(r["f64"], default=float("nan"))
            print(f"{v:10s} {test_file:22s} cases {r['cases']:3d} failed {len(r['failed']):2d} "
                  f"max err {worst:.2g} (vs float64 {worst64:.2g}) {' '.join(r['failed'][:4])}", flush=True)
    print("\nmax error measured by the parity tests (failed cases / cases):\n")
    print("| tests | " + " | ".join(variants) + " |")
    print("|---|" + "---|" * len(variants))
    for label in GROUPS:
        cells = []
        for v in variants:
            r = results[(v, label)]
            cell = f"{max(r['f32'], default=float('nan')):.1e}"
            if r["f64"]:
                cell += f" / f64 {max(r['f64']):.1e}"
            cell += f" ({len(r['failed'])}/{r['cases']})"
            cells.append(cell)
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
