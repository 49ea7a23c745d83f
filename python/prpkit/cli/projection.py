"""CaBRNet's projection information for the sidecar JSON (`prpkit convert --projection-info`):
which training image and which location of its similarity map each prototype was projected
onto, so that `prpkit explain --panels` can show the prototype's source."""

from __future__ import annotations

import csv
import os

from .errors import CLIError

_FIELDS = ("proto_idx", "img_idx", "h", "w")


def read_projection(info_path: str, images_dir: str | None, sidecar_dir: str) -> list[dict]:
    """CaBRNet's projection_info.csv → the sidecar's "projection" entries.

    Each entry keeps CaBRNet's fields (proto_idx, img_idx, h, w, and score when present).
    With ``images_dir`` — the ImageFolder root CaBRNet projected on; img_idx indexes its
    samples in torchvision's ImageFolder order — it also gets "image": that file's path
    relative to the sidecar's folder.
    """
    if info_path.lower().endswith((".pkl", ".pickle")):
        raise CLIError(f"{info_path}: pickled projection information is not read (unpickling runs code); "
                       "save it as CSV (cabrnet.core.utils.save.save_projection_info with a .csv name)")
    try:
        with open(info_path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CLIError(f"{info_path}: unreadable projection information ({e})") from None
    entries = []
    for n, row in enumerate(rows, start=2):
        try:
            e = {k: int(float(row[k])) for k in _FIELDS}
            if row.get("score") not in (None, ""):
                e["score"] = float(row["score"])
        except (KeyError, TypeError, ValueError):
            raise CLIError(f"{info_path}:{n}: expected the columns {', '.join(_FIELDS)} with integers") from None
        entries.append(e)
    if not entries:
        raise CLIError(f"{info_path}: no projection entries")
    if images_dir is not None:
        samples = _image_folder(images_dir)
        for e in entries:
            if not 0 <= e["img_idx"] < len(samples):
                raise CLIError(f"{info_path}: img_idx {e['img_idx']} of prototype {e['proto_idx']} is outside "
                               f"{images_dir}'s {len(samples)} images")
            e["image"] = os.path.relpath(os.path.abspath(samples[e["img_idx"]]), sidecar_dir)
    return entries


def _image_folder(root: str) -> list[str]:
    if not os.path.isdir(root):
        raise CLIError(f"--projection-images: {root} is not a folder")
    try:
        from torchvision.datasets import ImageFolder
    except ImportError:
        raise CLIError("--projection-images needs torchvision (its ImageFolder order is what img_idx counts)") from None
    try:
        return [path for path, _ in ImageFolder(root).samples]
    except (FileNotFoundError, OSError) as e:
        raise CLIError(f"--projection-images: {e}") from None
