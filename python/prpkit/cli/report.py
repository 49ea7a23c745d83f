"""`--report`: a run as one HTML page, report/index.html — a sortable table of the records
(images × prototypes) with thumbnails linking to the full pictures, and for evaluate the
deletion/insertion curves (SVG files beside the page) with their AUCs, or the pointing-game
scores. Self-contained: no CDN, no framework; two short inline scripts sort the table and
count the images that loaded (``#status``: what the browser test reads)."""

from __future__ import annotations

import math
import os
from html import escape
from typing import Any, Callable, Sequence

import numpy as np

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; } .muted { color: #666; }
table { border-collapse: collapse; margin-top: 16px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e3e3; text-align: right; vertical-align: middle; }
th { cursor: pointer; background: #f4f4f4; position: sticky; top: 0; user-select: none; }
th[data-dir="asc"]::after { content: " \\25B2"; } th[data-dir="desc"]::after { content: " \\25BC"; }
td.text, th.text { text-align: left; } img { display: block; }
.summary img { display: inline-block; margin: 8px 16px 0 0; border: 1px solid #ddd; }
"""

# Click a heading to sort by it (again to reverse); numbers sort as numbers.
_SORT = """
document.querySelectorAll("th").forEach((th, c) => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0], rows = Array.from(body.rows);
  const dir = th.dataset.dir === "asc" ? -1 : 1;
  th.closest("tr").querySelectorAll("th").forEach(h => delete h.dataset.dir);
  th.dataset.dir = dir > 0 ? "asc" : "desc";
  rows.sort((a, b) => {
    const x = a.cells[c].dataset.v, y = b.cells[c].dataset.v, nx = Number(x), ny = Number(y);
    return dir * (x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y));
  });
  rows.forEach(r => body.appendChild(r));
}));
"""

# After everything loaded: how many pictures did (no broken links).
_STATUS = """
window.addEventListener("load", () => {
  const imgs = Array.from(document.images), ok = imgs.filter(i => i.complete && i.naturalWidth > 0);
  const s = document.getElementById("status");
  s.dataset.loaded = ok.length; s.dataset.total = imgs.length;
  s.textContent = ok.length + " of " + imgs.length + " pictures loaded";
});
"""

Column = tuple[str, Callable[[dict], Any], Callable[[dict], str] | None]


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(v)


def _cell(col: Column, rec: dict) -> str:
    _, value, html = col
    v = value(rec)
    shown = html(rec) if html else escape(_fmt(v))
    cls = "" if isinstance(v, (int, float)) or v is None else ' class="text"'
    return f'<td{cls} data-v="{escape(_fmt(v), quote=True)}">{shown}</td>'


def _thumb(href: str | None, src: str | None, width: int, alt: str) -> str:
    if not src:
        return ""
    img = f'<img src="{escape(src, quote=True)}" width="{width}" alt="{escape(alt, quote=True)}" loading="eager">'
    return f'<a href="{escape(href or src, quote=True)}">{img}</a>'


def _page(title: str, subtitle: str, summary: str, columns: Sequence[Column], records: Sequence[dict]) -> str:
    head = "".join(f'<th class="text">{escape(c[0])}</th>' if c[0] in ("image", "") else f"<th>{escape(c[0])}</th>"
                   for c in columns)
    body = "\n".join("<tr>" + "".join(_cell(c, r) for c in columns) + "</tr>" for r in records)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head>\n<body>\n<h1>{escape(title)}</h1>\n"
            f'<p class="muted">{subtitle} · <span id="status">pictures loading…</span></p>\n'
            f'<div class="summary">{summary}</div>\n<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n'
            f"</tbody></table>\n<script>{_SORT}</script>\n<script>{_STATUS}</script>\n</body></html>\n")


def _common(records: Sequence[dict]) -> list[Column]:
    return [("image", lambda r: os.path.basename(r["image"]) + ("" if r.get("index") is None else f"[{r['index']}]"),
             None),
            ("prototype", lambda r: r["prototype"], None),
            ("class", lambda r: r.get("prototype_class"), None),
            ("predicted", lambda r: r.get("predicted_class"), None),
            ("similarity", lambda r: r.get("similarity"), None)]


def explain_report(out_dir: str, records: Sequence[dict], command: str) -> str:
    """Writes <out_dir>/report/index.html for explain's records; returns its path."""
    folder = os.path.join(out_dir, "report")
    os.makedirs(folder, exist_ok=True)
    up = lambda f: None if f is None else "../" + f  # noqa: E731 - the pictures sit in out_dir
    cols: list[Column] = [
        ("", lambda r: r.get("heatmap") or "",
         lambda r: _thumb(up(r.get("panel") or r.get("heatmap")), up(r.get("heatmap")), 96,
                          f"heatmap of prototype {r['prototype']}")),
        *_common(records),
        ("max similarity", lambda r: r.get("max_similarity"), None),
        ("relevance sum", lambda r: r.get("relevance_sum"), None),
        ("conservation Δ", lambda r: r.get("conservation_delta"), None),
        ("PRP ms", lambda r: r["timings_ms"].get("prp"), None),
        ("write ms", lambda r: r["timings_ms"].get("write"), None),
    ]
    images = len({(r["image"], r.get("index")) for r in records})
    delta = max((abs(r["conservation_delta"]) for r in records), default=0.0)
    summary = (f"<p>{images} image(s), {len(records)} heatmap(s); largest |conservation Δ| {delta:.3g} "
               "(similarity − sum of relevance). Thumbnails link to the "
               f"{'panels' if any(r.get('panel') for r in records) else 'overlays'}.</p>")
    path = os.path.join(folder, "index.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(_page("prpkit explain", escape(command), summary, cols, records))
    return path


def _mean_se(v: Sequence[float]) -> tuple[float, float]:
    a = np.asarray(v, np.float64)
    return float(a.mean()), (float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else float("nan"))


def _score_name(rec: dict) -> str:
    if rec.get("target") == "similarity":
        return "similarity"
    return "class probability" if rec.get("softmax") else "class logit"


def evaluate_report(folder: str, records: Sequence[dict], command: str) -> str:
    """Writes <folder>/index.html (+ curves/*.svg) for evaluate's records; returns its path."""
    from .. import viz
    os.makedirs(folder, exist_ok=True)
    metric = records[0]["metric"] if records else "?"
    cols = _common(records)
    if metric == "pointing":
        m, se = _mean_se([r["energy_relevance"] for r in records]) if records else (float("nan"),) * 2
        summary = (f"<p>Energy-based pointing game over {len(records)} record(s): mean share of relevance "
                   f"inside the mask {m:.4g} ± {se:.2g} (SE)</p>")
        cols += [("energy in mask", lambda r: r["energy_relevance"], None),
                 ("relevance in mask", lambda r: r["mask_relevance"], None),
                 ("mask area", lambda r: r["mask_area"], None)]
    else:
        os.makedirs(os.path.join(folder, "curves"), exist_ok=True)
        for n, r in enumerate(records):
            r["_curve"] = f"curves/{n:05d}.svg"
            with open(os.path.join(folder, r["_curve"]), "w", encoding="utf-8") as f:
                f.write(viz.curves_svg(r["fractions"], [(metric, r["scores"])], width=200, height=120))
        summary = ""
        if records:
            m, se = _mean_se([r["auc"] for r in records])
            x = records[0]["fractions"]
            same = [r for r in records if r["fractions"] == x]
            mean_curve = np.mean([r["scores"] for r in same], axis=0)
            with open(os.path.join(folder, "curves", "mean.svg"), "w", encoding="utf-8") as f:
                f.write(viz.curves_svg(x, [(f"mean of {len(same)}", mean_curve)], title=f"{metric}: mean curve",
                                       xlabel="fraction of pixels " + ("removed" if metric == "deletion" else "inserted"),
                                       ylabel=_score_name(records[0])))
            summary = (f'<p>{metric.capitalize()} over {len(records)} record(s): AUC {m:.4g} ± {se:.2g} (SE); '
                       f'{"lower" if metric == "deletion" else "higher"} is more faithful.</p>'
                       + _thumb(None, "curves/mean.svg", 420, "mean curve"))
        cols = [("", lambda r: r["_curve"], lambda r: _thumb(None, r["_curve"], 160, "curve"))] + cols + [
            ("AUC", lambda r: r["auc"], None)]
    cols.append(("metric ms", lambda r: r["timings_ms"].get("metric"), None))
    path = os.path.join(folder, "index.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(_page(f"prpkit evaluate: {metric}", escape(command), summary, cols, records))
    return path
