#!/bin/sh
# Runs each fuzz target named, built with replay.c, once over its corpus
# (tests/fuzz/corpus/<name>/): `sh tests/fuzz/replay.sh build/san/fuzz-replay
# request ...`. A crash, sanitizer report or leak fails the target. Ends
# with "fuzz: N passed, M failed", which tests/run-all.sh adds up.
set -u
cd "$(dirname "$0")/../.." || exit 1
dir=$1
shift
passed=0
failed=0
for name in "$@"; do
    if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$dir/fuzz_$name" tests/fuzz/corpus/"$name"; then
        passed=$((passed + 1))
    else
        echo "fuzz_$name: FAILED on its corpus (tests/fuzz/corpus/$name)"
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
