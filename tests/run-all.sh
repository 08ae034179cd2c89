#!/bin/sh
# Everything `make test` runs: the unit tests on the plain build, then the
# unit tests, each fuzz target once over its corpus (tests/fuzz/) and the
# end-to-end tests on the AddressSanitizer + UBSan build. Ends with
# one line adding up every suite: "test: N passed, M failed".
set -u
cd "$(dirname "$0")/.." || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT INT TERM
status=0
# a pipeline's status is tee's: keep make's in a file
{ make --no-print-directory all unit 2>&1; echo "$?" > "$log.rc1"; } | tee -a "$log"
{ make --no-print-directory BUILD=build/san SAN=1 all unit fuzz-replay e2e 2>&1; echo "$?" > "$log.rc2"; } |
    tee -a "$log"
[ "$(cat "$log.rc1")" = 0 ] && [ "$(cat "$log.rc2")" = 0 ] || status=1
rm -f "$log.rc1" "$log.rc2"
passed=0
failed=0
eval "$(awk '
    /^(unit|fuzz): [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
    /^=* *[0-9]+ [a-z]+.* in [0-9.]+s( \([0-9:]+\))?( =*)?$/ {
        for (i = 1; i <= NF; i++) {
            gsub(/,/, "", $(i + 1))
            if ($(i + 1) == "passed") p += $i
            if ($(i + 1) == "failed" || $(i + 1) == "error" || $(i + 1) == "errors") f += $i
        }
    }
    END { printf "passed=%d failed=%d\n", p, f }' "$log")"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1 # a build or runner failure that counted no test
fi
echo "test: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
