"""The argument parser of the `prpkit` command: its subcommands and their options."""

from __future__ import annotations

import argparse

from .convert import cmd_convert
from .evaluate import cmd_evaluate
from .explain import cmd_explain
from .info import cmd_info


def add_prototype_selection(p) -> None:
    """--prototypes | --top-k | --predicted-class (explain and evaluate)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--prototypes", help="comma-separated prototype ids")
    g.add_argument("--top-k", type=int, help="the K most activated prototypes of each image (default: 3)")
    g.add_argument("--predicted-class", action="store_true", help="the prototypes of the predicted class")


def add_run_options(p) -> None:
    """--threads, --quiet, --resume, --no-timings, --ray (explain and evaluate)."""
    p.add_argument("--threads", type=int, default=0,
                   help="native worker threads (default: all cores; with --ray: per actor, default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run with the same inputs and options: images whose records "
                        "and files are complete are kept, the rest computed (without it, a run starts afresh)")
    p.add_argument("--no-timings", action="store_true",
                   help="leave out each record's timings_ms (the only field that differs between two runs)")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="compute on a Ray cluster (pip install 'prpkit[ray]'): ADDRESS as ray.init takes it "
                        "(auto, HOST:PORT, ray://HOST:PORT); without one, RAY_ADDRESS or a new local cluster")
    p.add_argument("--ray-workers", type=int, default=0,
                   help="Ray actors, each loading the model once (default: the cluster's CPUs / --threads)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="prpkit", description="PRP heatmaps for prototype classifiers, natively.")
    ap.add_argument("--version", action="version", version=f"prpkit {package_version()}")
    ap.add_argument("--cflags", action="store_true",
                    help="print the compiler flags for prpkit.h (C code linking the library) and exit")
    ap.add_argument("--libs", action="store_true", help="print the linker flags for libprpkit.so and exit")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")  # required unless --cflags/--libs

    p = sub.add_parser("info", help="a model file's graph, shapes, parameter count and PRP rules")
    p.add_argument("--model", help="prpkit model file (default: the bundled digits ProtoPNet)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("explain", help="PRP heatmaps of prototypes on images",
                       description="Explains each image with the PRP heatmaps of some prototypes; writes "
                                   "<image>_p<id>.png, <image>_p<id>.npy and records.jsonl in --out.")
    p.add_argument("images", nargs="*", metavar="IMAGES",
                   help="image files (PNG/JPEG/...), folders, globs ('data/**/*.png'), list files (.txt: a path "
                        "and optional label per line; .csv: path[,label]) or .npy/.npz tensors ((C,H,W) or "
                        "(N,C,H,W), already normalised; an .npz may hold labels); default: the bundled samples")
    p.add_argument("--model", help="prpkit model file (default: the bundled digits ProtoPNet)")
    p.add_argument("--out", required=True,
                   help="output folder (created; files of the same name are replaced as each image finishes)")
    add_prototype_selection(p)
    p.add_argument("--location", default="max",
                   help="max (the most similar location), H,W (one location), or all (every location with "
                        "similarity ≥ --threshold, summed); default max")
    p.add_argument("--threshold", type=float, default=0.1, help="similarity threshold for --location all")
    p.add_argument("--mean", help="per-channel normalisation mean, comma-separated (default: the model's "
                                  "metadata, else ImageNet's)")
    p.add_argument("--std", help="per-channel normalisation std (default: the model's metadata, else ImageNet's)")
    p.add_argument("--batch-size", type=int, default=16,
                   help="images per forward and PRP call (the numbers do not depend on it; default 16)")
    p.add_argument("--colormap", choices=("jet", "viridis", "bwr", "coldnhot"), default="jet",
                   help="jet (OpenCV's, as CaBRNet), viridis; bwr and coldnhot (zennit's) show the signed "
                        "relevance, 0 in the middle (default jet)")
    p.add_argument("--alpha", type=float, default=0.7,
                   help="overlay opacity at the highest relevance; a pixel's opacity is alpha times its "
                        "normalised relevance, so irrelevant pixels show the image unchanged (default 0.7)")
    p.add_argument("--colorbar", action="store_true", help="add a colour bar to the right of each overlay")
    p.add_argument("--report", action="store_true",
                   help="also write <out>/report/index.html: a sortable table of the records with thumbnails "
                        "linking to the pictures (self-contained, no network)")
    p.add_argument("--panels", action="store_true",
                   help='also write <image>_panel.png: "this looks like that", one row per prototype (the image '
                        "with its heatmap and box, the prototype's source image from the model's projection "
                        "metadata with its own heatmap, the similarity and class)")
    p.add_argument("--scale", type=int, default=0, help="overlay upscaling factor (default: to ~256 px)")
    p.add_argument("--gaussian-sigma", type=float, default=None,
                   help="blur of the heatmap (CaBRNet's gaussian_ksize; default 5 scaled to the input: 5·H/224)")
    add_run_options(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("evaluate", help="relevance metrics: pointing game, deletion / insertion curves",
                       description="Scores the PRP heatmaps (CaBRNet post-processing, normalised, at the input "
                                   "size) of prototypes on images; one JSON line per (image, prototype) in --out. "
                                   "pointing: CaBRNet's energy and mask relevance (needs --masks or "
                                   "--mask-threshold); deletion / insertion: RISE curves and their AUC.")
    p.add_argument("images", nargs="*", metavar="IMAGES",
                   help="image files, folders, globs, list files (.txt, .csv) or .npy/.npz tensors, as for "
                        "explain; default: the bundled samples")
    p.add_argument("--model", help="prpkit model file (default: the bundled digits ProtoPNet)")
    p.add_argument("--metric", required=True, choices=("pointing", "deletion", "insertion"))
    p.add_argument("--out", required=True,
                   help="the JSON-lines file to write (replaced; records are appended as images finish)")
    p.add_argument("--masks", help="folder of masks named like the images (PNG/... or .npy; non-zero = inside)")
    p.add_argument("--mask-threshold", type=float,
                   help="mask = image pixels (channel mean, in [0, 1]) above this value")
    p.add_argument("--area-percentage", type=float, default=0.1,
                   help="CaBRNet's area_percentage for mask relevance, a fraction (default 0.1)")
    p.add_argument("--steps", type=int, default=32, help="deletion/insertion steps (default 32)")
    p.add_argument("--baseline", choices=("zero", "blur"),
                   help="perturbation baseline (default: zero for deletion, blur for insertion); zero = the "
                        "normalisation mean")
    p.add_argument("--blur-sigma", type=float, default=5.0, help="σ of the blur baseline (default 5)")
    p.add_argument("--target", choices=("similarity", "class"), default="similarity",
                   help="curve score: the prototype's similarity at the explained location (default) or the "
                        "predicted class's logit")
    p.add_argument("--softmax", action="store_true", help="score the softmax of the output instead (with --target class)")
    add_prototype_selection(p)
    p.add_argument("--location", default="max", help="max (default) or H,W")
    p.add_argument("--mean", help="per-channel normalisation mean (default: the model's metadata)")
    p.add_argument("--std", help="per-channel normalisation std (default: the model's metadata)")
    p.add_argument("--gaussian-sigma", type=float, default=None,
                   help="heatmap blur (CaBRNet's gaussian_ksize; default 5·H/224)")
    p.add_argument("--batch-size", type=int, default=16, help="images per batch")
    p.add_argument("--forward-batch", type=int, default=64, help="perturbed images per forward pass (default 64)")
    add_run_options(p)
    p.add_argument("--report", action="store_true",
                   help="also write report/index.html beside --out: the records' table, the curves (SVG) with "
                        "their AUCs or the pointing-game scores (self-contained, no network)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("convert", help="a torch / CaBRNet model to a prpkit model file",
                       description="Converts a torch module (--module package.module:attribute, a module or a "
                                   "function returning one) or a CaBRNet model (--cabrnet-config CONFIG.yml "
                                   "[--checkpoint state_dict.pth]) to a prpkit model file; with --mean/--std or a "
                                   "prototype model, also writes the sidecar JSON that explain reads.")
    p.add_argument("--module", help="package.module:attribute (a torch.nn.Module or a callable returning one)")
    p.add_argument("--cabrnet-config", help="CaBRNet model configuration (YAML)")
    p.add_argument("--checkpoint", help="state dict (.pth) to load into the model")
    p.add_argument("--input-shape", required=True, help="C,H,W of one input (e.g. 3,224,224)")
    p.add_argument("--out", required=True, help="the model file to write (.prpkit)")
    p.add_argument("--mean", help="input normalisation mean for the sidecar JSON")
    p.add_argument("--std", help="input normalisation std for the sidecar JSON")
    p.add_argument("--class-names", help="comma-separated class names for the sidecar JSON")
    p.add_argument("--projection-info", help="CaBRNet's projection_info.csv: each prototype's source image index "
                                             "and location, for the sidecar JSON (explain --panels)")
    p.add_argument("--projection-images", help="the ImageFolder root CaBRNet projected on (img_idx counts its images "
                                               "in ImageFolder order): the sidecar then names each source image")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_convert)
    return ap


def package_version() -> str:
    """The installed package's version (the number of prpkit.h, as the library's)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("prpkit")
    except PackageNotFoundError:
        return "unknown (not installed)"
