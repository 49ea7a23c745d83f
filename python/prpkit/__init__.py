"""prpkit: Prototype Relevance Propagation and composite LRP, natively.

Model I/O and the forward pass::

    import prpkit
    model = prpkit.from_torch(torch_module)         # or prpkit.load("model.prpkit")
    logits = model(x)                               # float32 NumPy array or CPU torch tensor
    prpkit.save(model, "model.prpkit")
    model.inputs, model.outputs, model.nodes        # introspection

C code links the same library: `get_include()` (the folder of ``prpkit.h``) and
`get_library()` (``libprpkit.so``), or ``python -m prpkit --cflags --libs``.

Errors reported by the native library are `PRPKitError` subclasses carrying its message:
`InvalidArgumentError` (also ValueError), `InvalidModelError` (ValueError),
`BufferTooSmallError` (ValueError), `UnsupportedError` (NotImplementedError),
`PRPKitIOError` (OSError), `InternalError` (RuntimeError). Every one has ``.status``
(the C status code) and ``.status_name``. Conversion of an unsupported torch module
raises `UnsupportedOperation` (a TypeError) naming the module or function and its type.
"""

from ._capi import get_include, get_library  # C header and library (no extension needed)

try:
    from . import _core
except ImportError as _e:  # a source tree without the built extension: the pure-Python
    _core = None           # submodules (_export, _safetensors) stay importable.
    _CORE_ERROR = _e

if _core is not None:
    from ._core import (
        BufferTooSmallError,
        InternalError,
        InvalidArgumentError,
        InvalidModelError,
        PRPKitError,
        PRPKitIOError,
        UnsupportedError,
    )
    from ._convert import from_torch
    from ._export import UnsupportedOperation
    from ._torch_cache import TrainingModeWarning
    from ._model import Model, load, save
    from ._lrp import LRP
    from ._layer_lrp import LayerLRP
    from . import rules, prp_utils, composites
    from ._prp import prp, prp_batch, prp_relevance, post_process
    from ._threads import num_threads

    __version__ = _core.version_string()

    def version() -> tuple[int, int, int]:
        """The native library's (major, minor, patch)."""
        return _core.version()

    def set_num_threads(n: int) -> None:
        """Sets the kernels' worker thread count, process-wide (``0`` restores the default:
        env ``PRPKIT_NUM_THREADS``, else the number of online cores)."""
        _core.set_num_threads(n)

    def get_num_threads() -> int:
        """The kernels' worker thread count for calls from this thread (a `num_threads`
        block's count inside one, else the process-wide count)."""
        return _core.get_num_threads()
else:
    def __getattr__(name: str):
        if name not in __all__:
            raise AttributeError(f"module 'prpkit' has no attribute {name!r}")
        raise ImportError(f"prpkit.{name} needs the native extension prpkit._core, which failed to import "
                          f"({_CORE_ERROR}); install the package with `pip install ./python`")


__all__ = [
    "Model", "load", "save", "from_torch", "LRP", "LayerLRP", "rules", "prp_utils", "composites", "prp", "prp_batch",
    "prp_relevance", "post_process",
    "version", "set_num_threads", "get_num_threads", "num_threads", "get_include", "get_library",
    "PRPKitError", "InvalidArgumentError", "InvalidModelError", "BufferTooSmallError",
    "UnsupportedError", "PRPKitIOError", "InternalError", "UnsupportedOperation", "TrainingModeWarning",
]
