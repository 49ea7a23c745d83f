#!/usr/bin/env bash
# Tests the binary wheel as a new user gets it: a fresh venv (no system site-packages, so
# no torch, no Pillow), PATH without any Swift toolchain, the wheel and NumPy only.
#   1. install: binary wheels only (nothing compiled), then an offline reinstall of the
#      wheel itself (--no-index): it needs no toolchain and no network;
#   2. the numpy-only test pass: python/tests with torch not importable (the modules that
#      need torch or Pillow skip; tests/test_install.py runs prpkit.LRP and prpkit.prp
#      against committed CaBRNet/Captum references, and `prpkit explain` on .npy inputs);
#   3. the main job with Pillow added (prpkit[images]): `prpkit explain` on the bundled
#      model and its PNG samples;
#   4. a C program (examples/c/forward.c) built against the installed wheel's header and
#      library alone (`python -m prpkit --cflags --libs`, i.e. get_include()/get_library()).
# Usage: scripts/test_wheel.sh WHEEL        (PYTHON selects the base interpreter)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/test_wheel.sh WHEEL" >&2; exit 2; }
WHEEL=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")/.."
REPO=$(pwd)
PYTHON=${PYTHON:-python3}
BASE=$("$PYTHON" -c 'import sys; print(sys.base_prefix)')/bin/python3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# PATH without the directories that hold a Swift toolchain.
NOSWIFT=$(echo "$PATH" | tr ':' '\n' | while read -r d; do if [ -n "$d" ] && [ ! -x "$d/swift" ]; then echo "$d"; fi; done \
          | paste -sd: -)
VENV="$WORK/venv"
"$BASE" -m venv "$VENV"
run() { env -u PYTHONPATH PATH="$VENV/bin:$NOSWIFT" "$@"; }
run bash -c '! command -v swift >/dev/null && ! command -v swiftc >/dev/null' \
    || { echo "test_wheel: a Swift toolchain is still on PATH" >&2; exit 1; }

echo "test_wheel: install $(basename "$WHEEL") + numpy (binary only) into a fresh venv, no Swift on PATH"
run python -m pip install -q --disable-pip-version-check --only-binary :all: "$WHEEL" pytest
run python -m pip install -q --disable-pip-version-check --no-index --no-deps --force-reinstall "$WHEEL"
run python -c 'import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ("torch", "PIL")))' \
    || { echo "test_wheel: torch or Pillow is importable in the fresh venv" >&2; exit 1; }

echo "test_wheel: numpy-only test pass"
(cd "$WORK" && run python -m pytest -q -p no:cacheprovider "$REPO/python/tests")

echo "test_wheel: the main job (prpkit explain, bundled model and PNG samples) with prpkit[images]"
run python -m pip install -q --disable-pip-version-check --only-binary :all: "$WHEEL[images]"
(cd "$WORK" && run prpkit explain --out "$WORK/heatmaps" --top-k 3 --quiet)
n=$(wc -l < "$WORK/heatmaps/records.jsonl")
pngs=$(ls "$WORK/heatmaps"/*.png | wc -l)
[ "$n" -eq 30 ] && [ "$pngs" -eq 30 ] \
    || { echo "test_wheel: expected 30 records and 30 overlays (10 samples × top 3), got $n and $pngs" >&2; exit 1; }
echo "test_wheel: explain wrote $n records and $pngs overlays"

echo "test_wheel: examples/c/forward.c against the wheel's prpkit.h and libprpkit.so"
FLAGS=$(cd "$WORK" && run python -m prpkit --cflags --libs)
# shellcheck disable=SC2086
run cc -std=c11 -Wall -Wextra -Werror -O2 examples/c/forward.c -o "$WORK/forward" $FLAGS -lpthread
run "$WORK/forward" examples/c/tiny.prpk > "$WORK/forward.log" \
    || { cat "$WORK/forward.log"; echo "test_wheel: forward.c failed" >&2; exit 1; }
grep -q '^forward.c: 0 check(s) failed' "$WORK/forward.log"
(cd "$WORK" && run python -c 'import os, prpkit; assert os.path.samefile(prpkit.get_include(), os.path.join(os.path.dirname(prpkit.__file__), "include")); print("test_wheel: get_include()", prpkit.get_include(), "get_library()", prpkit.get_library())')
echo "test_wheel: ok"
