#!/bin/sh
# store.sh - latency of the order store (rules/store/): a real redis-server and the directory store;
# then the subscriber feed on the same redis-server (bench_radius: RADIUS Accounting packets/s
# applied to the store, the node map's memory per subscriber, the store's load rate).
#
# Usage: sh tests/bench/store.sh [TOOLS_DIR]   (make bench passes it)
# Env:   QG_BENCH_DIR (build/bench), QG_BENCH_STORE_PUBLISHES (2000), QG_BENCH_STORE_ORDERS (100000),
#        QG_BENCH_RADIUS_PACKETS (500000), QG_BENCH_RADIUS_SUBS (1000000)
# Starts redis-server on a free loopback port (no persistence, like the tests), runs
# TOOLS_DIR/bench_store against it and against a fresh directory under QG_BENCH_DIR, stops the
# server by its PID. Prints bench_store's lines: publish and follow p50/p99/max, one change of
# many orders, a full snapshot. Each run is bounded by `timeout`.
set -u

TOOLS=${1:-build/tools}
OUT=${QG_BENCH_DIR:-build/bench}
N=${QG_BENCH_STORE_PUBLISHES:-2000}
ORDERS=${QG_BENCH_STORE_ORDERS:-100000}
PACKETS=${QG_BENCH_RADIUS_PACKETS:-500000}
SUBS=${QG_BENCH_RADIUS_SUBS:-1000000}

for t in bench_store bench_radius; do
    if [ ! -x "$TOOLS/$t" ]; then
        echo "store.sh: $TOOLS/$t not built (make $TOOLS/$t)" >&2
        exit 2
    fi
done
if ! command -v redis-server >/dev/null 2>&1; then
    echo "store.sh: redis-server missing (deploy/install-deps.sh)" >&2
    exit 2
fi
mkdir -p "$OUT" || exit 2
work=$(mktemp -d "$OUT/store.XXXXXX") || exit 2
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    >"$work/redis.log" 2>&1 &
rpid=$!
i=0
until redis-cli -p "$port" ping >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
        echo "store.sh: redis-server did not start (see $work/redis.log)" >&2
        kill "$rpid" 2>/dev/null
        exit 1
    fi
    sleep 0.05
done

rc=0
echo "== order store: redis (loopback, no persistence)"
timeout 300 "$TOOLS/bench_store" "redis://127.0.0.1:$port" "$N" "$ORDERS" || rc=1
echo "== order store: directory ($work/dir)"
timeout 300 "$TOOLS/bench_store" "dir://$PWD/$work/dir" "$((N / 4))" "$((ORDERS / 10))" || rc=1
echo "== subscriber feed: redis (loopback, no persistence), $PACKETS packets, $SUBS subscribers"
redis-cli -p "$port" flushall >/dev/null
timeout 300 "$TOOLS/bench_radius" "redis://127.0.0.1:$port" "$PACKETS" "$SUBS" || rc=1
kill "$rpid" 2>/dev/null
wait "$rpid" 2>/dev/null
rm -rf "$work"
exit $rc
