#!/usr/bin/env bash
# `swift test` under AddressSanitizer and under ThreadSanitizer, each in its own scratch
# folder (.build-address, .build-thread), each bounded by a timeout; prints what each
# run cost. A sanitizer report fails the run (ASan aborts; TSan is made to exit non-zero).
# Usage: scripts/test_sanitizers.sh [address|thread ...]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZERS=("$@")
[ ${#SANITIZERS[@]} -gt 0 ] || SANITIZERS=(address thread)
status=0
for san in "${SANITIZERS[@]}"; do
    t0=$SECONDS
    log=$(mktemp)
    rc=0
    # halt_on_error: the first report fails the run; the Swift backtracer would race the
    # sanitizer's own report.
    ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 TSAN_OPTIONS=halt_on_error=1:exitcode=66 SWIFT_BACKTRACE=enable=no \
        timeout 1500 swift test -Xswiftc -sanitize="$san" --scratch-path ".build-$san" > "$log" 2>&1 || rc=$?
    summary=$(grep -E 'Executed [0-9]+ tests' "$log" | tail -1 | sed 's/^[[:space:]]*//')
    echo "sanitizers: swift test -sanitize=$san: exit $rc in $((SECONDS - t0))s (build + run; ${summary:-no XCTest summary})"
    if [ "$rc" -ne 0 ]; then
        status=1
        grep -E 'ERROR: (Address|Thread)Sanitizer|WARNING: ThreadSanitizer|SUMMARY:|error:|failed' "$log" | head -30
    fi
    rm -f "$log"
done
[ "$status" -eq 0 ]
