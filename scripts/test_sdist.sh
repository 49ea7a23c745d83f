#!/usr/bin/env bash
# Builds the sdist of python/ into OUTDIR and checks that it can build on a machine with
# Swift: it carries native/ (Package.swift, include/, scripts/build_lib.sh and every file
# git tracks under Sources/ and Tests/), its manifest loads there without resolving any
# dependency (`swift package describe`), and its version is the header's.
# With PRPKIT_TEST_SDIST_BUILD=1 it also builds a wheel from the sdist (a full release
# build of the Swift library from the unpacked sources, ≈1.5–3.5 min here; off by default
# because the test command already builds that library once).
# Usage: scripts/test_sdist.sh OUTDIR       (prints the sdist's path on the last line)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/test_sdist.sh OUTDIR" >&2; exit 2; }
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

rm -f "$OUT"/prpkit-*.tar.gz
"$PYTHON" -m build -q --sdist -o "$OUT" python >&2
SDIST=$(ls "$OUT"/prpkit-*.tar.gz)
VERSION=$(bash scripts/version.sh)
[ "$(basename "$SDIST")" = "prpkit-$VERSION.tar.gz" ] || { echo "test_sdist: $SDIST is not version $VERSION" >&2; exit 1; }
tar -xzf "$SDIST" -C "$WORK"
TOP="$WORK/prpkit-$VERSION"

missing=0
for f in Package.swift include/prpkit.h scripts/build_lib.sh $(git ls-files Sources Tests); do
    [ -f "$TOP/native/$f" ] || { echo "test_sdist: native/$f missing" >&2; missing=1; }
done
for f in LICENSE setup.py pyproject.toml src/_core.c src/_core.h src/_explainer.c src/_metrics.c src/_model_info.c prpkit/__init__.py; do
    [ -f "$TOP/$f" ] || { echo "test_sdist: $f missing" >&2; missing=1; }
done
[ "$missing" -eq 0 ] || exit 1
(cd "$TOP/native" && swift package describe --type json > "$WORK/describe.json")
grep -q '"dependencies" : \[\s*\]' "$WORK/describe.json" || "$PYTHON" - "$WORK/describe.json" <<'PY'
import json, sys
deps = json.load(open(sys.argv[1])).get("dependencies", [])
sys.exit(f"test_sdist: the library's manifest resolves dependencies: {deps}" if deps else 0)
PY
echo "test_sdist: $(basename "$SDIST"): native sources complete, manifest loads without dependencies" >&2

if [ "${PRPKIT_TEST_SDIST_BUILD:-0}" = 1 ]; then
    "$PYTHON" -m pip wheel -q --no-deps -w "$WORK/wheel" "$SDIST" >&2
    ls "$WORK"/wheel/prpkit-"$VERSION"-cp311-abi3-*.whl >&2
fi
echo "$SDIST"
