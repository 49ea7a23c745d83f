#!/usr/bin/env bash
# Swift packages that use prpkit's core as a dependency, built the way their users build
# them: examples/swift (the library product PRPKit by path) runs a forward pass and a PRP
# heatmap and checks it against CaBRNet + Captum (examples/c/tiny_prp.expected).
# They are built in release into build_lib.sh's scratch folder with the same flags, so
# the core's compiled objects are reused (≈20 s instead of a second full build).
# Usage: scripts/test_swift_packages.sh [scratch-path]   (default .build-release)
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=$(mkdir -p "${1:-.build-release}" && cd "${1:-.build-release}" && pwd)
build() {  # build PACKAGE-PATH [PRODUCT]
    swift build -c release -Xswiftc -static-stdlib --scratch-path "$SCRATCH" --package-path "$1" ${2:+--product "$2"} >&2
}

passed=0 failed=0
result() {  # result NAME STATUS
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "swift-packages: $1: ok"
    else failed=$((failed + 1)); echo "swift-packages: $1: FAILED"; fi
}

status=0
build examples/swift && "$SCRATCH/release/prp-example" examples/c/tiny_prp.prpk examples/c/tiny_prp.expected \
    > "$SCRATCH/prp-example.log" || status=1
cat "$SCRATCH/prp-example.log"
grep -q '^prp-example: matches' "$SCRATCH/prp-example.log" || status=1
result "examples/swift (PRPKit by path): forward + PRP heatmap = CaBRNet + Captum" "$status"

echo "swift-packages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
