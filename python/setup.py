"""Builds libprpkit.so with SwiftPM and the CPython extension that wraps its C ABI.

The extension talks to the library only through include/prpkit.h. The library is
copied next to the extension, which finds it through an $ORIGIN rpath, so the
installed package works from any directory.
"""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("PRPKIT_SOURCE_DIR", HERE.parent)).resolve()
SCRATCH = ROOT / ".build-release"


class SwiftBuildExt(build_ext):
    def run(self):
        if not (ROOT / "Package.swift").exists():
            raise RuntimeError(f"prpkit: no Package.swift in {ROOT}; set PRPKIT_SOURCE_DIR")
        subprocess.check_call(["bash", str(ROOT / "scripts" / "build_lib.sh"), str(SCRATCH)], cwd=ROOT)
        lib = SCRATCH / "release" / "libprpkit.so"
        for ext in self.extensions:
            ext.include_dirs.append(str(ROOT / "include"))
            ext.library_dirs.append(str(lib.parent))
        super().run()
        # Ship the library beside the extension module.
        dest = Path(self.get_ext_fullpath("prpkit._core")).parent
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(lib, dest / "libprpkit.so")


setup(
    ext_modules=[
        Extension(
            "prpkit._core",
            sources=["src/_core.c"],
            depends=["src/_explainer.c", "src/_metrics.c"],
            libraries=["prpkit"],
            extra_compile_args=["-O2", "-Wall", "-Werror=implicit-function-declaration"],
            extra_link_args=["-Wl,-rpath,$ORIGIN"],
        )
    ],
    cmdclass={"build_ext": SwiftBuildExt},
)
