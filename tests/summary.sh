#!/bin/sh
# summary.sh - the closing lines of `make check`: every failed and skipped suite by name, then
# "check: N passed, M failed, K skipped" over the result files run_suite.sh wrote.
# Usage: tests/summary.sh RESULTS...   Exits 1 when a suite failed or no suite ran.
set -u
pass=0 fail=0 skip=0
for f in "$@"; do
    [ -f "$f" ] || { echo "check: no results in $f (the suites did not run)"; fail=$((fail + 1)); continue; }
    while read -r outcome label; do
        case $outcome in
        pass) pass=$((pass + 1)) ;;
        skip) skip=$((skip + 1)); echo "skipped: $label" ;;
        *) fail=$((fail + 1)); echo "failed:  $label" ;;
        esac
    done <"$f"
done
[ $((pass + fail + skip)) -gt 0 ] || { echo "check: no suite ran"; exit 1; }
echo "check: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
