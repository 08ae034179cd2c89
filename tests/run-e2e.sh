#!/bin/sh
# End-to-end tests: the real daemon ($MAGPIE_BIN, default build/magpie) against
# the tests' own origin and DNS server on loopback. Exits with pytest's code;
# "no tests collected" (5) counts as a failure.
cd "$(dirname "$0")/.." || exit 1
export PYTHONDONTWRITEBYTECODE=1
/usr/bin/python3 -m pytest -q -p no:cacheprovider -rfE tests/e2e "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "run-e2e: no tests were collected" >&2
    exit 1
fi
exit "$rc"
