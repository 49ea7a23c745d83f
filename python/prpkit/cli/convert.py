"""`prpkit convert`: a torch module or a CaBRNet model to a prpkit model file and its
sidecar JSON."""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from .errors import CLIError, unwritable
from .model import IMAGENET_MEAN, IMAGENET_STD, metadata_path
from .options import parse_floats
from .projection import read_projection


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
    if args.projection_images and not args.projection_info:
        raise CLIError("--projection-images needs --projection-info")
    projection = (read_projection(args.projection_info, args.projection_images,
                                  os.path.dirname(os.path.abspath(args.out))) if args.projection_info else None)
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
        if projection is not None:
            meta["projection"] = projection
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
