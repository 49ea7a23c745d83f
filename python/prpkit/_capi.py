"""Where the installed package keeps prpkit's C header and shared library, for C code that
links the ABI directly (as ``numpy.get_include()`` does for NumPy's headers): a third
party's extension builds with ``python -m prpkit --cflags`` and ``--libs``, no Swift needed.
"""
from __future__ import annotations

import glob
import os
import shlex

__all__ = ["get_include", "get_library", "cflags", "libs"]

_HERE = os.path.dirname(os.path.abspath(__file__))


def get_include() -> str:
    """The folder that holds ``prpkit.h`` (pass it to the compiler with ``-I``)."""
    path = os.path.join(_HERE, "include")
    if not os.path.isfile(os.path.join(path, "prpkit.h")):
        raise FileNotFoundError(f"{path}/prpkit.h is missing: this prpkit was not installed from a wheel "
                                f"or with pip install ./python")
    return path


def get_library() -> str:
    """The path of the shared library, ``.../prpkit/libprpkit.so.<ABI version>``: its file
    name is its SONAME, so a program linked against it finds it again at run time through
    an rpath to its folder (``libs()`` gives the flags)."""
    found = sorted(glob.glob(os.path.join(_HERE, "libprpkit.so.*")))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one libprpkit.so.* in {_HERE}, found {len(found)}: this prpkit was "
                                f"not installed from a wheel or with pip install ./python")
    return found[0]


def cflags() -> str:
    """Compiler flags for prpkit.h: ``-I<get_include()>``."""
    return "-I" + shlex.quote(get_include())


def libs() -> str:
    """Linker flags for the library: ``-L<dir> -l:<file> -Wl,-rpath,<dir>``."""
    lib = get_library()
    folder = shlex.quote(os.path.dirname(lib))
    return f"-L{folder} -l:{os.path.basename(lib)} -Wl,-rpath,{folder}"
