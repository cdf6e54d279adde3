#!/bin/sh
# scan_cpu.sh - CPU time (perf task-clock) of the no-op loop, `qorgau scan --rules` and
# `qorgau scan --image` over one of run.sh's captures, interleaved round by round so that the
# load of other jobs falls on all alike; prints the least and the median of each and their
# ratios to the no-op's, then the median and least of each round's ratio to that round's no-op.
#
# Usage: sh tests/bench/scan_cpu.sh NAME [ROUNDS [OTHER_QORGAU]]
#   NAME: a capture run.sh made in $QG_BENCH_DIR (build/bench): NAME.pcap, NAME.rules, NAME.img
#   OTHER_QORGAU: a second binary timed with --rules and --image too (an older build, for
#   before/after)
# Env: QG_BIN (build/qorgau), QG_TOOLS (build/tools), QG_BENCH_DIR (build/bench),
#   QG_OTHER_IMG_DIR (QG_BENCH_DIR): where OTHER_QORGAU's NAME.img is (one it can read: an older
#   build may read another image format); QG_BENCH_CPU: a CPU every run is pinned to (taskset):
#   on a VM whose virtual CPUs run at different speeds (one of this kind's two was 40 % slower
#   than the other for the same scan), runs that land on either CPU make the times bimodal.
#   Needs perf.
set -u
name=$1
rounds=${2:-5}
other=${3:-}
BIN=${QG_BIN:-build/qorgau}
TOOLS=${QG_TOOLS:-build/tools}
DIR=${QG_BENCH_DIR:-build/bench}
ODIR=${QG_OTHER_IMG_DIR:-$DIR}
command -v perf >/dev/null 2>&1 || { echo "scan_cpu: perf is not installed" >&2; exit 2; }
for f in "$DIR/$name.pcap" "$DIR/$name.rules" "$DIR/$name.img"; do
    [ -f "$f" ] || { echo "scan_cpu: $f missing (run tests/bench/run.sh first)" >&2; exit 2; }
done
pin=
if [ -n "${QG_BENCH_CPU:-}" ]; then
    command -v taskset >/dev/null 2>&1 || { echo "scan_cpu: QG_BENCH_CPU needs taskset" >&2; exit 2; }
    pin="taskset -c $QG_BENCH_CPU"
fi
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
progs="noop rules image"
[ -n "$other" ] && progs="noop other other_image rules image"
r=0
while [ "$r" -lt "$rounds" ]; do
    r=$((r + 1))
    for k in $progs; do
        case $k in
        noop) set -- "$TOOLS/pcapnoop" "$DIR/$name.pcap" ;;
        other) set -- "$other" scan --rules "$DIR/$name.rules" "$DIR/$name.pcap" ;;
        other_image) set -- "$other" scan --image "$ODIR/$name.img" "$DIR/$name.pcap" ;;
        rules) set -- "$BIN" scan --rules "$DIR/$name.rules" "$DIR/$name.pcap" ;;
        image) set -- "$BIN" scan --image "$DIR/$name.img" "$DIR/$name.pcap" ;;
        esac
        $pin perf stat -x, -e task-clock "$@" 2>&1 >/dev/null |
            awk -F, -v k="$k" -v r="$r" '/task-clock/ { print k, $1, r }' >>"$out"
    done
done
for k in $progs; do
    awk -v k="$k" '$1 == k { print $2 }' "$out" | sort -n |
        awk -v k="$k" '{ a[NR] = $1 } END { print k, a[1], a[int((NR + 1) / 2)] }'
done | awk -v name="$name" -v n="$rounds" '{ lo[$1] = $2; md[$1] = $3 }
function show(label, k) {
    printf "; %s %.0f ms (%.1fx), median %.0f ms (%.1fx)", label, lo[k], lo[k] / lo["noop"], md[k], md[k] / md["noop"]
}
END {
    printf "%s, least CPU of %d rounds: pcapnoop %.0f ms (median %.0f ms)", name, n, lo["noop"], md["noop"]
    if ("other" in lo) {
        show("other --rules", "other")
        show("other --image", "other_image")
    }
    show("--rules", "rules")
    show("--image", "image")
    printf "\n"
}'
# each round's time divided by that round's no-op time: on a machine whose speed drifts this
# compares like with like better than the least or median times
awk -v name="$name" '
function median(a, m,    i, j, t) {
    for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return a[int((m + 1) / 2)]
}
{ t[$1, $3] = $2; if (!($1 in seen)) { seen[$1] = 1; order[++np] = $1 }; if ($3 > nr) nr = $3 }
END {
    printf "%s, per-round ratio to the no-op (median, least):", name
    for (p = 2; p <= np; p++) {
        k = order[p]; m = 0
        for (r = 1; r <= nr; r++) if ((k, r) in t && ("noop", r) in t && t["noop", r] > 0) q[++m] = t[k, r] / t["noop", r]
        lo = q[1]; for (i = 2; i <= m; i++) if (q[i] < lo) lo = q[i]
        printf " %s %.3fx, %.3fx;", k, median(q, m), lo
    }
    printf "\n"
}' "$out"
