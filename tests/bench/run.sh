#!/bin/sh
# run.sh - throughput benchmark of `qorgau scan` against a no-op pcap read loop and nDPI.
#
# Usage: sh tests/bench/run.sh [QORGAU_BIN [TOOLS_DIR]]   (make bench passes both)
# Env:   QG_BENCH_PACKETS (1000000), QG_BENCH_FLOWS (60000), QG_BENCH_SEED (1),
#        QG_BENCH_MOBILE_PACKETS (250000), QG_BENCH_MOBILE_FLOWS (25000),
#        QG_BENCH_DIR (build/bench), QG_BENCH_RUNS (3), QG_BENCH_NDPI (1; 0 skips nDPI),
#        QG_BENCH_CPU: a CPU every timed run is pinned to (taskset; docs/BENCHMARKS.md
#        "Reading in 128 KiB steps": this kind of VM's two CPUs run at different speeds)
# Two captures: "bench" (16 packets per flow) and "mobile" (about 10 packets per flow: many short
# flows, the shape of mobile traffic). For each:
# 1. genpcap writes $QG_BENCH_DIR/NAME.pcap + NAME.rules once; they are reused while the
#    parameters and the genpcap binary are unchanged (NAME.params records them); `qorgau rules
#    compile` writes NAME.img from NAME.rules.
# 2. Times, best of QG_BENCH_RUNS by wall clock (CPU = user + sys of that run):
#      pcapnoop NAME.pcap                                   (libpcap read loop, the baseline)
#      qorgau scan --rules NAME.rules NAME.pcap >/dev/null  (the lists compiled in the run)
#      qorgau scan --image NAME.img NAME.pcap >/dev/null    (compiled beforehand: mapped)
#      ndpiReader -i NAME.pcap -q -v 0                      (Debian libndpi-bin, quiet)
#    and prints a markdown table: packets/s, Gbit/s (frame bytes), time relative to the no-op
#    run in the same invocation.
# 3. Runs TOOLS_DIR/bench_match --domains 1000000 --urls 1000000 if it was built.
# Every step is bounded by `timeout`, so the whole run stays within about five minutes.
set -u

BIN=${1:-build/qorgau}
TOOLS=${2:-build/tools}
OUT=${QG_BENCH_DIR:-build/bench}
SEED=${QG_BENCH_SEED:-1}
RUNS=${QG_BENCH_RUNS:-3}
pin=
if [ -n "${QG_BENCH_CPU:-}" ]; then
    command -v taskset >/dev/null 2>&1 || { echo "bench: QG_BENCH_CPU needs taskset" >&2; exit 2; }
    pin="taskset -c $QG_BENCH_CPU"
fi

mkdir -p "$OUT" || exit 2
for t in genpcap pcapnoop; do
    if [ ! -x "$TOOLS/$t" ]; then
        echo "bench: $TOOLS/$t is not built (make $TOOLS/$t)" >&2
        exit 2
    fi
done

if [ -x /usr/bin/time ]; then
    have_time=1
else
    have_time=0
    echo "bench: /usr/bin/time not found (Debian package 'time'): CPU column left empty" >&2
fi

# timeit NAME LIMIT_SECONDS CMD... : runs CMD RUNS times (stdout to /dev/null, stderr kept in
# $OUT/NAME.err), sets best_wall / best_cpu (seconds) and run_rc (0 unless a run failed).
timeit() {
    name=$1
    limit=$2
    shift 2
    best_wall=""
    best_cpu=""
    run_rc=0
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        i=$((i + 1))
        t0=$(date +%s.%N)
        if [ "$have_time" = 1 ]; then
            timeout "$limit" $pin /usr/bin/time -f "%U %S" -o "$OUT/$name.time" "$@" >/dev/null 2>"$OUT/$name.err"
            rc=$?
        else
            timeout "$limit" $pin "$@" >/dev/null 2>"$OUT/$name.err"
            rc=$?
        fi
        t1=$(date +%s.%N)
        w=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
        c=""
        if [ "$have_time" = 1 ] && [ "$rc" -eq 0 ]; then
            # (after a failed command time(1) writes "Command exited..." first: last line)
            c=$(tail -n 1 "$OUT/$name.time" | awk '{ printf "%.2f", $1 + $2 }')
        fi
        if [ "$rc" -ne 0 ]; then
            run_rc=$rc
            return
        fi
        if [ -z "$best_wall" ] || awk -v a="$w" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then
            best_wall=$w
            best_cpu=$c
        fi
    done
}

# row NAME : appends a table row for the last timeit
row() {
    if [ "$run_rc" -ne 0 ]; then
        rows="$rows| $1 | failed (exit $run_rc, see $OUT/$2.err) | | | | |
"
        return
    fi
    line=$(awk -v n="$1" -v w="$best_wall" -v c="$best_cpu" -v p="$npkts" -v b="$nbytes" -v z="$noop_wall" 'BEGIN {
        if (w <= 0) w = 0.01
        r = (z != "" && z > 0) ? sprintf("%.1fx", w / z) : "1.0x"
        printf "| %s | %.3f | %s | %.0f | %.2f | %s |", n, w, c, p / w, b * 8 / w / 1e9, r }')
    rows="$rows$line
"
}

# capture NAME PACKETS FLOWS : generates (cached), times and prints the table of one capture
capture() {
    NAME=$1
    CAP=$OUT/$1.pcap
    RULES=$OUT/$1.rules
    IMG=$OUT/$1.img
    params="packets=$2 flows=$3 seed=$SEED"
    if [ -f "$CAP" ] && [ -f "$RULES" ] && [ -f "$OUT/$NAME.params" ] &&
        [ "$(cat "$OUT/$NAME.params")" = "$params" ] && [ ! "$TOOLS/genpcap" -nt "$CAP" ]; then
        echo "bench: reusing $CAP ($params)"
    else
        echo "bench: generating $CAP ($params)"
        rm -f "$OUT/$NAME.params"
        if ! timeout 300 "$TOOLS/genpcap" "$CAP" --packets "$2" --flows "$3" --seed "$SEED"; then
            echo "bench: genpcap failed" >&2
            exit 2
        fi
        echo "$params" >"$OUT/$NAME.params"
    fi

    # Packet and byte counts of the capture, from the baseline tool itself.
    info=$("$TOOLS/pcapnoop" "$CAP") || { echo "bench: pcapnoop cannot read $CAP" >&2; exit 2; }
    npkts=$(echo "$info" | sed 's/.*"packets":\([0-9]*\).*/\1/')
    nbytes=$(echo "$info" | sed 's/.*"bytes":\([0-9]*\).*/\1/')
    echo "bench: $npkts packets, $nbytes bytes, $(grep -vc '^#' "$RULES") rule lines"

    rows=""
    noop_wall=""
    timeit noop 120 "$TOOLS/pcapnoop" "$CAP"
    row "pcapnoop (libpcap read loop)" noop
    [ "$run_rc" -eq 0 ] && noop_wall=$best_wall

    if [ -x "$BIN" ]; then
        timeit qorgau 120 "$BIN" scan --rules "$RULES" "$CAP"
        row "qorgau scan --rules (compiled in the run)" qorgau
        [ "$run_rc" -eq 0 ] && tail -n 5 "$OUT/qorgau.err" | sed 's/^/bench: qorgau: /'
        if timeout 120 "$BIN" rules compile -o "$IMG" "$RULES" 2>"$OUT/compile.err"; then
            timeit qorgau_img 120 "$BIN" scan --image "$IMG" "$CAP"
            row "qorgau scan --image (compiled beforehand)" qorgau_img
        else
            rows="$rows| qorgau scan --image | rules compile failed (see $OUT/compile.err) | | | | |
"
        fi
    else
        rows="$rows| qorgau scan | not built ($BIN) | | | | |
"
    fi

    if [ "${QG_BENCH_NDPI:-1}" = 0 ]; then
        rows="$rows| ndpiReader | skipped (QG_BENCH_NDPI=0) | | | | |
"
    elif command -v ndpiReader >/dev/null 2>&1; then
        timeit ndpi 120 ndpiReader -i "$CAP" -q -v 0
        row "ndpiReader -q (nDPI $(ndpiReader -h 2>&1 | sed -n 's/.*nDPI \([0-9.]*\).*/\1/p' | head -n 1))" ndpi
    else
        rows="$rows| ndpiReader | not installed (libndpi-bin) | | | | |
"
    fi

    echo
    echo "Capture $NAME: $npkts packets, $nbytes bytes ($params); best of $RUNS runs; $(nproc) CPUs."
    echo
    echo "| program | wall s | CPU s | packets/s | Gbit/s | time vs no-op |"
    echo "|---|---|---|---|---|---|"
    printf "%s" "$rows"
    echo
}

capture bench "${QG_BENCH_PACKETS:-1000000}" "${QG_BENCH_FLOWS:-60000}"
capture mobile "${QG_BENCH_MOBILE_PACKETS:-250000}" "${QG_BENCH_MOBILE_FLOWS:-25000}"

if [ -x "$TOOLS/bench_match" ]; then
    echo "bench: $TOOLS/bench_match --domains 1000000 --urls 1000000"
    timeout 150 "$TOOLS/bench_match" --domains 1000000 --urls 1000000 ||
        echo "bench: bench_match failed or timed out (exit $?)"
else
    echo "bench: $TOOLS/bench_match not built: matcher benchmark skipped"
fi
