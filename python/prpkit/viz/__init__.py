"""prpkit.viz: pictures of heatmaps (NumPy and Pillow only).

    from prpkit import viz
    heat = prpkit.post_process(relevance, img=size, normalize=True)   # (H, W) in [0, 1]
    viz.save_png("overlay.png", viz.with_colorbar(viz.overlay(image, heat, "jet"), "jet"))
    viz.heatmap(pil_image, heat, overlay=True, percentile=0.7)         # CaBRNet's view
    viz.save_png("signed.png", viz.colorize(relevance.sum(0), "bwr"))  # zennit's imgify

Colour maps (`COLORMAPS`): ``jet`` (OpenCV's, as in CaBRNet), ``viridis`` (its published
table), ``bwr`` and ``coldnhot`` (zennit's, for signed maps). `panel` lays out "this looks
like that" rows (an image's heatmaps beside its prototypes' sources); `curves_svg` plots
deletion/insertion curves as SVG. Every picture is a uint8 RGB array (H, W, 3) except
CaBRNet's views, which return Pillow images as CaBRNet does.
"""

from .colorbars import colorbar, with_colorbar
from .colormaps import COLORMAPS, DIVERGING, apply_colormap, colorize, colormap_table, normalize
from .curves import curves_svg
from .grids import grid
from .images import as_rgb, save_png, to_image, upscale
from .overlays import overlay
from .panels import panel
from .views import bbox_to_percentile, compute_bbox, crop_to_percentile, heatmap

__all__ = [
    "COLORMAPS", "DIVERGING", "colormap_table", "apply_colormap", "normalize", "colorize",
    "overlay", "heatmap", "bbox_to_percentile", "crop_to_percentile", "compute_bbox",
    "as_rgb", "upscale", "to_image", "save_png", "colorbar", "with_colorbar", "grid", "panel",
    "curves_svg",
]
