#!/usr/bin/env bash
# `swift test` under AddressSanitizer and under ThreadSanitizer, each in its own scratch
# folder (.build-address, .build-thread), each bounded by a timeout; prints what each
# run cost. A sanitizer report fails the run (ASan aborts; TSan is made to exit non-zero).
# Usage: scripts/test_sanitizers.sh [address|thread ...]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZERS=("$@")
[ ${#SANITIZERS[@]} -gt 0 ] || SANITIZERS=(address thread)
# Under ThreadSanitizer (5-20x slower) the numerical shape sweeps of the kernels are
# skipped: they took 145 of its 205 s here and add no thread interleaving that the thread
# count tests (Conv2dKernelTests.testThreadCountsAndISALevels, GEMMTests.testThreadCounts,
# LinearKernelTests.testLargeAndThreads) and ConcurrencyTests do not have. AddressSanitizer
# runs everything: out-of-bounds accesses at block edges are what those sweeps find.
TSAN_SKIP='Conv2dKernelTests/(testSmallMaps|testLargerLayers|testPointwise)$|GEMMTests/testBlockBoundaries$'
status=0
for san in "${SANITIZERS[@]}"; do
    skip=()
    [ "$san" = thread ] && skip=(--skip "$TSAN_SKIP")
    t0=$SECONDS
    log=".build-$san/test.log"  # kept: the whole report, for a failure's details
    mkdir -p ".build-$san"
    rc=0
    # halt_on_error: the first report fails the run; the Swift backtracer would race the
    # sanitizer's own report.
    ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 TSAN_OPTIONS=halt_on_error=1:exitcode=66 SWIFT_BACKTRACE=enable=no \
        timeout 1500 swift test -Xswiftc -sanitize="$san" --scratch-path ".build-$san" "${skip[@]}" > "$log" 2>&1 || rc=$?
    summary=$(grep -E 'Executed [0-9]+ tests' "$log" | tail -1 | sed 's/^[[:space:]]*//')
    echo "sanitizers: swift test -sanitize=$san: exit $rc in $((SECONDS - t0))s (build + run; ${summary:-no XCTest summary})"
    if [ "$rc" -ne 0 ]; then
        status=1
        grep -E 'ERROR: (Address|Thread)Sanitizer|WARNING: ThreadSanitizer|SUMMARY:|error:|failed' "$log" | head -30
    fi
done
[ "$status" -eq 0 ]
