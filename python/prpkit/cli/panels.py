""""This looks like that" panels of `prpkit explain --panels`: per image, one PNG with a row
per explained prototype — the image with its heatmap and CaBRNet's box, the prototype's
source (the training image it was projected onto, from the model's metadata) with the
prototype's own heatmap and box there, and the similarity and class."""

from __future__ import annotations

import os

import numpy as np

from .errors import CLIError
from .inputs import Item, load_batch
from .model import metadata_path
from .overlay import explain_heat

#: CaBRNet's configurations box the top 30 % of the heatmap's range.
PERCENTILE = 0.7


def prototype_sources(meta: dict, model_path: str, n_protos: int, sh: int, sw: int) -> dict[int, tuple[str, int, int]]:
    """prototype → (source image path, h, w) from the metadata's "projection" entries that
    name an "image" (relative to the metadata file; h, w: the location in the (sh, sw)
    similarity map). Entries without an image are skipped; a malformed entry or a missing
    file is an error before anything is computed."""
    where = metadata_path(model_path)
    base = os.path.dirname(os.path.abspath(where))
    out: dict[int, tuple[str, int, int]] = {}
    projection = meta.get("projection") or []
    if not isinstance(projection, list):
        raise CLIError(f"{where}: \"projection\" must be a list of entries")
    for e in projection:
        if not isinstance(e, dict) or "image" not in e:
            continue
        try:
            p, h, w, image = int(e["proto_idx"]), int(e["h"]), int(e["w"]), str(e["image"])
        except (KeyError, TypeError, ValueError):
            raise CLIError(f"{where}: a projection entry needs proto_idx, h, w and image, got {e}") from None
        if not 0 <= p < n_protos:
            raise CLIError(f"{where}: projection entry for prototype {p}, but the model has {n_protos}")
        if not (0 <= h < sh and 0 <= w < sw):
            raise CLIError(f"{where}: prototype {p}'s location ({h}, {w}) is outside the {sh}×{sw} similarity map")
        path = image if os.path.isabs(image) else os.path.join(base, image)
        if not os.path.isfile(path):
            raise CLIError(f"{where}: prototype {p}'s source image {path} does not exist")
        out[p] = (path, h, w)
    return out


class PanelWriter:
    """Draws the rows and writes the panels; each prototype's source view is computed once."""

    def __init__(self, comp, sources, in_shape, mean_a, std_a, size, sigma, cmap, alpha) -> None:
        self.comp, self.sources, self.in_shape = comp, sources, in_shape
        self.mean_a, self.std_a = mean_a, std_a
        self.size, self.sigma, self.cmap, self.alpha = size, sigma, cmap, alpha
        self._views: dict[int, np.ndarray | None] = {}

    def view(self, show: np.ndarray, heat: np.ndarray) -> np.ndarray:
        """The image under its heatmap, boxed where the heat exceeds 1 − PERCENTILE."""
        from .. import viz
        boxed = viz.bbox_to_percentile(viz.overlay(show, heat, self.cmap, self.alpha), np.abs(heat), PERCENTILE,
                                       thickness=max(1, self.size.height // 96))
        return viz.as_rgb(boxed)

    def source_view(self, p: int) -> np.ndarray | None:
        import prpkit
        if p not in self._views:
            if p not in self.sources:
                self._views[p] = None
            else:
                path, h, w = self.sources[p]
                x, show, _ = load_batch([Item(path, None, f"p{p}")], self.in_shape, self.mean_a, self.std_a)
                rel, _ = prpkit.prp_relevance(self.comp, np.ascontiguousarray(x), [p], (h, w))
                heat = explain_heat(np.ascontiguousarray(rel[0, 0]), self.size, self.sigma, self.cmap)
                self._views[p] = self.view(show[0], heat)
        return self._views[p]

    def write(self, path: str, title: str, rows: list[tuple[np.ndarray, int, list[str]]]) -> None:
        """rows: (the image's view, prototype, caption lines)."""
        from .. import viz
        viz.save_png(path, viz.panel([(v, self.source_view(p), cap) for v, p, cap in rows], title=title))


def caption(rec: dict, class_names) -> list[str]:
    """A panel row's lines: prototype and class, similarity, location."""
    c = rec["prototype_class"]
    cls = "" if c is None else f", class {class_names[c] if class_names and 0 <= c < len(class_names) else c}"
    where = (f"at {tuple(rec['locations'][0])}" if len(rec["locations"]) == 1
             else f"{len(rec['locations'])} locations")
    return [f"prototype {rec['prototype']}{cls}", f"similarity {rec['similarity']:.3f}", where]
