#!/usr/bin/env bash
# Builds the self-contained shared library libprpkit.so (Swift runtime linked
# statically; needs only glibc, libstdc++, libm, libgcc_s at run time).
# Usage: scripts/build_lib.sh [scratch-path]   (default .build-release, which setup.py,
# the C tests and the install script share, so one test run builds the library once)
# Prints the path of the built library on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${1:-.build-release}
swift build -c release --product prpkit -Xswiftc -static-stdlib --scratch-path "$SCRATCH" >&2
LIB="$SCRATCH/release/libprpkit.so"
[ -f "$LIB" ] || { echo "build_lib: $LIB not found" >&2; exit 1; }
echo "$LIB"
