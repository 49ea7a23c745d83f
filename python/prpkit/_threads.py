"""Worker-thread settings: process-wide, per Python thread, and per call.

``prpkit.set_num_threads(n)`` sets the count for the whole process (``PRPKIT_NUM_THREADS``
gives its default). ``with prpkit.num_threads(n):`` overrides it for the calls made from
the current Python thread only; the ``threads=`` keyword of `prpkit.prp`, `prpkit.prp_batch`,
`prpkit.prp_relevance`, `prpkit.LRP` and `prpkit.Model.forward` does the same for one call.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from . import _core

__all__ = ["num_threads"]

_local = threading.local()


@contextlib.contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Runs the enclosed prpkit calls of this Python thread with ``n`` worker threads.

    ``None`` or ``0`` keeps the enclosing setting. Nested blocks restore the outer count on
    exit. Raises `prpkit.InvalidArgumentError` for a negative ``n``.
    """
    if n is None or n == 0:
        yield
        return
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"threads must be an int, got {type(n).__qualname__}")
    outer = getattr(_local, "override", 0)
    _core.set_local_num_threads(n)
    _local.override = n
    try:
        yield
    finally:
        _core.set_local_num_threads(outer)
        _local.override = outer
