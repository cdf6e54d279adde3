#!/bin/sh
# ipdrop.sh - the kernel's drop table of IP entries at scale (bench_ipdrop; docs/BENCHMARKS.md
# "IP entries on every port").
#
# Usage: sh tests/bench/ipdrop.sh [TOOLS_DIR]   (make bench passes it; root: the tool works in a
#        network namespace of its own, which goes with it)
# Env:   QG_BENCH_IPDROP_ENTRIES (1000000), QG_BENCH_IPDROP_IPS (100000), QG_BENCH_IPDROP_ROUNDS (5)
# A set of ENTRIES entries of which IPS are IP entries: its build (the first baseline), the walk
# that collects the IP entries, the table made with them (the second baseline), and the changes
# a publication sends (none, 1 address, 1,000 addresses, their revocation), each as a ratio to
# its baseline. About 10 s.
set -u
TOOLS=${1:-build/tools}
if [ ! -x "$TOOLS/bench_ipdrop" ]; then
    echo "bench: $TOOLS/bench_ipdrop is not built (make $TOOLS/bench_ipdrop)" >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "bench: ipdrop.sh needs root (a network namespace of its own)" >&2
    exit 1
fi
timeout 600 "$TOOLS/bench_ipdrop" --entries "${QG_BENCH_IPDROP_ENTRIES:-1000000}" \
    --ips "${QG_BENCH_IPDROP_IPS:-100000}" --rounds "${QG_BENCH_IPDROP_ROUNDS:-5}"
