#!/bin/sh
# scan_ab.sh - `qorgau scan --image` of two or more builds against the no-op libpcap loop, round
# by round: each round times the no-op loop, then each build (perf stat -e task-clock, CPU
# time), and each build's time is divided by that round's no-op time. Prints, per program, the
# least and median CPU time and the median and least of its per-round ratios: on a shared
# machine whose speed drifts, the per-round ratio compares like with like.
#
# Usage: sh tests/bench/scan_ab.sh NAME ROUNDS QORGAU [QORGAU...]
#   NAME: a capture tests/bench/run.sh made in $QG_BENCH_DIR (build/bench): NAME.pcap, NAME.img
#   (an image every QORGAU given can read)
# Env: QG_TOOLS (build/tools), QG_BENCH_DIR (build/bench). Needs perf.
set -u
[ $# -ge 3 ] || { echo "usage: scan_ab.sh NAME ROUNDS QORGAU [QORGAU...]" >&2; exit 2; }
name=$1
rounds=$2
shift 2
TOOLS=${QG_TOOLS:-build/tools}
DIR=${QG_BENCH_DIR:-build/bench}
command -v perf >/dev/null 2>&1 || { echo "scan_ab: perf is not installed" >&2; exit 2; }
for f in "$DIR/$name.pcap" "$DIR/$name.img" "$TOOLS/pcapnoop"; do
    [ -f "$f" ] || { echo "scan_ab: $f missing (run tests/bench/run.sh first)" >&2; exit 2; }
done
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
cpu() {
    perf stat -x, -e task-clock "$@" 2>&1 >/dev/null | awk -F, '/task-clock/ { print $1 }'
}
r=0
while [ "$r" -lt "$rounds" ]; do
    r=$((r + 1))
    echo "noop $r $(cpu "$TOOLS/pcapnoop" "$DIR/$name.pcap")" >>"$out"
    i=0
    for b in "$@"; do
        i=$((i + 1))
        echo "$i:$b $r $(cpu "$b" scan --image "$DIR/$name.img" "$DIR/$name.pcap")" >>"$out"
    done
done
awk -v name="$name" -v n="$rounds" '
function median(a, k,    i, j, t) { # sorts a[1..k]
    for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return a[int((k + 1) / 2)]
}
$3 == "" { next }
{ t[$1, $2] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++np] = $1 } }
END {
    printf "%s, %d rounds, CPU ms (least / median), per-round ratio to the no-op (median / least):\n", name, n
    for (p = 1; p <= np; p++) {
        k = order[p]; m = 0
        for (r = 1; r <= n; r++) if ((k, r) in t && ("noop", r) in t) { m++; v[m] = t[k, r]; q[m] = t[k, r] / t["noop", r] }
        lo = v[1]; for (i = 2; i <= m; i++) if (v[i] < lo) lo = v[i]
        qlo = q[1]; for (i = 2; i <= m; i++) if (q[i] < qlo) qlo = q[i]
        printf "  %-40s %8.1f / %8.1f   %.3fx / %.3fx\n", k, lo, median(v, m), median(q, m), qlo
    }
}' "$out"
