# skip.sh - sourced by the end-to-end scripts: what a live test does when it cannot run here.
#
# CI runs as root with every package installed, so a live test that cannot run means a broken
# install: it fails. A caller who knows the machine cannot run it (no root, no namespaces) opts
# out explicitly with QG_ALLOW_SKIP=1; the suite then exits 77 and `make check`'s summary counts
# it as skipped (tests/run_suite.sh).

# qg_cannot_run NAME WHY - ends the script: fails, or skips when QG_ALLOW_SKIP=1.
qg_cannot_run() {
    if [ "${QG_ALLOW_SKIP:-0}" = 1 ]; then
        echo "$1: SKIP ($2; QG_ALLOW_SKIP=1)"
        echo "$1: 0 passed, 0 failed, 1 skipped"
        exit 77
    fi
    echo "FAIL $1: cannot run: $2 (QG_ALLOW_SKIP=1 skips it where that is expected)"
    echo "$1: 0 passed, 1 failed"
    exit 1
}
