"""The ``prpkit`` command line (also ``python -m prpkit``).

    prpkit info [--model M] [--json]
    prpkit convert (--module pkg.mod:attr | --cabrnet-config CFG.yml [--checkpoint W.pth])
                   --input-shape C,H,W --out M.prpkit [--mean ... --std ... --class-names ...]
    prpkit evaluate [--model M] IMAGES... --metric pointing|deletion|insertion --out R.jsonl
                    [--masks DIR | --mask-threshold T] [--area-percentage A]
                    [--steps S] [--baseline zero|blur] [--target similarity|class]
    prpkit explain [--model M] IMAGES... --out DIR
                   [--prototypes 0,3,7 | --top-k K | --predicted-class]
                   [--location max | H,W | all] [--threshold T]
                   [--mean R,G,B --std R,G,B] [--batch-size B] [--colormap jet|viridis]

Without ``--model`` the bundled default is used: a CaBRNet ProtoPNet trained on
scikit-learn's digits (``prpkit/data/digits_protopnet.prpkit``, its sample images in
``prpkit/data/samples``; see tools/train_bundled_model.py). A model's sidecar JSON
(same path, ``.json`` instead of ``.prpkit``) supplies its input normalisation, class
names and prototype → class map.

``explain`` writes, per (image, prototype): ``<image>_p<id>.png`` (heatmap overlay),
``<image>_p<id>.npy`` (raw PRP relevance, (C, H, W) float32, before post-processing)
and one JSON line in ``records.jsonl``. Reading pictures and writing the overlays need
Pillow (``pip install 'prpkit[images]'``); without it, ``.npy`` inputs still give the
relevance files and the records (``"heatmap": null``), with a note on stderr. All inputs are validated before anything is
written, and the files are staged in a temporary folder that is moved into place only
when every explanation succeeded. Errors print one line ``prpkit: error: ...`` and exit
with status 2 (bad arguments or inputs) or 1 (failure while computing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Sequence

import numpy as np

__all__ = ["main"]

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
BUNDLED_MODEL = os.path.join(DATA_DIR, "digits_protopnet.prpkit")
BUNDLED_SAMPLES = os.path.join(DATA_DIR, "samples")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
LIST_EXTENSIONS = (".txt", ".lst")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PILLOW_HINT = "pip install 'prpkit[images]'"


class CLIError(Exception):
    """A user-facing error: one line, exit status ``status``."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def unwritable(out: str, e: OSError) -> CLIError:
    """``--out`` cannot be written: one line naming the user's path and the system's
    reason (never the internal temporary file or folder the results are staged in)."""
    return CLIError(f"{out}: cannot write the results there ({e.strerror or e})")


# ----------------------------------------------------------------------------- model + metadata

def metadata_path(model_path: str) -> str:
    root, _ = os.path.splitext(model_path)
    return root + ".json"


def load_metadata(model_path: str) -> dict:
    path = metadata_path(model_path)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise CLIError(f"{path}: unreadable model metadata ({e})") from None
    if not isinstance(meta, dict):
        raise CLIError(f"{path}: model metadata is not a JSON object")
    return meta


def load_model(path: str | None):
    import prpkit
    path = path or BUNDLED_MODEL
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such model file")
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a directory, not a model file")
    try:
        return path, prpkit.load(path)
    except prpkit.PRPKitError as e:
        raise CLIError(f"{path}: cannot load the model ({e})") from None


def parameter_shapes(model_path: str) -> dict[str, list[int]]:
    """{tensor name: shape} from the model file's safetensors header (no data read)."""
    import struct
    with open(model_path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
    return {k: list(v["shape"]) for k, v in header.items() if k != "__metadata__"}


def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    num = size + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


def infer_shapes(nodes: list[dict], inputs: list, params: dict[str, list[int]]) -> dict[str, list[int] | None]:
    """Each node's output shape for the declared input shapes (None where not inferred)."""
    shapes: dict[str, list[int] | None] = {name: list(shape) for name, shape in inputs}
    same = {"relu", "sigmoid", "tanh", "dropout", "identity", "batch_norm2d", "log_similarity", "add"}
    for node in nodes:
        op, attrs, ins = node["op"], node.get("attributes", {}), [shapes.get(i) for i in node["inputs"]]
        x = ins[0] if ins else None
        out = None
        try:
            if x is None:
                out = None
            elif op in same:
                out = list(x)
            elif op == "conv2d":
                w = params[node["parameters"]["weight"]]
                hw = [(x[2 + i] + 2 * attrs["padding"][i] - attrs["dilation"][i] * (w[2 + i] - 1) - 1)
                      // attrs["stride"][i] + 1 for i in range(2)]
                out = [x[0], w[0]] + hw
            elif op in ("max_pool2d", "avg_pool2d"):
                k, s, p = attrs["kernel"], attrs["stride"], attrs["padding"]
                d = attrs.get("dilation", [1, 1])
                out = x[:2] + [_pool_out(x[2 + i], k[i], s[i], p[i], d[i], attrs.get("ceil_mode", False))
                               for i in range(2)]
            elif op == "adaptive_avg_pool2d":
                out = x[:2] + list(attrs["output_size"])
            elif op == "linear":
                out = [x[0], params[node["parameters"]["weight"]][0]]
            elif op == "l2_distance":
                out = [x[0], params[node["parameters"]["prototypes"]][0]] + x[2:]
            elif op == "spatial_min":
                out = x[:2]
            elif op == "flatten" or op == "reshape":
                out = [x[0], int(np.prod(x[1:]))] if op == "flatten" else None
        except (KeyError, IndexError, TypeError):
            out = None
        shapes[node["name"]] = out
    return shapes


def prototype_classes(model, model_path: str, meta: dict) -> list[int] | None:
    """Prototype → class: from the metadata, else the argmax of the last layer's weights."""
    pc = meta.get("prototype_class")
    if isinstance(pc, list) and all(isinstance(v, int) for v in pc):
        return pc
    try:
        by_name = {n["name"]: n for n in model.nodes}
        for node in reversed(model.nodes):
            if node["op"] == "linear" and by_name.get(node["inputs"][0], {}).get("op") == "log_similarity":
                from . import _safetensors
                tensors, _ = _safetensors.load_file(model_path)
                return [int(c) for c in tensors[node["parameters"]["weight"]].argmax(0)]
    except Exception:
        return None
    return None


def build_composite(model, lower: float, upper: float):
    from .prp_utils import get_cabrnet_lrp_composite_model
    import prpkit
    try:
        comp = get_cabrnet_lrp_composite_model(model, zbeta_lower_bound=lower, zbeta_upper_bound=upper)
    except prpkit.PRPKitError as e:
        raise CLIError(f"cannot build the PRP composite of this model ({e})") from None
    outs = comp.outputs
    if len(outs) != 1 or len(outs[0][1]) != 4 or not any(n["op"] == "l2_distance" for n in model.nodes):
        raise CLIError("the model has no prototype similarity layer (l2_distance); explain needs a prototype model")
    return comp


# ----------------------------------------------------------------------------- info

def cmd_info(args) -> int:
    path, model = load_model(args.model)
    meta = load_metadata(path)
    params = parameter_shapes(path)
    nodes = model.nodes
    shapes = infer_shapes(nodes, model.inputs, params)
    try:
        comp = get_info_composite(model, meta)
        rules = comp.rules if comp is not None else {}
    except CLIError:
        rules, comp = {}, None
    n_params = int(sum(int(np.prod(s)) for s in params.values()))
    rows = []
    for node in nodes:
        own = [params[t] for t in node.get("parameters", {}).values() if t in params]
        rule = rules.get(node["name"])
        rows.append({"name": node["name"], "op": node["op"], "inputs": node["inputs"],
                     "output_shape": shapes.get(node["name"]),
                     "parameters": int(sum(int(np.prod(s)) for s in own)),
                     "prp_rule": (rule or {}).get("rule") if node["name"] in rules else None,
                     "prp_rule_options": {k: v for k, v in (rule or {}).items() if k != "rule"}})
    extra = [{"name": k, "rule": (v or {}).get("rule")} for k, v in rules.items()
             if k not in {n["name"] for n in nodes}]
    info = {"model": os.path.abspath(path), "file_bytes": os.path.getsize(path),
            "inputs": [[n, list(s)] for n, s in model.inputs],
            "outputs": [[n, list(s)] for n, s in model.outputs],
            "parameter_count": n_params, "nodes": rows,
            "prp_composite_outputs": [[n, list(s)] for n, s in comp.outputs] if comp is not None else None,
            "prp_composite_extra_nodes": extra}
    if meta:
        info["metadata"] = {k: meta[k] for k in ("description", "mean", "std", "class_names", "prototype_class",
                                                  "stated_test_accuracy", "test_accuracy") if k in meta}
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"model       {info['model']} ({info['file_bytes'] / 1e6:.2f} MB)")
    if meta.get("description"):
        print(f"            {meta['description']}")
    print("inputs      " + ", ".join(f"{n} {tuple(s)}" for n, s in model.inputs))
    print("outputs     " + ", ".join(f"{n} {tuple(s)}" for n, s in model.outputs))
    if comp is not None:
        print("PRP output  " + ", ".join(f"{n} {tuple(s)}" for n, s in comp.outputs) + " (similarity maps)")
    print(f"parameters  {n_params:,} (stored tensors, incl. BatchNorm statistics)")
    if "stated_test_accuracy" in meta:
        print(f"accuracy    {meta['stated_test_accuracy']} (held-out split, stated)")
    w_name = max([len(r["name"]) for r in rows] + [4])
    w_op = max([len(r["op"]) for r in rows] + [2])
    print()
    print(f"{'node':<{w_name}}  {'op':<{w_op}}  {'output shape':<18}  {'params':>9}  PRP rule")
    for r in rows:
        shape = "?" if r["output_shape"] is None else str(tuple(r["output_shape"]))
        rule = r["prp_rule"] or ("(not in composite)" if comp is not None and r["name"] not in rules
                                 else "backward (VJP)")
        opts = ", ".join(f"{k}={v}" for k, v in r["prp_rule_options"].items())
        print(f"{r['name']:<{w_name}}  {r['op']:<{w_op}}  {shape:<18}  {r['parameters']:>9,}  {rule}"
              + (f" ({opts})" if opts else ""))
    for e in extra:
        print(f"{e['name']:<{w_name}}  {'(composite)':<{w_op}}  {'':<18}  {'':>9}  {e['rule']}")
    return 0


def get_info_composite(model, meta: dict):
    if not any(n["op"] == "l2_distance" for n in model.nodes):
        return None
    lower, upper = zbeta_bounds(meta.get("mean", IMAGENET_MEAN), meta.get("std", IMAGENET_STD))
    return build_composite(model, lower, upper)


# ----------------------------------------------------------------------------- inputs

def zbeta_bounds(mean: Sequence[float], std: Sequence[float]) -> tuple[float, float]:
    """The admissible input range for z^B: pixels in [0, 1], normalised (CaBRNet's convention:
    the minimum lower and maximum upper bound over channels)."""
    return (min(-m / s for m, s in zip(mean, std)), max((1 - m) / s for m, s in zip(mean, std)))


def parse_floats(text: str, what: str) -> list[float]:
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise CLIError(f"{what}: expected comma-separated numbers, got {text!r}") from None
    if not vals:
        raise CLIError(f"{what}: expected comma-separated numbers, got {text!r}")
    return vals


class Item:
    """One input image: a picture file, or one entry of a .npy file."""

    __slots__ = ("path", "index", "name")

    def __init__(self, path: str, index: int | None, name: str) -> None:
        self.path, self.index, self.name = path, index, name

    @property
    def label(self) -> str:
        return self.path if self.index is None else f"{self.path}[{self.index}]"


def expand_inputs(specs: Sequence[str]) -> list[tuple[str, str]]:
    """(path, kind) for every argument: files, folders (their images and .npy files, sorted,
    not recursive) and list files (.txt/.lst: one path per line, relative to the list)."""
    out: list[tuple[str, str]] = []
    for spec in specs:
        if not os.path.exists(spec):
            raise CLIError(f"{spec}: no such file or directory")
        if os.path.isdir(spec):
            found = sorted(f for f in os.listdir(spec)
                           if f.lower().endswith(IMAGE_EXTENSIONS + (".npy",)) and not f.startswith("."))
            if not found:
                raise CLIError(f"{spec}: the folder holds no images ({', '.join(IMAGE_EXTENSIONS)}) or .npy files")
            out += [(os.path.join(spec, f), "npy" if f.lower().endswith(".npy") else "image") for f in found]
        elif spec.lower().endswith(".npy"):
            out.append((spec, "npy"))
        elif spec.lower().endswith(LIST_EXTENSIONS):
            base = os.path.dirname(spec)
            try:
                with open(spec, encoding="utf-8") as f:
                    lines = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
            except (OSError, UnicodeDecodeError) as e:
                raise CLIError(f"{spec}: unreadable list file ({e})") from None
            if not lines:
                raise CLIError(f"{spec}: the list file is empty")
            out += expand_inputs([ln if os.path.isabs(ln) else os.path.join(base, ln) for ln in lines])
        else:
            out.append((spec, "image"))
    return out


def _load_npy(path: str) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - numpy raises several types
        raise CLIError(f"{path}: unreadable .npy file ({type(e).__name__}: {e})") from None
    if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.floating):
        raise CLIError(f"{path}: expected a floating-point array, got dtype {getattr(a, 'dtype', type(a))}")
    return a


def collect_items(specs: Sequence[str], in_shape: Sequence[int]) -> list[Item]:
    """Every input, validated (readable, right shape) before anything is computed."""
    c, h, w = in_shape
    items: list[Item] = []
    for path, kind in expand_inputs(specs):
        stem = os.path.splitext(os.path.basename(path))[0]
        if kind == "npy":
            a = _load_npy(path)
            single = a.ndim == 3
            if single:
                a = a[None]
            if a.ndim != 4 or tuple(a.shape[1:]) != (c, h, w):
                raise CLIError(f"{path}: shape {tuple(a.shape)} does not match the model input "
                               f"(C, H, W) = {(c, h, w)} or (N, C, H, W)")
            if not np.all(np.isfinite(a)):
                raise CLIError(f"{path}: contains NaN or infinite values")
            items += [Item(path, i, stem if single else f"{stem}_{i}") for i in range(a.shape[0])]
        else:
            read_image(path, c, h, w)  # validates
            items.append(Item(path, None, stem))
    # unique output names (the same stem in two folders)
    seen: dict[str, int] = {}
    for it in items:
        n = seen.get(it.name, 0)
        seen[it.name] = n + 1
        if n:
            it.name = f"{it.name}_{n + 1}"
    return items


def read_image(path: str, c: int, h: int, w: int) -> tuple[np.ndarray, bool]:
    """A picture as float32 (C, H, W) in [0, 1], resized (bilinear) to the model input if
    needed; returns (pixels, resized)."""
    try:
        from PIL import Image
    except ImportError:
        raise CLIError(f"{path}: reading PNG/JPEG/... images needs Pillow ({PILLOW_HINT}); .npy inputs do not") from None
    if c not in (1, 3):
        raise CLIError(f"{path}: the model takes {c} channels; give .npy inputs")
    try:
        with Image.open(path) as im:
            im = im.convert("RGB" if c == 3 else "L")
            resized = im.size != (w, h)
            if resized:
                im = im.resize((w, h), Image.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise CLIError(f"{path}: unreadable image ({e})") from None
    a = a.astype(np.float32) / 255.0
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return np.ascontiguousarray(a), resized


def load_batch(items: Sequence[Item], in_shape, mean: np.ndarray, std: np.ndarray):
    """(x normalised (N, C, H, W) float32, display pixels (N, H, W, 3) in [0, 1], resized flags)."""
    c, h, w = in_shape
    xs, shows, resized = [], [], []
    cache: dict[str, np.ndarray] = {}
    for it in items:
        if it.index is None:
            pix, rs = read_image(it.path, c, h, w)
            xs.append((pix - mean) / std)
            shows.append(pix)
            resized.append(rs)
        else:
            if it.path not in cache:
                a = _load_npy(it.path)
                cache[it.path] = a[None] if a.ndim == 3 else a
            x = cache[it.path][it.index].astype(np.float32)
            xs.append(x)
            shows.append(np.clip(x * std + mean, 0.0, 1.0))
            resized.append(False)
    x = np.ascontiguousarray(np.stack(xs).astype(np.float32))
    show = np.stack(shows)
    show = np.repeat(show, 3, axis=1) if show.shape[1] == 1 else show[:, :3]
    return x, show.transpose(0, 2, 3, 1), resized


# ----------------------------------------------------------------------------- colour maps + PNG

_VIRIDIS = np.array([  # matplotlib's viridis at 0, 1/8, ..., 1 (piecewise-linear in between)
    [0.267004, 0.004874, 0.329415], [0.282623, 0.140926, 0.457517], [0.253935, 0.265254, 0.529983],
    [0.206756, 0.371758, 0.553117], [0.163625, 0.471133, 0.558148], [0.127568, 0.566949, 0.550556],
    [0.134692, 0.658636, 0.517649], [0.266941, 0.748751, 0.440573], [0.993248, 0.906157, 0.143936]])


def colormap(v: np.ndarray, name: str) -> np.ndarray:
    """Values in [0, 1] (H, W) → RGB in [0, 1] (H, W, 3)."""
    v = np.clip(np.nan_to_num(v.astype(np.float64)), 0.0, 1.0)
    if name == "jet":  # the classic jet (as OpenCV's COLORMAP_JET / CaBRNet's heatmaps)
        return np.stack([np.clip(1.5 - np.abs(4 * v - 3), 0, 1), np.clip(1.5 - np.abs(4 * v - 2), 0, 1),
                         np.clip(1.5 - np.abs(4 * v - 1), 0, 1)], axis=-1)
    if name == "viridis":
        t = v * (len(_VIRIDIS) - 1)
        i = np.minimum(t.astype(np.int64), len(_VIRIDIS) - 2)
        f = (t - i)[..., None]
        return _VIRIDIS[i] * (1 - f) + _VIRIDIS[i + 1] * f
    raise ValueError(name)


def have_pillow() -> bool:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def overlay_png(path: str, image: np.ndarray, heat: np.ndarray, cmap: str, alpha: float) -> None:
    """Writes image (h, w, 3) in [0, 1], upscaled (nearest) to heat's size, blended with the
    coloured heatmap (H, W) in [0, 1]: (1 − alpha)·image + alpha·colour."""
    from PIL import Image
    H, W = heat.shape
    img = np.asarray(Image.fromarray(np.rint(image * 255).astype(np.uint8)).resize((W, H), Image.NEAREST),
                     dtype=np.float64) / 255.0
    out = (1 - alpha) * img + alpha * colormap(heat, cmap)
    Image.fromarray(np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)).save(path, optimize=False)


class _Size:
    __slots__ = ("width", "height")

    def __init__(self, w: int, h: int) -> None:
        self.width, self.height = w, h


# ----------------------------------------------------------------------------- explain

def parse_location(text: str):
    if text == "max":
        return "max", "max"
    if text == "all":
        return None, "all"
    parts = text.split(",")
    try:
        h, w = (int(p) for p in parts)
    except ValueError:
        raise CLIError(f"--location: expected max, all or H,W (e.g. 3,4), got {text!r}") from None
    return (h, w), "at"


def progress(done: int, total: int, enabled: bool, t0: float, label: str = "explain") -> None:
    if not enabled:
        return
    width = 30
    fill = int(width * done / max(total, 1))
    sys.stderr.write(f"\r{label} [{'#' * fill}{'.' * (width - fill)}] {done}/{total} images "
                     f"{time.perf_counter() - t0:.1f}s")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def check_selection(args) -> None:
    """Options shared by explain and evaluate: threads, prototype selection, batch size."""
    import prpkit
    if args.threads:
        prpkit.set_num_threads(args.threads)
    selectors = [args.prototypes is not None, args.top_k is not None, args.predicted_class]
    if sum(selectors) > 1:
        raise CLIError("choose one of --prototypes, --top-k, --predicted-class")
    if not any(selectors):
        args.top_k = 3
    if args.top_k is not None and args.top_k < 1:
        raise CLIError(f"--top-k must be ≥ 1, got {args.top_k}")
    if args.batch_size < 1:
        raise CLIError(f"--batch-size must be ≥ 1, got {args.batch_size}")


def load_run(args, command: str, location, loc_mode):
    """What explain and evaluate share: the model and its metadata, the input
    normalisation, the PRP composite, the explicit prototype ids (validated)."""
    path, model = load_model(args.model)
    meta = load_metadata(path)
    if len(model.inputs) != 1 or len(model.inputs[0][1]) != 4:
        raise CLIError(f"{path}: {command} needs a model with one image input (N, C, H, W), "
                       f"it has {model.inputs}")
    in_shape = tuple(model.inputs[0][1][1:])
    c = in_shape[0]
    mean = parse_floats(args.mean, "--mean") if args.mean else list(meta.get("mean", IMAGENET_MEAN))
    std = parse_floats(args.std, "--std") if args.std else list(meta.get("std", IMAGENET_STD))
    for what, v in (("--mean", mean), ("--std", std)):
        if len(v) == 1:
            v *= c
        if len(v) != c:
            raise CLIError(f"{what}: {len(v)} values for a {c}-channel model")
    if any(s <= 0 for s in std):
        raise CLIError("--std: values must be > 0")
    lower, upper = zbeta_bounds(mean, std)
    comp = build_composite(model, lower, upper)
    n_protos, sh, sw = comp.outputs[0][1][1:]
    ids: list[int] = []
    if args.prototypes is not None:
        try:
            ids = [int(v) for v in args.prototypes.split(",") if v.strip() != ""]
        except ValueError:
            raise CLIError(f"--prototypes: expected comma-separated ids, got {args.prototypes!r}") from None
        bad = [i for i in ids if not 0 <= i < n_protos]
        if not ids or bad:
            raise CLIError(f"--prototypes: ids must be in 0..{n_protos - 1}, got {args.prototypes!r}")
    if loc_mode == "at" and not (0 <= location[0] < sh and 0 <= location[1] < sw):
        raise CLIError(f"--location {args.location}: outside the {sh}×{sw} similarity map")
    return path, model, meta, in_shape, mean, std, comp, ids, n_protos, sh, sw


def group_by_prototypes(args, ids, max_sim, proto_class, predicted, n_protos) -> dict:
    """The prototypes to explain for each image of a batch (explicit ids, top-k by
    similarity — stable: ties keep the lower id — or the predicted class's), grouped so
    that images sharing a selection run as one batched PRP call: {prototypes: [rows]}."""
    groups: dict[tuple, list[int]] = {}
    for i in range(len(max_sim)):
        if args.prototypes is not None:
            ps = tuple(ids)
        elif args.top_k is not None:
            order = np.argsort(-max_sim[i], kind="stable")[:min(args.top_k, n_protos)]
            ps = tuple(int(p) for p in order)
        else:
            ps = tuple(p for p, cl in enumerate(proto_class) if cl == int(predicted[i]))
        groups.setdefault(ps, []).append(i)
    return groups


def cmd_explain(args) -> int:
    import prpkit
    check_selection(args)
    location, loc_mode = parse_location(args.location)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CLIError(f"{args.out}: exists and is not a directory")

    path, model, meta, in_shape, mean, std, comp, ids, n_protos, sh, sw = load_run(args, "explain", location, loc_mode)
    proto_class = prototype_classes(model, path, meta)
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
            logits = np.asarray(model(x)[0] if len(model.outputs) > 1 else model(x))
            sim_maps = np.asarray(comp(x))
            t_forward = time.perf_counter() - t0
            predicted = logits.argmax(1) if logits.ndim == 2 else np.full(len(batch), -1)
            max_sim = sim_maps.reshape(len(batch), n_protos, -1).max(2)
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
                        heat = prpkit.post_process(relevance, img=_Size(in_shape[2] * scale, in_shape[1] * scale),
                                                   polarity="absolute", gaussian_ksize=sigma, normalize=True)
                        base = f"{it.name}_p{p:03d}"
                        if overlays:
                            overlay_png(os.path.join(stage, base + ".png"), show[i], heat, args.colormap, args.alpha)
                        np.save(os.path.join(stage, base + ".npy"), relevance)
                        t_write = time.perf_counter() - t0
                        rec = {
                            "image": it.path, "index": it.index, "resized": bool(resized[i]),
                            "prototype": int(p),
                            "prototype_class": None if proto_class is None else int(proto_class[p]),
                            "predicted_class": int(predicted[i]),
                            "predicted_label": (class_names[int(predicted[i])]
                                                if class_names and 0 <= predicted[i] < len(class_names) else None),
                            "location_mode": loc_mode, "locations": locs,
                            "similarity": score, "max_similarity": float(max_sim[i, p]),
                            "relevance_sum": rel_sum, "conservation_delta": score - rel_sum,
                            "heatmap": base + ".png" if overlays else None, "relevance": base + ".npy",
                            "relevance_shape": list(relevance.shape),
                            "timings_ms": {"load": round(1000 * t_load / len(batch), 3),
                                           "forward": round(1000 * t_forward / len(batch), 3),
                                           "prp": round(per_prp, 3), "write": round(1000 * t_write, 3)},
                        }
                        records.write(json.dumps(rec) + "\n")
                        n_records += 1
            progress(min(b0 + args.batch_size, len(items)), len(items), show_progress, t_start)
        records.close()
        # everything succeeded: move the files into place
        os.makedirs(args.out, exist_ok=True)
        for f in sorted(os.listdir(stage)):
            os.replace(os.path.join(stage, f), os.path.join(args.out, f))
    except BaseException as e:
        shutil.rmtree(stage, ignore_errors=True)
        # Inputs are read (and their errors reported) by load_batch; an OSError here is a write.
        if isinstance(e, OSError):
            raise unwritable(args.out, e) from None
        raise
    shutil.rmtree(stage, ignore_errors=True)
    if not args.quiet:
        print(f"explained {len(items)} image(s): {n_records} heatmap(s) in {args.out} "
              f"(records.jsonl, {'<image>_p<id>.png overlays, ' if overlays else ''}<image>_p<id>.npy relevance)")
    return 0


# ----------------------------------------------------------------------------- convert

def _import_object(spec: str):
    import importlib
    mod_name, _, attr = spec.partition(":")
    if not mod_name or not attr:
        raise CLIError(f"--module: expected package.module:attribute, got {spec!r}")
    try:
        obj = importlib.import_module(mod_name)
    except Exception as e:  # noqa: BLE001 - any import failure is the user's
        raise CLIError(f"--module: cannot import {mod_name} ({type(e).__name__}: {e})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise CLIError(f"--module: {mod_name} has no attribute {attr}")
        obj = getattr(obj, part)
    return obj


def cmd_convert(args) -> int:
    try:
        import torch
    except ImportError:
        raise CLIError("convert needs torch (pip install torch)") from None
    import prpkit
    shape = [int(v) for v in parse_floats(args.input_shape, "--input-shape")]
    if len(shape) not in (1, 3) or any(v <= 0 for v in shape):
        raise CLIError(f"--input-shape: expected C,H,W (or F for a vector input), got {args.input_shape!r}")
    if (args.module is None) == (args.cabrnet_config is None):
        raise CLIError("give one of --module package.module:attribute or --cabrnet-config CONFIG.yml")
    if args.checkpoint and not os.path.isfile(args.checkpoint):
        raise CLIError(f"{args.checkpoint}: no such checkpoint file")
    if args.module is not None:
        obj = _import_object(args.module)
        module = obj if isinstance(obj, torch.nn.Module) else (obj() if callable(obj) else obj)
        if not isinstance(module, torch.nn.Module):
            raise CLIError(f"--module {args.module}: not a torch.nn.Module (got {type(module).__qualname__})")
        if args.checkpoint:
            state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
            module.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
    else:
        if not os.path.isfile(args.cabrnet_config):
            raise CLIError(f"{args.cabrnet_config}: no such CaBRNet configuration file")
        try:
            from cabrnet.archs.generic.model import CaBRNet
        except ImportError:
            raise CLIError("--cabrnet-config needs CaBRNet (pip install cabrnet)") from None
        module = CaBRNet.build_from_config(args.cabrnet_config, state_dict_path=args.checkpoint)
    module.eval()
    example = torch.zeros([1] + shape)
    try:
        model = prpkit.from_torch(module, example)
    except (TypeError, prpkit.PRPKitError) as e:
        raise CLIError(f"cannot convert the model: {e}", status=1) from None
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise CLIError(f"{args.out}: parent folder {out_dir} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".prpkit-convert-", suffix=".prpkit", dir=out_dir)
    except OSError as e:
        raise unwritable(args.out, e) from None
    os.close(fd)
    try:
        prpkit.save(model, tmp)
        meta = {}
        if args.mean or args.std:
            meta["mean"] = parse_floats(args.mean or ",".join(map(str, IMAGENET_MEAN)), "--mean")
            meta["std"] = parse_floats(args.std or ",".join(map(str, IMAGENET_STD)), "--std")
        classifier = getattr(module, "classifier", None)
        mapping = getattr(classifier, "prototype_class_mapping", None)
        if mapping is not None:
            meta["prototype_class"] = [int(c) for c in np.asarray(mapping).argmax(1)]
        if args.class_names:
            meta["class_names"] = [c.strip() for c in args.class_names.split(",")]
        if meta:
            meta["input_size"] = shape
            with open(tmp + ".json", "w", encoding="utf-8") as f:
                json.dump(meta, f, indent=1)
            os.replace(tmp + ".json", metadata_path(args.out))
        os.replace(tmp, args.out)
    except OSError as e:
        raise unwritable(args.out, e) from None
    finally:
        for t in (tmp, tmp + ".json"):
            if os.path.exists(t):
                os.remove(t)
    if not args.quiet:
        print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB, {len(model.nodes)} nodes)"
              + (f" and {metadata_path(args.out)}" if meta else ""))
    return 0


# ----------------------------------------------------------------------------- evaluate

def read_mask(path: str, h: int, w: int) -> np.ndarray:
    """A segmentation mask as (H, W) bool at the model input size: non-zero = inside. Colour
    masks are summed over channels first (CaBRNet); other sizes are resized (nearest)."""
    if path.lower().endswith(".npy"):
        try:
            a = np.load(path, allow_pickle=False)
        except Exception as e:  # noqa: BLE001
            raise CLIError(f"{path}: unreadable mask ({type(e).__name__}: {e})") from None
        if a.ndim == 3:
            a = a.sum(axis=-1)
        if a.ndim != 2 or a.shape != (h, w):
            raise CLIError(f"{path}: mask shape {a.shape} is not the model input's (H, W) = {(h, w)}")
        return a != 0
    try:
        from PIL import Image
    except ImportError:
        raise CLIError(f"{path}: reading PNG/JPEG/... masks needs Pillow ({PILLOW_HINT}); .npy masks do not") from None
    try:
        with Image.open(path) as im:
            if im.size != (w, h):
                im = im.resize((w, h), Image.NEAREST)
            a = np.asarray(im)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise CLIError(f"{path}: unreadable mask ({e})") from None
    if a.ndim == 3:
        a = a.astype(np.int64).sum(axis=-1)
    return a != 0


def find_masks(items, folder: str) -> dict[str, str]:
    if not os.path.isdir(folder):
        raise CLIError(f"--masks {folder}: not a folder")
    by_stem: dict[str, str] = {}
    for f in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(f)
        if ext.lower() in IMAGE_EXTENSIONS + (".npy",) and stem not in by_stem:
            by_stem[stem] = os.path.join(folder, f)
    out = {}
    for it in items:
        stem = os.path.splitext(os.path.basename(it.path))[0]
        for key in (it.name, stem):
            if key in by_stem:
                out[it.name] = by_stem[key]
                break
        else:
            raise CLIError(f"--masks {folder}: no mask for {it.label} (expected {it.name} or {stem} with an "
                           f"image or .npy extension)")
    return out


def cmd_evaluate(args) -> int:
    import prpkit
    from . import metrics
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
    proto_class = prototype_classes(model, path, meta)
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
                logits = np.asarray(model(x)[0] if len(model.outputs) > 1 else model(x))
                sim_maps = np.asarray(comp(x))
                predicted = logits.argmax(1) if logits.ndim == 2 else np.full(len(batch), -1)
                max_sim = sim_maps.reshape(len(batch), n_protos, -1).max(2)
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
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):  # inputs were read, and their errors reported, by load_batch
            raise unwritable(args.out, e) from None
        raise
    if not args.quiet:
        print(f"evaluated {len(items)} image(s): {n_records} record(s) ({args.metric}) in {args.out}")
    return 0


# ----------------------------------------------------------------------------- entry point

def add_prototype_selection(p) -> None:
    """--prototypes | --top-k | --predicted-class (explain and evaluate)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--prototypes", help="comma-separated prototype ids")
    g.add_argument("--top-k", type=int, help="the K most activated prototypes of each image (default: 3)")
    g.add_argument("--predicted-class", action="store_true", help="the prototypes of the predicted class")


def add_run_options(p) -> None:
    """--threads and --quiet (explain and evaluate)."""
    p.add_argument("--threads", type=int, default=0, help="native worker threads (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")


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
                   help="image files (PNG/JPEG/...), folders, list files (.txt) or .npy tensors "
                        "((C,H,W) or (N,C,H,W), already normalised); default: the bundled samples")
    p.add_argument("--model", help="prpkit model file (default: the bundled digits ProtoPNet)")
    p.add_argument("--out", required=True, help="output folder (created; files of the same name are replaced)")
    add_prototype_selection(p)
    p.add_argument("--location", default="max",
                   help="max (the most similar location), H,W (one location), or all (every location with "
                        "similarity ≥ --threshold, summed); default max")
    p.add_argument("--threshold", type=float, default=0.1, help="similarity threshold for --location all")
    p.add_argument("--mean", help="per-channel normalisation mean, comma-separated (default: the model's "
                                  "metadata, else ImageNet's)")
    p.add_argument("--std", help="per-channel normalisation std (default: the model's metadata, else ImageNet's)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--colormap", choices=("jet", "viridis"), default="jet")
    p.add_argument("--alpha", type=float, default=0.5, help="heatmap opacity in the overlay (default 0.5)")
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
                   help="image files, folders, list files (.txt) or .npy tensors; default: the bundled samples")
    p.add_argument("--model", help="prpkit model file (default: the bundled digits ProtoPNet)")
    p.add_argument("--metric", required=True, choices=("pointing", "deletion", "insertion"))
    p.add_argument("--out", required=True, help="the JSON-lines file to write (replaced when complete)")
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        if not (args.cflags or args.libs):
            parser.error("a command is required")
        from . import _capi
        try:
            print(" ".join(f() for f, wanted in ((_capi.cflags, args.cflags), (_capi.libs, args.libs)) if wanted))
        except FileNotFoundError as e:
            print(f"prpkit: error: {e}", file=sys.stderr)
            return 1
        return 0
    try:
        if args.command in ("explain", "evaluate") and not args.images:
            args.images = [BUNDLED_SAMPLES]
        return int(args.func(args) or 0)
    except CLIError as e:
        print(f"prpkit: error: {e}", file=sys.stderr)
        return e.status
    except BrokenPipeError:  # e.g. `prpkit info | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("prpkit: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - one line for scripts, not a traceback
        if os.environ.get("PRPKIT_DEBUG"):
            raise
        print(f"prpkit: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
