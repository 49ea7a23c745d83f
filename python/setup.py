"""Builds libprpkit.so with SwiftPM and the CPython extension that wraps its C ABI.

The extension talks to the library only through include/prpkit.h. The library and the
header are copied into the package (``prpkit/libprpkit.so*``, ``prpkit/include/prpkit.h``):
the extension finds the library through an $ORIGIN rpath, so the installed package works
from any directory, and C code can build against it (``prpkit.get_include()``).

The Swift sources are the repository around this folder, or, in an sdist, its
``native/`` folder (a copy of Package.swift, Sources/, Tests/, include/ and
scripts/build_lib.sh); ``PRPKIT_SOURCE_DIR`` overrides both. The package version is the
header's PRPKIT_VERSION_* (one number for C, Swift, Python, pkg-config and CMake).
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
NATIVE = "native"  # the Swift sources' folder inside an sdist
NATIVE_FILES = ["Package.swift", "include/prpkit.h", "scripts/build_lib.sh"]
NATIVE_DIRS = ["Sources", "Tests"]  # Package.swift declares the test target: the manifest needs it


def source_root() -> Path:
    if os.environ.get("PRPKIT_SOURCE_DIR"):
        return Path(os.environ["PRPKIT_SOURCE_DIR"]).resolve()
    return HERE / NATIVE if (HERE / NATIVE / "Package.swift").exists() else HERE.parent


ROOT = source_root()
HEADER = ROOT / "include" / "prpkit.h"


def header_version() -> str:
    text = HEADER.read_text(encoding="utf-8")
    parts = [re.search(rf"^#define PRPKIT_VERSION_{p}\s+(\d+)\s*$", text, re.M) for p in ("MAJOR", "MINOR", "PATCH")]
    if not all(parts):
        raise RuntimeError(f"prpkit: {HEADER} lacks PRPKIT_VERSION_MAJOR/MINOR/PATCH")
    return ".".join(m.group(1) for m in parts)


class FreshBuildPy(build_py):
    """Drops Python files that a reused build folder holds from an older tree (a module
    since turned into a package, a removed one): they would be shipped again."""

    def run(self):
        built = Path(self.build_lib) / "prpkit"
        for f in built.rglob("*.py") if built.is_dir() else ():
            if not (HERE / "prpkit" / f.relative_to(built)).exists():
                f.unlink()
        super().run()


class SwiftBuildExt(build_ext):
    def run(self):
        if not (ROOT / "Package.swift").exists():
            raise RuntimeError(f"prpkit: no Package.swift in {ROOT}; set PRPKIT_SOURCE_DIR")
        scratch = ROOT / ".build-release"
        out = subprocess.check_output(["bash", str(ROOT / "scripts" / "build_lib.sh"), str(scratch)], cwd=ROOT,
                                      text=True)
        lib = Path(out.strip().splitlines()[-1])
        lib = lib if lib.is_absolute() else ROOT / lib
        for ext in self.extensions:
            ext.include_dirs.append(str(ROOT / "include"))
            ext.library_dirs.append(str(lib.parent))
            # Relink when the library changes (its SONAME is recorded in the extension).
            ext.depends += [str(lib), str(HEADER)]
        super().run()
        # A reused build folder may hold the extension under another file name (a
        # per-version `_core.cpython-311-*.so` from before the abi3 build): the import system
        # prefers that one, so it would shadow the module just built.
        built = Path(self.get_ext_fullpath("prpkit._core"))
        for old in built.parent.glob("_core.*.so"):
            if old != built:
                old.unlink()
        # Ship the library (named by its SONAME) beside the extension module, and the header
        # for C users; a library of another name left in a reused build folder is removed.
        dest = Path(self.get_ext_fullpath("prpkit._core")).parent
        (dest / "include").mkdir(parents=True, exist_ok=True)
        for old in dest.glob("libprpkit.so*"):
            old.unlink()
        shutil.copy2(lib, dest / lib.name)
        shutil.copy2(HEADER, dest / "include" / "prpkit.h")


class NativeSdist(sdist):
    """An sdist that carries the Swift sources it needs to build (in ``native/``)."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        if ROOT == HERE / NATIVE:  # re-packing an unpacked sdist: native/ is already listed
            return
        dest = Path(base_dir) / NATIVE
        names = list(NATIVE_FILES)
        for top in NATIVE_DIRS:
            for dirpath, dirnames, filenames in os.walk(ROOT / top):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
                rel = Path(dirpath).relative_to(ROOT)
                names += [str(rel / f) for f in sorted(filenames) if not f.startswith(".")]
        for name in names:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)


setup(
    version=header_version(),
    ext_modules=[
        Extension(
            "prpkit._core",
            sources=["src/_core.c", "src/_explainer.c", "src/_metrics.c", "src/_model_info.c"],
            depends=["src/_core.h"],
            libraries=["prpkit"],
            # The stable ABI of CPython 3.11: one binary for every CPython >= 3.11.
            define_macros=[("Py_LIMITED_API", "0x030B0000")],
            py_limited_api=True,
            # Hidden by default: the units share helpers through src/_core.h without exporting
            # them; PyInit__core (PyMODINIT_FUNC) stays the one exported symbol.
            extra_compile_args=["-O2", "-Wall", "-Werror=implicit-function-declaration", "-fvisibility=hidden"],
            extra_link_args=["-Wl,-rpath,$ORIGIN"],
        )
    ],
    cmdclass={"build_py": FreshBuildPy, "build_ext": SwiftBuildExt, "sdist": NativeSdist},
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
)
