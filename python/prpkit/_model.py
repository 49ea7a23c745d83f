"""`prpkit.Model`: a loaded prpkit model and its forward pass.

Input policy (every entry point that takes arrays: `Model.__call__`, `Model.forward`):

- A ``numpy.ndarray`` or CPU ``torch.Tensor`` of dtype float32 that is C-contiguous is
  passed to the library as is: no copy, read in place.
- Any other dtype (float64, float16, integers, big-endian float32, ...) raises
  ``TypeError``: nothing is converted silently (a float64 → float32 cast loses
  precision and costs a copy; torch itself rejects double inputs to float modules).
  Convert explicitly: ``x.astype(numpy.float32)`` / ``x.float()``.
- A non-C-contiguous array (a transposed or strided view, a channels_last tensor)
  raises ``ValueError``; pass ``numpy.ascontiguousarray(x)`` / ``x.contiguous()``.
- A tensor on another device than the CPU raises ``ValueError``. A tensor that requires
  grad is detached (no copy; prpkit computes no gradients for autograd).
- ``None`` (or anything that is neither an array nor a buffer) raises ``TypeError``.
- A wrong rank or a shape the model cannot take (e.g. a wrong channel count) raises
  ``prpkit.InvalidArgumentError`` (a ``ValueError``) with the library's message.
- Other objects exporting a buffer (``memoryview``, ``array.array('f')``) are accepted
  when their format is float32 and C-contiguous.

Outputs are new float32 NumPy arrays (torch tensors when any input is a torch tensor),
wrapping the library's result without a copy. With ``out=`` the results are written
into caller arrays instead: float32, C-contiguous, writable, exactly the output's shape,
else ``TypeError`` (dtype) / ``ValueError`` (layout, read-only, shape).

The GIL is released during the computation, so several Python threads may run one
model at once.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._threads import num_threads

__all__ = ["Model", "load", "save"]

Shape = Tuple[int, ...]


def _torch():
    """The torch module if it has been imported by the caller (prpkit never imports it for NumPy use)."""
    return sys.modules.get("torch")


def _is_tensor(x: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def _as_input(x: Any, index: int, what: str = "input", copy_strided: bool = False) -> Any:
    """Applies the input policy (module docstring) and returns an object exporting a buffer.
    With `copy_strided`, a non-contiguous array or tensor is copied to a contiguous one
    instead of being rejected (Captum and CaBRNet accept such inputs)."""
    if x is None:
        raise TypeError(f"{what} {index} is None; expected a float32 numpy.ndarray or torch.Tensor")
    if _is_tensor(x):
        torch = _torch()
        if x.device.type != "cpu":
            raise ValueError(f"{what} {index}: tensor on device {x.device}; prpkit runs on the CPU, use .cpu()")
        if x.dtype != torch.float32:
            raise TypeError(f"{what} {index}: expected a float32 tensor, got {x.dtype}; convert with .float()")
        if x.layout != torch.strided:
            raise TypeError(f"{what} {index}: expected a dense (strided) tensor, got layout {x.layout}")
        if not x.is_contiguous():
            if not copy_strided:
                raise ValueError(f"{what} {index}: the tensor is not contiguous; pass x.contiguous()")
            x = x.contiguous()
        return x.detach().numpy()
    if isinstance(x, np.ndarray):
        if x.dtype != np.float32:
            raise TypeError(f"{what} {index}: expected a float32 array, got dtype {x.dtype}; "
                            f"convert with x.astype(numpy.float32)")
        if not x.flags.c_contiguous:
            if not copy_strided:
                raise ValueError(f"{what} {index}: the array is not C-contiguous; pass numpy.ascontiguousarray(x)")
            x = np.ascontiguousarray(x)
        return x
    try:
        memoryview(x).release()
    except TypeError:
        raise TypeError(f"{what} {index}: expected a float32 numpy.ndarray or torch.Tensor, "
                        f"got {type(x).__module__}.{type(x).__qualname__}") from None
    return x  # the C layer checks format and layout of other buffers


class Model:
    """A loaded prpkit model: graph + float32 weights, immutable and thread-safe.

    Create one with `prpkit.load(path)` or `prpkit.from_torch(module)`. Calling it runs
    the forward pass::

        logits = model(x)                     # one input, one output
        logits, min_distances = model(x)      # CaBRNet ProtoPNet: a tuple
        outs = model.forward(x0, x1)          # several inputs: always a tuple

    See the module documentation of `prpkit._model` for the input policy.
    """

    __slots__ = ("_core", "_graph", "__weakref__")

    def __init__(self, core: "_core.Model") -> None:
        if not isinstance(core, _core.Model):
            raise TypeError("Model wraps a prpkit._core.Model; use prpkit.load() or prpkit.from_torch()")
        self._core = core
        self._graph: dict | None = None

    # ---- introspection

    @property
    def inputs(self) -> list[tuple[str, Shape]]:
        """``[(name, declared shape), ...]`` of the graph inputs (the batch extent may differ at run time)."""
        return self._core.inputs()

    @property
    def outputs(self) -> list[tuple[str, Shape]]:
        """``[(name, shape), ...]`` of the graph outputs, for inputs of their declared shapes."""
        return self._core.outputs()

    @property
    def graph(self) -> dict:
        """The graph as a dict (``inputs``, ``nodes``, ``outputs``; see "The graph JSON" in
        docs/model-format.md), as the library holds it: float attributes are float32
        values (e.g. 9.999999747378752e-06 for a BatchNorm's 1e-05)."""
        if self._graph is None:
            self._graph = json.loads(self._core.graph_json())
        return self._graph

    @property
    def nodes(self) -> list[dict]:
        """The graph's nodes in execution order: dicts with ``name``, ``op``, ``inputs``,
        ``attributes`` and ``parameters`` (role → tensor name)."""
        return self.graph["nodes"]

    def value_shapes(self, *input_shapes: Sequence[int]) -> dict[str, Shape]:
        """``{value name: shape}`` of every graph input and node output (in graph order)
        when the inputs have ``input_shapes`` (one per input; none: the declared shapes).

        Raises ``prpkit.InvalidArgumentError`` for shapes the model cannot take."""
        shapes = [[int(d) for d in s] for s in input_shapes] if input_shapes else None
        values = json.loads(self._core.shapes_json(shapes))["values"]
        return {name: tuple(shape) for name, shape in values.items()}

    @property
    def parameter_shapes(self) -> dict[str, Shape]:
        """``{parameter tensor name: shape}`` of every weight the model holds."""
        params = json.loads(self._core.shapes_json(None))["parameters"]
        return {name: tuple(shape) for name, shape in params.items()}

    def parameter(self, name: str) -> np.ndarray:
        """A float32 copy of parameter tensor ``name`` (``KeyError``-like
        ``prpkit.InvalidArgumentError`` when the model has none of that name)."""
        if not isinstance(name, str):
            raise TypeError(f"parameter name must be a str, got {type(name).__qualname__}")
        buffer, shape = self._core.parameter(name)
        return np.frombuffer(buffer, dtype=np.float32).reshape(shape)

    def summary(self, path: "str | os.PathLike[str] | None" = None, metadata: dict | None = None,
                as_json: bool = False) -> str:
        """The model described by the library, as ``prpkit info`` prints it: inputs,
        outputs, parameter count and, per node, op, output shape, parameter count and the
        rule CaBRNet's PRP composite gives it. ``path`` (the model file) adds its absolute
        path and size; ``metadata`` (the sidecar dict) sets z^B's bounds from its
        ``mean``/``std`` and adds its description and stated accuracy. ``as_json`` returns
        the JSON document instead of the table (members: see ``prpkit info --json``)."""
        meta = None if metadata is None else json.dumps(metadata)
        return self._core.summary(None if path is None else os.fspath(path), meta, bool(as_json))

    # ---- forward

    def forward(self, *inputs: Any, out: Any = None, threads: int | None = None) -> Tuple[Any, ...]:
        """Runs the model on ``inputs`` (one array per graph input) and returns a tuple
        with one array per graph output (in `outputs` order).

        Args:
            *inputs: float32, C-contiguous NumPy arrays or CPU torch tensors (see the
                input policy in the module documentation). The batch extent may differ
                from the declared one.
            out: optional destination: one array (single-output models) or a sequence
                of arrays, float32, C-contiguous, writable, of the exact output shapes.
            threads: worker threads for this call (None: the current setting, see
                `prpkit.num_threads`).

        Returns:
            A tuple of float32 arrays — torch tensors when any input is a torch tensor —
            or the ``out`` arrays themselves.

        Raises:
            TypeError: ``None``, a non-array, a dtype other than float32, a wrong number
                of inputs.
            ValueError: a non-contiguous array, a read-only or misshapen ``out``; and
                `prpkit.InvalidArgumentError` (a ValueError) for a wrong rank or shape,
                with the library's message.
            prpkit.PRPKitError: any other error reported by the library.
        """
        bufs = [_as_input(x, i) for i, x in enumerate(inputs)]
        to_torch = any(_is_tensor(x) for x in inputs)
        out_objs = None
        if out is not None:
            out_objs = [out] if (isinstance(out, np.ndarray) or _is_tensor(out)) else list(out)
            outs = [_as_input(o, j, "out") for j, o in enumerate(out_objs)]
            with num_threads(threads):
                self._core.forward(bufs, outs)
            return tuple(out_objs)
        with num_threads(threads):
            res = self._core.forward(bufs)
        arrays = [np.frombuffer(buf, dtype=np.float32).reshape(shape) for buf, shape in res]
        if to_torch:
            torch = _torch()
            return tuple(torch.from_numpy(a) for a in arrays)
        return tuple(arrays)

    def __call__(self, *inputs: Any, out: Any = None, threads: int | None = None) -> Any:
        """Like `forward`, but a single output is returned as an array, not a 1-tuple."""
        res = self.forward(*inputs, out=out, threads=threads)
        return res[0] if len(res) == 1 else res

    # ---- files

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes the model file (safetensors + graph JSON) to ``path``."""
        self._core.save(path)

    def __repr__(self) -> str:
        try:
            ins = ", ".join(f"{n}{list(s)}" for n, s in self.inputs)
            outs = ", ".join(f"{n}{list(s)}" for n, s in self.outputs)
            return f"<prpkit.Model ({ins}) -> ({outs}), {len(self.nodes)} nodes>"
        except Exception:  # pragma: no cover - repr must not raise
            return "<prpkit.Model>"


def load(path: Union[str, os.PathLike]) -> Model:
    """Loads a prpkit model file.

    Raises:
        prpkit.PRPKitIOError (an OSError): the file cannot be read.
        prpkit.InvalidModelError (a ValueError): the file is not a valid model file.
        prpkit.UnsupportedError: it uses an op or format version this library lacks.
    """
    return Model(_core.load(path))


def save(model: Model, path: Union[str, os.PathLike]) -> None:
    """Writes ``model`` to ``path`` as a prpkit model file (`Model.save`)."""
    if not isinstance(model, Model):
        raise TypeError(f"prpkit.save expects a prpkit.Model, got {type(model).__qualname__}")
    model.save(path)
