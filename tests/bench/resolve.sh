#!/bin/sh
# resolve.sh - the IP fallback's resolver: 100k names (A + AAAA each) against a DNS server on
# loopback (tests/tools/dnsstub.py), then the address table and its report (bench_resolve).
#
# Usage: sh tests/bench/resolve.sh [TOOLS_DIR]   (make bench passes it)
# Env:   QG_BENCH_RESOLVE_NAMES (100000), QG_BENCH_RESOLVE_INFLIGHT (256)
# Prints a report and one JSON line (docs/BENCHMARKS.md). About half a minute; the server, a
# single Python process, is the bottleneck (it shares the CPUs with the resolver).
set -u
TOOLS=${1:-build/tools}
N=${QG_BENCH_RESOLVE_NAMES:-100000}
Q=${QG_BENCH_RESOLVE_INFLIGHT:-256}
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -x "$TOOLS/bench_resolve" ]; then
    echo "bench: $TOOLS/bench_resolve is not built (make $TOOLS/bench_resolve)" >&2
    exit 2
fi
echo "bench: resolving $N names against a loopback DNS server"
timeout 300 "$TOOLS/bench_resolve" --names "$N" --inflight "$Q" --stub "$root/tests/tools/dnsstub.py"
