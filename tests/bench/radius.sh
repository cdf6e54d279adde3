#!/bin/sh
# radius.sh - the subscriber feed: RADIUS Accounting packets per second applied to a real
# redis-server, the node map's memory per subscriber, the store's load rate and Redis memory
# per subscriber (tests/tools/bench_radius.c says what each figure covers).
#
# Usage: sh tests/bench/radius.sh [TOOLS_DIR]   (make bench passes it)
# Env:   QG_BENCH_DIR (build/bench), QG_BENCH_RADIUS_PACKETS (500000),
#        QG_BENCH_RADIUS_SUBS (1000000)
# Starts redis-server on a free loopback port (no persistence), runs TOOLS_DIR/bench_radius
# against it, stops the server by its PID. Bounded by `timeout`.
set -u

TOOLS=${1:-build/tools}
OUT=${QG_BENCH_DIR:-build/bench}
N=${QG_BENCH_RADIUS_PACKETS:-500000}
SUBS=${QG_BENCH_RADIUS_SUBS:-1000000}

if [ ! -x "$TOOLS/bench_radius" ]; then
    echo "radius.sh: $TOOLS/bench_radius not built (make $TOOLS/bench_radius)" >&2
    exit 2
fi
if ! command -v redis-server >/dev/null 2>&1; then
    echo "radius.sh: redis-server missing (deploy/install-deps.sh)" >&2
    exit 2
fi
mkdir -p "$OUT" || exit 2
work=$(mktemp -d "$OUT/radius.XXXXXX") || exit 2
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    >"$work/redis.log" 2>&1 &
rpid=$!
i=0
until redis-cli -p "$port" ping >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
        echo "radius.sh: redis-server did not start (see $work/redis.log)" >&2
        kill "$rpid" 2>/dev/null
        exit 1
    fi
    sleep 0.05
done
echo "== subscriber feed: redis (loopback, no persistence), $N packets, $SUBS subscribers"
rc=0
timeout 300 "$TOOLS/bench_radius" "redis://127.0.0.1:$port" "$N" "$SUBS" || rc=1
kill "$rpid" 2>/dev/null
wait "$rpid" 2>/dev/null
rm -rf "$work"
exit $rc
