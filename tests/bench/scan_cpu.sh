#!/bin/sh
# scan_cpu.sh - CPU time (perf task-clock) of the no-op loop, `qorgau scan --rules` and
# `qorgau scan --image` over one of run.sh's captures, interleaved round by round so that the
# load of other jobs falls on all alike; prints the least of each and its ratio to the no-op.
#
# Usage: sh tests/bench/scan_cpu.sh NAME [ROUNDS [OTHER_QORGAU]]
#   NAME: a capture run.sh made in $QG_BENCH_DIR (build/bench): NAME.pcap, NAME.rules, NAME.img
#   OTHER_QORGAU: a second binary timed with --rules too (an older build, for before/after)
# Env: QG_BIN (build/qorgau), QG_TOOLS (build/tools), QG_BENCH_DIR (build/bench). Needs perf.
set -u
name=$1
rounds=${2:-5}
other=${3:-}
BIN=${QG_BIN:-build/qorgau}
TOOLS=${QG_TOOLS:-build/tools}
DIR=${QG_BENCH_DIR:-build/bench}
command -v perf >/dev/null 2>&1 || { echo "scan_cpu: perf is not installed" >&2; exit 2; }
for f in "$DIR/$name.pcap" "$DIR/$name.rules" "$DIR/$name.img"; do
    [ -f "$f" ] || { echo "scan_cpu: $f missing (run tests/bench/run.sh first)" >&2; exit 2; }
done
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
progs="noop rules image"
[ -n "$other" ] && progs="noop other rules image"
r=0
while [ "$r" -lt "$rounds" ]; do
    r=$((r + 1))
    for k in $progs; do
        case $k in
        noop) set -- "$TOOLS/pcapnoop" "$DIR/$name.pcap" ;;
        other) set -- "$other" scan --rules "$DIR/$name.rules" "$DIR/$name.pcap" ;;
        rules) set -- "$BIN" scan --rules "$DIR/$name.rules" "$DIR/$name.pcap" ;;
        image) set -- "$BIN" scan --image "$DIR/$name.img" "$DIR/$name.pcap" ;;
        esac
        perf stat -x, -e task-clock "$@" 2>&1 >/dev/null | awk -F, -v k="$k" '/task-clock/ { print k, $1 }' >>"$out"
    done
done
awk -v name="$name" -v n="$rounds" '{ if (!($1 in m) || $2 < m[$1]) m[$1] = $2 }
END {
    printf "%s, least CPU of %d rounds: pcapnoop %.0f ms", name, n, m["noop"]
    if ("other" in m) printf "; other --rules %.0f ms (%.1fx)", m["other"], m["other"] / m["noop"]
    printf "; --rules %.0f ms (%.1fx); --image %.0f ms (%.1fx)\n", m["rules"], m["rules"] / m["noop"], m["image"], m["image"] / m["noop"]
}' "$out"
