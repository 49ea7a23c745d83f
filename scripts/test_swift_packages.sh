#!/usr/bin/env bash
# Swift packages that use prpkit's core as a dependency, built the way their users build
# them: examples/swift (the library product PRPKit by path) runs a forward pass and a PRP
# heatmap and checks it against CaBRNet + Captum (examples/c/tiny_prp.expected); cli/
# (prpkit-run) reports the header's version, prints `prpkit info`'s text, and takes the Python
# CLI's vocabulary (--location max|H,W|all, --threshold), with the same relevance as
# prpkit.prp_relevance.
# examples/swift is built in release into build_lib.sh's scratch folder with the same
# flags, so the core's compiled objects are reused (≈20 s instead of a second full build);
# cli/ (which also resolves swift-argument-parser) in its own default folder, cli/.build,
# where scripts/run.sh and the docs build find prpkit-run.
# Usage: scripts/test_swift_packages.sh [scratch-path]   (default .build-release;
#        PYTHON selects the interpreter with prpkit installed, for the cross-check)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SCRATCH=$(mkdir -p "${1:-.build-release}" && cd "${1:-.build-release}" && pwd)
build() {  # build PACKAGE-PATH
    swift build -c release -Xswiftc -static-stdlib --scratch-path "$SCRATCH" --package-path "$1" >&2
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

RUN=cli/.build/release/prpkit-run
VERSION=$(bash scripts/version.sh)
status=0
swift build -c release --package-path cli --product prpkit-run >&2 && [ "$("$RUN" --version)" = "prpkit-run $VERSION" ] \
    || status=1
result "prpkit-run --version = prpkit-run $VERSION" "$status"

# One `info`: prpkit-run prints the library's summary exactly as `prpkit info` does (text and
# JSON), for the bundled model (sidecar metadata: description, normalisation) and a fixture.
status=0
BUNDLED=$("$PYTHON" -c 'from prpkit import cli; print(cli.BUNDLED_MODEL)')
for M in "$BUNDLED" Tests/PRPKitTests/Fixtures/models/protopnet_resnet18_layer1.prpkit; do
    for FLAG in "" --json; do
        "$RUN" info --model "$M" $FLAG > "$SCRATCH/info-swift.txt" || status=1
        "$PYTHON" -m prpkit info --model "$M" $FLAG > "$SCRATCH/info-python.txt" || status=1
        cmp -s "$SCRATCH/info-swift.txt" "$SCRATCH/info-python.txt" && [ -s "$SCRATCH/info-swift.txt" ] || {
            status=1; diff "$SCRATCH/info-swift.txt" "$SCRATCH/info-python.txt" | head -10; }
    done
done
result "prpkit-run info = prpkit info, byte for byte (text and --json)" "$status"

# --location all --threshold T: the relevance summed over every location with similarity
# ≥ T, as prpkit explain and prpkit.prp_relevance(location=None); relative 1e-5 on sums.
MODEL=Tests/PRPKitTests/Fixtures/models/protopnet_resnet18_layer1
status=0
"$RUN" prp --model "$MODEL.prpkit" --input "$MODEL.io.safetensors" --prototypes 0,7 --location all --threshold 0.3 \
    > "$SCRATCH/prp-all.log" || status=1
"$RUN" prp --model "$MODEL.prpkit" --input "$MODEL.io.safetensors" --prototypes 0 --location threshold:0.3 \
    > /dev/null 2>&1 && status=1  # the old spelling is refused
"$RUN" prp --model "$MODEL.prpkit" --input "$MODEL.io.safetensors" --prototypes 0 --location 3,4 > /dev/null || status=1
[ "$status" -eq 0 ] && (cd "$SCRATCH" && "$PYTHON" - "$OLDPWD/$MODEL" "$SCRATCH/prp-all.log") <<'PY' || status=1
import re, sys
import numpy as np
import prpkit
from prpkit import _safetensors
from prpkit.prp_utils import get_cabrnet_lrp_composite_model
model, log = sys.argv[1], open(sys.argv[2]).read()
swift = [float(m) for m in re.findall(r"^relevance\[\d+\] prototype \d+ .* sum (\S+)$", log, re.M)]
x = np.ascontiguousarray(_safetensors.load_file(model + ".io.safetensors")[0]["input_0"])
rel, _ = prpkit.prp_relevance(get_cabrnet_lrp_composite_model(prpkit.load(model + ".prpkit")), x, [0, 7],
                              location=None, similarity_threshold=0.3)
python = [float(r.astype(np.float64).sum()) for r in rel.reshape(-1, *rel.shape[2:])]
print(f"swift-packages: --location all sums: prpkit-run {swift}, prpkit.prp_relevance {python}")
assert len(swift) == len(python) == 2 * x.shape[0] and any(abs(v) > 0 for v in python)
assert all(abs(a - b) <= 1e-5 * max(abs(b), 1e-30) for a, b in zip(swift, python))
PY
result "prpkit-run prp --location all --threshold = prpkit.prp_relevance(location=None)" "$status"

echo "swift-packages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
