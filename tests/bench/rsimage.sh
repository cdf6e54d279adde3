#!/bin/sh
# rsimage.sh - the rule set's disk image and incremental updates at 5M entries (bench_rsimage).
#
# Usage: sh tests/bench/rsimage.sh [TOOLS_DIR]   (make bench passes it)
# Env:   QG_BENCH_IMAGE_ENTRIES (5000000), QG_BENCH_DIR (build/bench)
# Builds a generated set (the baseline: a full rebuild), writes its image to
# $QG_BENCH_DIR/rules.img, opens it warm and cold in a fresh process, applies and revokes orders
# through the overlay and merges; prints a report and one JSON line (docs/BENCHMARKS.md). Then
# a chain of 20 applies of 10k-entry orders over the same base (--chain 20: the n-th apply's
# cost, compactions apart) and its JSON line.
# Needs about 1.1 GB of memory and half a minute; bounded by `timeout`.
set -u
TOOLS=${1:-build/tools}
OUT=${QG_BENCH_DIR:-build/bench}
N=${QG_BENCH_IMAGE_ENTRIES:-5000000}
if [ ! -x "$TOOLS/bench_rsimage" ]; then
    echo "bench: $TOOLS/bench_rsimage is not built (make $TOOLS/bench_rsimage)" >&2
    exit 2
fi
mkdir -p "$OUT" || exit 2
echo "bench: rule set image and overlay, $N entries"
timeout 600 "$TOOLS/bench_rsimage" --entries "$N" --dir "$OUT" || exit $?
timeout 600 "$TOOLS/bench_rsimage" --entries "$N" --chain 20
