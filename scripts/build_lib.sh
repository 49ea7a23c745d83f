#!/usr/bin/env bash
# Builds the self-contained shared library libprpkit.so (Swift runtime linked
# statically; needs only glibc, libstdc++, libm, libgcc_s at run time).
# Usage: scripts/build_lib.sh [scratch-path]   (default .build-release, which setup.py,
# the C tests and the install script share, so one test run builds the library once)
# Prints, on its last line, the path of the library under its SONAME (libprpkit.so.0.1:
# Package.swift derives it from the header's version), a symlink to the built file that
# lets programs linked with -L<that dir> -lprpkit run with an rpath to the same folder.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${1:-.build-release}
# Only the C ABI (prpkit_*) is exported, nothing of Swift (Sources/PRPKitCABI/exports.map;
# checked by scripts/test_abi.sh).
swift build -c release --product prpkit -Xswiftc -static-stdlib --scratch-path "$SCRATCH" \
    -Xlinker --version-script="$PWD/Sources/PRPKitCABI/exports.map" >&2
LIB="$SCRATCH/release/libprpkit.so"
[ -f "$LIB" ] || { echo "build_lib: $LIB not found" >&2; exit 1; }
SONAME=$(readelf -d "$LIB" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
case "$SONAME" in libprpkit.so.*) ;; *) echo "build_lib: unexpected SONAME '$SONAME'" >&2; exit 1 ;; esac
ln -sf libprpkit.so "$SCRATCH/release/$SONAME"
echo "$SCRATCH/release/$SONAME"
