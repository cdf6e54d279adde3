# live.sh - sourced by the end-to-end scripts: the PASS/FAIL tally, and skip.sh's
# qg_cannot_run. The caller sets root (the top of the tree) first.
#
#   ok DESCRIPTION / ko DESCRIPTION   one PASS or FAIL line, counted in $pass / $fail
#   check DESCRIPTION COMMAND...      PASS when COMMAND succeeds, FAIL otherwise
. "$root/tests/lib/skip.sh"
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $*"; }
ko() { fail=$((fail + 1)); echo "FAIL $*"; }
check() {
    _d=$1
    shift
    if "$@"; then ok "$_d"; else ko "$_d"; fi
}
