#!/bin/sh
# compare.sh - `qorgau scan` of two builds on the same capture, interleaved with the no-op
# libpcap loop, best of RUNS wall-clock times each (the machine is shared: only ratios taken in
# one invocation mean anything).
#
# Usage: sh tests/bench/compare.sh OLD_QORGAU NEW_QORGAU [CAPTURE RULES]
#   default capture: build/bench/cmp.pcap + cmp.rules, made by
#   build/tools/genpcap build/bench/cmp.pcap --packets 1000000 --flows 60000 --seed 1
# Env: RUNS (5). Prints one line per program: name, best wall seconds, ratio to the no-op.
set -u
OLD=$1 NEW=$2
CAP=${3:-build/bench/cmp.pcap}
RULES=${4:-build/bench/cmp.rules}
RUNS=${RUNS:-5}
NOOP=build/tools/pcapnoop
if [ ! -f "$CAP" ]; then
    mkdir -p "$(dirname "$CAP")"
    build/tools/genpcap "$CAP" --packets 1000000 --flows 60000 --seed 1 >/dev/null || exit 2
fi
out=$(mktemp)
i=0
while [ $i -lt "$RUNS" ]; do
    for which in noop old new_auto new_verify; do
        case $which in
        noop) set -- "$NOOP" "$CAP" ;;
        old) set -- "$OLD" scan --rules "$RULES" "$CAP" ;;
        new_auto) set -- "$NEW" scan --rules "$RULES" "$CAP" ;;
        new_verify) set -- "$NEW" scan --checksums verify --rules "$RULES" "$CAP" ;;
        esac
        s=$(date +%s%N)
        "$@" >/dev/null 2>/dev/null || { echo "compare: $which failed" >&2; exit 1; }
        e=$(date +%s%N)
        echo "$which $(( (e - s) / 1000000 ))" >>"$out"
    done
    i=$((i + 1))
done
sort -k1,1 -k2,2n "$out" | awk '{ if (!($1 in b)) b[$1] = $2 } END {
    for (k in b) printf "%-11s %6.3f s  %5.2fx no-op\n", k, b[k] / 1000, b[k] / b["noop"] }' | sort
rm -f "$out"
