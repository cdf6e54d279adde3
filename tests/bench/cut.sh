#!/bin/sh
# cut.sh - what judging passed connections again after a new rule set costs (bench_cut;
# docs/BENCHMARKS.md "Connections passed before an order").
#
# Usage: sh tests/bench/cut.sh [TOOLS_DIR]   (make bench passes it)
# Env:   QG_BENCH_CUT_FLOWS (500000), QG_BENCH_CUT_ENTRIES (1000000), QG_BENCH_CUT_IPS (100000),
#        QG_BENCH_CUT_ROUNDS (5)
# Tap mode's walk over the flow table at a publication, against feeding the same settled flows
# through the engine (the baseline); inline mode's judgement of 65,536 kept names (one worker's
# pool); queue mode's notes of 262,144 passed connections and its names' thread's walk over
# them. About 15 s.
set -u
TOOLS=${1:-build/tools}
if [ ! -x "$TOOLS/bench_cut" ]; then
    echo "bench: $TOOLS/bench_cut is not built (make $TOOLS/bench_cut)" >&2
    exit 2
fi
timeout 600 "$TOOLS/bench_cut" --flows "${QG_BENCH_CUT_FLOWS:-500000}" \
    --entries "${QG_BENCH_CUT_ENTRIES:-1000000}" --ips "${QG_BENCH_CUT_IPS:-100000}" \
    --rounds "${QG_BENCH_CUT_ROUNDS:-5}"
