#!/usr/bin/env bash
# Builds libprpkit.so, compiles examples/c/forward.c against include/prpkit.h with
# gcc -Wall -Werror, runs it on examples/c/tiny.prpk and compares every output value
# with examples/c/tiny.expected (float64 NumPy reference; |got - want| <= 1e-5 + 1e-5·|want|).
# Usage: scripts/test_c_example.sh [scratch-path]   (default .build)
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${1:-.build}
LIB=$(bash scripts/build_lib.sh "$SCRATCH" | tail -n 1)
LIBDIR=$(cd "$(dirname "$LIB")" && pwd)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# The shipped library must be self-contained: SONAME set, only system C/C++ runtimes.
readelf -d "$LIB" | grep -q 'SONAME.*\[libprpkit.so\]' || { echo "c-example: SONAME missing" >&2; exit 1; }
if readelf -d "$LIB" | grep NEEDED | grep -vE '\[(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^]]*)\.so[^]]*\]'; then
    echo "c-example: unexpected shared-library dependency (above)" >&2; exit 1
fi

# The committed fixture must be what its generator writes (when NumPy is available).
if python3 -c "import numpy" 2>/dev/null; then
    python3 examples/c/make_tiny_model.py "$OUT"
    cmp "$OUT/tiny.prpk" examples/c/tiny.prpk
    cmp "$OUT/tiny.expected" examples/c/tiny.expected
fi

gcc -std=c11 -Wall -Wextra -Werror -O2 -Iinclude examples/c/forward.c -o "$OUT/forward" \
    -L"$LIBDIR" -lprpkit -Wl,-rpath,"$LIBDIR" -lpthread
"$OUT/forward" examples/c/tiny.prpk | tee "$OUT/log"

passed=0 failed=0
if awk '
    FNR == NR { if ($0 !~ /^#/) { want[$1 " " $2] = $3 }; next }
    $1 == "value" { got[$2 " " $3] = $4 }
    END {
        bad = 0
        for (k in want) {
            if (!(k in got)) { print "missing " k; bad = 1; continue }
            d = got[k] - want[k]; if (d < 0) d = -d
            w = want[k]; if (w < 0) w = -w
            if (d > 1e-5 + 1e-5 * w) { print "mismatch " k ": got " got[k] ", want " want[k]; bad = 1 }
        }
        for (k in got) if (!(k in want)) { print "unexpected " k; bad = 1 }
        exit bad
    }' examples/c/tiny.expected "$OUT/log"; then
    passed=1
else
    failed=1
fi
echo "c-example: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
