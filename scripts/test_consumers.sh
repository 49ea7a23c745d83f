#!/usr/bin/env bash
# C consumers of an installed prpkit (the test command runs this; the wheel's own C
# consumer is in scripts/test_wheel.sh):
#   1. scripts/install.sh into a temporary prefix, then the prefix is MOVED elsewhere
#      (relocatable: no absolute path in the .pc/.cmake files or the manifest);
#   2. examples/c/forward.c built with `cc $(pkg-config --cflags --libs prpkit)` and run;
#   3. examples/c (forward.c, prp.c) built with CMake's find_package(prpkit) and run;
#   4. `pkg-config --modversion prpkit` = prpkit_version() (examples/c/version.c) = the
#      installed Python package's version;
#   5. scripts/uninstall.sh leaves the prefix empty.
# The library is built once (scripts/build_lib.sh, shared with the other tests).
# Usage: scripts/test_consumers.sh          (PYTHON selects the interpreter with prpkit installed)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

passed=0 failed=0
result() {  # result NAME STATUS
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "consumers: $1: ok"
    else failed=$((failed + 1)); echo "consumers: $1: FAILED"; fi
}

bash scripts/install.sh "$WORK/staged"
mv "$WORK/staged" "$WORK/prefix"
P="$WORK/prefix"
VERSION=$(bash scripts/version.sh)

# 1. Layout: SONAME, its symlinks, no absolute paths in the text files.
status=0
SONAME=$(readelf -d "$P/lib/libprpkit.so.$VERSION" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$(readlink "$P/lib/libprpkit.so")" = "$SONAME" ] && [ "$(readlink "$P/lib/$SONAME")" = "libprpkit.so.$VERSION" ] \
    && [ -f "$P/include/prpkit.h" ] || status=1
if grep -l -e "$REPO" -e "$WORK" "$P"/lib/pkgconfig/prpkit.pc "$P"/lib/cmake/prpkit/*.cmake "$P"/share/prpkit/*; then
    status=1
fi
while read -r f; do [ -e "$P/$f" ] || { echo "manifest lists missing $f"; status=1; }; done < <(grep -v '^#' "$P/share/prpkit/install_manifest.txt")
[ "$(find "$P" ! -type d | wc -l)" -eq "$(grep -vc '^#' "$P/share/prpkit/install_manifest.txt")" ] || status=1
result "install layout ($SONAME, symlinks, manifest, no absolute paths)" "$status"

# 2. pkg-config.
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
status=0
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -O2 examples/c/forward.c -o "$WORK/forward-pc" $(pkg-config --cflags --libs prpkit) \
    -Wl,-rpath,"$(pkg-config --variable=libdir prpkit)" -lpthread || status=1
[ "$status" -eq 0 ] && { "$WORK/forward-pc" examples/c/tiny.prpk > "$WORK/pc.log" || status=1; }
grep -q '^forward.c: 0 check(s) failed' "$WORK/pc.log" 2>/dev/null || status=1
readelf -d "$WORK/forward-pc" | grep -q "NEEDED.*\[$SONAME\]" || status=1
result "forward.c via pkg-config (linked to $SONAME, its checks pass)" "$status"

# 3. CMake.
status=0
cmake -S examples/c -B "$WORK/cmake" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release > "$WORK/cmake.log" 2>&1 \
    && cmake --build "$WORK/cmake" >> "$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log"; status=1; }
if [ "$status" -eq 0 ]; then
    "$WORK/cmake/forward" examples/c/tiny.prpk > "$WORK/cmake-forward.log" || status=1
    grep -q '^forward.c: 0 check(s) failed' "$WORK/cmake-forward.log" || status=1
    "$WORK/cmake/prp" examples/c/tiny_prp.prpk examples/c/tiny_prp.expected > "$WORK/cmake-prp.log" || status=1
    grep -q '^prp.c: all checks passed' "$WORK/cmake-prp.log" || status=1
fi
result "forward.c and prp.c via CMake find_package(prpkit) -> prpkit::prpkit" "$status"

# 4. One version number.
status=0
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror examples/c/version.c -o "$WORK/version" $(pkg-config --cflags --libs prpkit) \
    -Wl,-rpath,"$P/lib" && "$WORK/version" > "$WORK/version.log" || status=1
lib=$(sed -n 's/^library //p' "$WORK/version.log")
pc=$(pkg-config --modversion prpkit)
py=$(cd "$WORK" && "$PYTHON" -c 'import prpkit; print(prpkit.__version__)')
echo "consumers: versions: header $VERSION, prpkit_version() $lib, pkg-config $pc, Python $py"
[ "$lib" = "$VERSION" ] && [ "$pc" = "$VERSION" ] && [ "$py" = "$VERSION" ] || status=1
result "pkg-config --modversion = prpkit_version() = Python package version" "$status"

# 5. Uninstall.
status=0
bash scripts/uninstall.sh "$P" && [ -z "$(ls -A "$P")" ] || status=1
result "uninstall leaves the prefix empty" "$status"

echo "consumers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
