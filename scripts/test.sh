#!/usr/bin/env bash
# Runs every prpkit test: Swift core (swift test), the C examples against the shipped
# library, the hardening checks (C ABI matrix, loader limits, valgrind, fuzzing, swift test
# under ASan and TSan), and the Python package (pytest, against live torch/captum/CaBRNet).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

bash scripts/setup.sh

echo "== swift test"
swift test

echo "== C example"
bash scripts/test_c_example.sh

echo "== C ABI hardening (symbols, bad-input matrix, loader limits, valgrind)"
bash scripts/test_abi.sh

echo "== fuzz (60 s per target)"
bash scripts/fuzz.sh 60

echo "== swift test under AddressSanitizer and ThreadSanitizer"
bash scripts/test_sanitizers.sh

echo "== python"
"$PYTHON" -m pip install -q ./python
(cd python && "$PYTHON" -m pytest -q tests)

echo "== C consumers of an installed prefix (pkg-config, CMake); Swift packages using PRPKit"
PYTHON="$PYTHON" bash scripts/test_consumers.sh
PYTHON="$PYTHON" bash scripts/test_swift_packages.sh

echo "== documentation site (mkdocs --strict; references generated from the header, parsers, docstrings)"
PYTHON="$PYTHON" bash scripts/build_docs.sh

echo "== binary wheel in a fresh venv without Swift; sdist"
WHEEL=$(bash scripts/build_wheel.sh dist | tail -n 1)
bash scripts/test_wheel.sh "$WHEEL"
bash scripts/test_sdist.sh dist > /dev/null
