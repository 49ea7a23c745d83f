"""The model a run's computation needs, wherever it runs: loaded from the file in this
process, or, in a Ray actor, from the model file's bytes (sent once through the object
store), with the same PRP composite and selection options."""

from __future__ import annotations

import os
import tempfile
from types import SimpleNamespace

import numpy as np


class RunModel:
    """The model, its PRP composite and the prototype count, made once per process.

    ``source``: a model file path, or the file's bytes. ``bounds``: the z^B bounds."""

    def __init__(self, source: str | bytes, bounds: tuple[float, float], model=None, comp=None) -> None:
        self.source, self.bounds = source, bounds
        self._model, self._comp = model, comp

    def __getstate__(self):  # what travels to a worker: never the native objects
        return {"source": self.source, "bounds": self.bounds}

    def __setstate__(self, state) -> None:
        self.source, self.bounds = state["source"], state["bounds"]
        self._model = self._comp = None

    def get(self):
        if self._model is None:
            import prpkit
            from .model import build_composite
            if isinstance(self.source, (bytes, bytearray, memoryview)):
                # the library loads model files by path: a private copy, removed at once
                fd, tmp = tempfile.mkstemp(suffix=".prpkit")
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(self.source)
                    self._model = prpkit.load(tmp)
                finally:
                    os.unlink(tmp)
            else:
                self._model = prpkit.load(self.source)
            self._comp = build_composite(self._model, *self.bounds)
        return self._model, self._comp


def selection(cfg: dict) -> SimpleNamespace:
    """The prototype selection options in the form group_by_prototypes reads."""
    return SimpleNamespace(prototypes=cfg["prototypes"], top_k=cfg["top_k"], predicted_class=cfg["predicted_class"])


def norm_arrays(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(cfg["mean"], np.float32)[:, None, None], np.asarray(cfg["std"], np.float32)[:, None, None])
