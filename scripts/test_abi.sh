#!/usr/bin/env bash
# Hardening checks of the shipped library (libprpkit.so) through its C ABI:
#   1. symbols: the library exports exactly the functions declared in include/prpkit.h;
#   2. Tests/CABI/abi_matrix.c: every function with NULLs, bad sizes, ranks, shapes,
#      capacities, NaN/Inf and hostile model images -> the stated status and a message;
#   3. Tests/CABI/loader_limits.c: hostile headers within 8x their size + 48 MiB of memory
#      and 10 s of CPU each;
#   4. Tests/CABI/leak_loop.c under valgrind: zero definitely lost bytes, zero memcheck
#      errors (skipped with a notice when valgrind is missing; scripts/setup.sh installs it).
# Every step has a timeout (a hang fails) and prints what it cost.
# Usage: scripts/test_abi.sh [scratch-path]   (default: build_lib.sh's, shared with the C examples)
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${1:-.build-release}
LIB=$(bash scripts/build_lib.sh "$SCRATCH" | tail -n 1)
LIBDIR=$(cd "$(dirname "$LIB")" && pwd)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

passed=0 failed=0
result() {  # result NAME STATUS SECONDS
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "abi: $1: ok (${3}s)"
    else failed=$((failed + 1)); echo "abi: $1: FAILED (status $2, ${3}s)"; fi
}
build() {  # build NAME SOURCE
    gcc -std=c11 -Wall -Wextra -Werror -O1 -g -Iinclude "$2" -o "$OUT/$1" -L"$LIBDIR" -lprpkit -Wl,-rpath,"$LIBDIR" -lm
}

# 1. Exported symbols == functions declared in the header (static inline helpers excluded).
t0=$SECONDS status=0
grep -oE '^[a-z][a-z_ ]*[ *]+prpkit_[a-z0-9_]+\(' include/prpkit.h | grep -v '^static' \
    | grep -oE 'prpkit_[a-z0-9_]+' | sort -u > "$OUT/declared"
# Global (upper-case type letter) defined dynamic symbols; local ones are not exported.
nm -D --defined-only "$LIB" | awk '$2 ~ /^[A-Z]$/ { print $3 }' | sort -u > "$OUT/exported"
if ! diff "$OUT/declared" "$OUT/exported" > "$OUT/symbols.diff"; then
    echo "abi: exported symbols differ from include/prpkit.h ('<' declared only, '>' exported only):"
    head -20 "$OUT/symbols.diff"; status=1
fi
echo "abi: $(wc -l < "$OUT/exported") exported symbols, $(wc -l < "$OUT/declared") declared functions"
result "exports only the functions of prpkit.h" "$status" $((SECONDS - t0))

# 2. The bad-input matrix.
t0=$SECONDS status=0
build abi_matrix Tests/CABI/abi_matrix.c
mkdir -p "$OUT/matrix"
timeout 300 "$OUT/abi_matrix" examples/c/tiny.prpk examples/c/tiny_prp.prpk "$OUT/matrix" > "$OUT/matrix.log" 2>&1 || status=$?
grep -E 'FAIL|abi_matrix:|mutants' "$OUT/matrix.log" || true
result "bad-input matrix (Tests/CABI/abi_matrix.c)" "$status" $((SECONDS - t0))

# 3. Loader limits on hostile headers.
t0=$SECONDS status=0
build loader_limits Tests/CABI/loader_limits.c
timeout 600 "$OUT/loader_limits" || status=$?
result "loader memory and time bounds (Tests/CABI/loader_limits.c)" "$status" $((SECONDS - t0))

# 4. The life cycle under valgrind. Valgrind cannot read the DWARF 5 debug info Swift
#    emits, so it runs on a copy without debug sections (symbols stay); it lacks AVX-512,
#    so the AVX2 kernels are chosen.
t0=$SECONDS status=0
build leak_loop Tests/CABI/leak_loop.c
if command -v valgrind > /dev/null; then
    mkdir -p "$OUT/vg"
    # The copy keeps the SONAME's file name, so the loader takes it from LD_LIBRARY_PATH
    # instead of the rpath's original (whose debug info makes valgrind give up).
    objcopy --strip-debug "$LIB" "$OUT/vg/$(basename "$LIB")"
    LD_LIBRARY_PATH="$OUT/vg" PRPKIT_ISA_LEVEL=1 timeout 600 valgrind --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite --error-exitcode=99 \
        "$OUT/leak_loop" examples/c/tiny_prp.prpk "$OUT" 3 > "$OUT/valgrind.log" 2>&1 || status=$?
    grep -E 'definitely lost|indirectly lost|ERROR SUMMARY|leak_loop:' "$OUT/valgrind.log" | sed 's/^==[0-9]*== */abi: valgrind: /' || true
    [ "$status" -eq 0 ] || tail -40 "$OUT/valgrind.log"
    result "load/forward/explain/free loop under valgrind: no definite leak, no memory error" "$status" $((SECONDS - t0))
else
    echo "abi: valgrind not installed (scripts/setup.sh installs it): leak loop run without it"
    "$OUT/leak_loop" examples/c/tiny_prp.prpk "$OUT" 3 || status=$?
    result "load/forward/explain/free loop (no valgrind)" "$status" $((SECONDS - t0))
fi

echo "abi: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
