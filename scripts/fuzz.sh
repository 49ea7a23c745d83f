#!/usr/bin/env bash
# Builds and runs prpkit's coverage-guided fuzz targets (Tests/Fuzz):
#   ModelLoad        a model file image through prpkit_model_load_from_memory (+ re-encode,
#                    shape queries, a forward pass on small graphs)
#   ExplainerConfig  an explainer configuration through prpkit_explainer_create on
#                    examples/c/tiny_prp.prpk (+ rules JSON round trip)
# Every Swift target is compiled with `-sanitize=fuzzer,address` (release), so libFuzzer
# sees the coverage of prpkit's own code and AddressSanitizer/LeakSanitizer watch it.
# The corpus starts from Tests/Fuzz/corpus (and examples/c/*.prpk) and grows in
# .build-fuzz/corpus/<target> across runs; crashing inputs land in
# .build-fuzz/findings/<target>/ and fail the run.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [TARGET...]
# Long runs (say an hour per target, both cores):
#   bash scripts/fuzz.sh 3600                      # or, per target, in parallel:
#   FUZZ_JOBS=2 bash scripts/fuzz.sh 3600 ModelLoad
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(ModelLoad ExplainerConfig)
SCRATCH=.build-fuzz
JOBS=${FUZZ_JOBS:-1}

t0=$SECONDS
for target in "${TARGETS[@]}"; do
    # The linker warns about ASan's local helper symbols; that noise is dropped.
    PRPKIT_FUZZ=1 swift build -c release --product "prpkit-fuzz-$target" --scratch-path "$SCRATCH" \
        -Xswiftc -sanitize=fuzzer,address 2>&1 | grep -v "Cannot export local symbol" | tail -n 3
done
echo "fuzz: build took $((SECONDS - t0))s"

status=0
for target in "${TARGETS[@]}"; do
    t1=$SECONDS
    bin="$SCRATCH/release/prpkit-fuzz-$target"
    corpus="$SCRATCH/corpus/$target"
    findings="$SCRATCH/findings/$target"
    mkdir -p "$corpus" "$findings"
    case $target in
        ModelLoad) seeds=(Tests/Fuzz/corpus/model/* examples/c/*.prpk); dict=Tests/Fuzz/model.dict ;;
        ExplainerConfig) seeds=(Tests/Fuzz/corpus/config/*); dict=Tests/Fuzz/config.dict ;;
        *) echo "fuzz: unknown target $target" >&2; exit 2 ;;
    esac
    cp -n "${seeds[@]}" "$corpus/"
    log="$SCRATCH/fuzz-$target.log"
    # -timeout: one input may take at most 10 s; -rss_limit_mb: at most 2 GiB (a hostile
    # input that needs more is a finding); -max_len: the largest seed fits.
    if [ "$JOBS" -gt 1 ]; then extra=(-jobs="$JOBS" -workers="$JOBS"); else extra=(); fi
    rc=0
    # The Swift runtime's backtracer would race ASan's and libFuzzer's crash handling.
    # One kernel thread: deterministic and, on 2 cores, faster per input.
    PRPKIT_NUM_THREADS=1 SWIFT_BACKTRACE=enable=no timeout $((SECONDS_PER_TARGET + 120)) "$bin" "$corpus" -dict="$dict" -max_total_time="$SECONDS_PER_TARGET" \
        -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" \
        "${extra[@]}" > "$log" 2>&1 || rc=$?
    edges=$(grep -oE 'Loaded 1 modules +\([0-9]+ inline 8-bit counters' "$log" | grep -oE '[0-9]+ inline' | grep -oE '[0-9]+' | head -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
    cov=$(echo "$last" | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+')
    ft=$(echo "$last" | grep -oE 'ft: [0-9]+' | grep -oE '[0-9]+')
    corp=$(echo "$last" | grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' | cut -d' ' -f2)
    echo "fuzz: $target: ${runs:-?} executions in $((SECONDS - t1))s, coverage ${cov:-?} of ${edges:-?} edges" \
         "(features ${ft:-?}, corpus ${corp:-?}), exit $rc"
    if [ "$rc" -ne 0 ]; then
        status=1
        echo "fuzz: $target: FINDING (inputs in $findings):"
        grep -E 'ERROR|prpkit fuzz finding|Fatal error|SUMMARY|Test unit written' "$log" | head -20
    fi
done
[ "$status" -eq 0 ]
