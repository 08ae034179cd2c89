#!/bin/sh
# Runs each libFuzzer target named for FUZZ_SECONDS (default 60) under ASan
# + UBSan: `sh tests/fuzz/run.sh build/fuzz request response ...`. Each
# works on its own corpus copy in build/fuzz/corpus/<name> (seeded from
# tests/fuzz/corpus/<name>; new inputs never land in the repository), with
# its dictionary when there is one. A crash, leak, timeout (FUZZ_TIMEOUT s
# per input) or memory blow-up (FUZZ_RSS_MB) fails the run; the input that
# did it is in build/fuzz/artifacts/<name>/. Ends with "fuzz: N passed, M
# failed" and prints executions per second per target.
set -u
cd "$(dirname "$0")/../.." || exit 1
dir=$1
shift
seconds=${FUZZ_SECONDS:-60}
timeout=${FUZZ_TIMEOUT:-10}
rss=${FUZZ_RSS_MB:-2048}
passed=0
failed=0
for name in "$@"; do
    bin=$dir/fuzz_$name
    work=$dir/corpus/$name
    art=$dir/artifacts/$name
    log=$dir/logs/$name.log
    mkdir -p "$work" "$art" "$dir/logs"
    cp tests/fuzz/corpus/"$name"/* "$work"/
    dict=tests/fuzz/$name.dict
    case $name in request | response) dict=tests/fuzz/http.dict ;; esac
    set -- -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb="$rss" \
        -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$art/"
    [ -f "$dict" ] && set -- "$@" -dict="$dict"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
        "$bin" "$@" "$work" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ] && [ -z "$(ls -A "$art")" ]; then
        passed=$((passed + 1))
        echo "fuzz_$name: ok, ${execs:-?} runs in ${seconds}s, ${rate:-?} exec/s, corpus $(find "$work" -type f | wc -l)"
    else
        failed=$((failed + 1))
        tail -n 60 "$log"
        echo "fuzz_$name: FAILED (status $rc); input in $art/, log $log"
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
