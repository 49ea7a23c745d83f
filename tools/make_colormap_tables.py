#!/usr/bin/env python3
"""Writes the colour tables that prpkit.viz ships as data (python/prpkit/viz/tables/).

    python3 tools/make_colormap_tables.py          # needs opencv-python(-headless) and matplotlib

- jet.txt: the 256 RGB bytes of OpenCV's COLORMAP_JET, read from cv2.applyColorMap on
  0..255. OpenCV builds that lookup table from its own float32 base table, so one entry
  (159, blue: 1) differs from the closed-form jet rounded to nearest (2); the table keeps
  OpenCV's bytes, which are what CaBRNet's heatmaps show.
- viridis.txt: matplotlib's published 256-entry viridis table (public domain / CC0, from
  matplotlib._cm_listed), the floats exactly as printed there.
Re-running must reproduce the committed files byte for byte (tests/test_viz_colormaps.py
checks the tables against the live libraries when they are installed).
"""

from __future__ import annotations

import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "prpkit", "viz", "tables")


def jet() -> str:
    import cv2
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)[:, 0, ::-1]
    head = (f"# OpenCV {cv2.__version__} COLORMAP_JET as RGB bytes, entry i = applyColorMap(i) (BGR reversed).\n"
            "# Written by tools/make_colormap_tables.py.\n")
    return head + "".join(f"{r} {g} {b}\n" for r, g, b in lut.tolist())


def viridis() -> str:
    from matplotlib import _cm_listed
    data = _cm_listed._viridis_data
    assert len(data) == 256
    head = ("# viridis (Nathaniel J. Smith, Stefan van der Walt, Eric Firing; CC0), the 256 RGB floats of\n"
            "# matplotlib's published table (matplotlib._cm_listed._viridis_data).\n"
            "# Written by tools/make_colormap_tables.py.\n")
    return head + "".join(" ".join(repr(float(c)) for c in rgb) + "\n" for rgb in data)


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    for name, text in (("jet.txt", jet()), ("viridis.txt", viridis())):
        with open(os.path.join(OUT, name), "w", encoding="ascii", newline="\n") as f:
            f.write(text)
        print("wrote", os.path.normpath(os.path.join(OUT, name)))


if __name__ == "__main__":
    main()
