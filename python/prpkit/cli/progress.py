"""The progress bar of explain and evaluate (on stderr, only when it is a terminal)."""

from __future__ import annotations

import sys
import time


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
