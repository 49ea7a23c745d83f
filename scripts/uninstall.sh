#!/usr/bin/env bash
# Removes what scripts/install.sh put under PREFIX (the files of its manifest, then the
# folders it created if they are left empty).
# Usage: scripts/uninstall.sh PREFIX
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/uninstall.sh PREFIX" >&2; exit 2; }
PREFIX=$1
MANIFEST="$PREFIX/share/prpkit/install_manifest.txt"
[ -f "$MANIFEST" ] || { echo "uninstall: no $MANIFEST (prpkit is not installed there)" >&2; exit 1; }
grep -v '^#' "$MANIFEST" | while read -r f; do rm -f "$PREFIX/$f"; done
for d in share/prpkit share lib/cmake/prpkit lib/cmake lib/pkgconfig lib include; do
    rmdir "$PREFIX/$d" 2>/dev/null || true
done
echo "uninstall: removed prpkit from $PREFIX" >&2
