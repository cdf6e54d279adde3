#!/bin/sh
# run_suite.sh - runs one test suite (a Check binary or an end-to-end script) and records its
# outcome for the closing summary of `make check`.
#
# Usage: tests/run_suite.sh RESULTS LABEL COMMAND [ARG...]
#   Exit status of COMMAND: 0 passed, 77 skipped, anything else failed. A suite exits 77 only
#   when the caller allowed skipping (QG_ALLOW_SKIP=1) and it cannot run here (not root, a
#   package missing); without that permission such a suite fails. Appends "pass|skip|fail LABEL"
#   to RESULTS, prints the seconds the suite took, and exits 0 for pass or skip, 1 for fail.
set -u
# Check's per-test default (4 s) is shorter than a busy CI disk makes some fsync-heavy tests; a
# test that needs longer sets its own timeout, this only raises the floor for the others.
export CK_DEFAULT_TIMEOUT="${CK_DEFAULT_TIMEOUT:-30}"
results=$1 label=$2
shift 2
echo "== $label"
t0=$(date +%s)
"$@"
rc=$?
secs=$(($(date +%s) - t0))
case $rc in
0) outcome=pass ;;
77) outcome=skip ;;
*) outcome=fail ;;
esac
[ "$outcome" = fail ] && echo "== $label: FAILED (exit $rc, ${secs}s)"
[ "$outcome" = pass ] && echo "== $label: passed in ${secs}s"
[ "$outcome" = skip ] && echo "== $label: SKIPPED (QG_ALLOW_SKIP=1)"
echo "$outcome $label" >>"$results"
[ "$outcome" != fail ]
