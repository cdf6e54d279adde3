#!/bin/sh
# fleet.sh - order -> enforced on three nodes, and revocation, measured (docs/BENCHMARKS.md).
#
# In a network namespace this script creates: redis-server on 127.0.0.1:6379 and three
# `qorgau run` nodes (tap mode on a veth pair) following it. A base of QG_FLEET_BASE domains
# (default 200000; orders of at most 1M domains each) is imported and enforced first. Then QG_FLEET_ORDERS orders (default
# 20) of QG_FLEET_ENTRIES domains each (default 10000), one at a time: the time from starting
# `qorgau order import` to `qorgau query -c` answering block on every node (polled every 10 ms,
# one node after the other); then each order is revoked and the time to pass on every node is
# measured the same way. Prints p50 / p99 / max of both, in milliseconds.
#
# Usage: sh tests/bench/fleet.sh [QG_BIN]. Needs root and redis-server; otherwise says why and
# exits 0 (a benchmark, not a test).
set -u
bin=${1:-build/qorgau}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
BASE=${QG_FLEET_BASE:-200000}
ORDERS=${QG_FLEET_ORDERS:-20}
ENTRIES=${QG_FLEET_ENTRIES:-10000}

if [ "$(id -u)" != 0 ] || ! command -v redis-server >/dev/null 2>&1; then
    echo "fleet bench: skipped (needs root and redis-server)"
    exit 0
fi
ns=qgfbench$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qg-fleetbench.XXXXXX") || exit 2
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
ip netns add "$ns" || exit 2
E() { ip netns exec "$ns" "$@"; }
E ip link set lo up
E ip link add v0 type veth peer name v1 && E ip link set v0 up && E ip link set v1 up
ip netns exec "$ns" redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --logfile "$tmp/redis.log" --dir "$tmp" &
pids="$pids $!"
until E redis-cli -p 6379 ping 2>/dev/null | grep -q PONG; do sleep 0.1; done
STORE=redis://127.0.0.1:6379

# an order of N domains NAME-0.PREFIX.example ... (JSON)
gen() { # gen ID N PREFIX FILE
    python3 - "$@" <<'PY'
import json, sys
oid, n, pfx, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(path, "w") as f:
    json.dump({"id": oid, "issuer": "Bench", "legal_basis": "Art. 41-1", "issued": "2026-11-20",
               "resources": ["n%d.%s.example" % (i, pfx) for i in range(n)]}, f)
PY
}
# the base in orders of at most 1M domains (a record is capped at 256 MiB): base-1 ... base-K
BCHUNK=1000000
k=0
left=$BASE
while [ "$left" -gt 0 ]; do
    k=$((k + 1))
    c=$left
    [ "$c" -gt $BCHUNK ] && c=$BCHUNK
    gen "base-$k" "$c" "b$k" "$tmp/base-$k.json"
    left=$((left - c))
done
i=1
while [ $i -le "$ORDERS" ]; do gen "o-$i" "$ENTRIES" "o$i" "$tmp/o$i.json"; i=$((i + 1)); done

for n in 1 2 3; do
    cat >"$tmp/n$n.conf" <<CONF
mode = tap
tap.interface = v$((n % 2))
user = root
workers = 1
store = $STORE
state_dir = $tmp/n$n
node.id = n$n
notice.listen = 127.0.0.1:1808$n
stats.interval = 0
CONF
    ip netns exec "$ns" "$bin" run -c "$tmp/n$n.conf" --foreground >"$tmp/n$n.log" 2>&1 &
    pids="$pids $!"
done
for n in 1 2 3; do until [ -S "$tmp/n$n/admin.sock" ]; do sleep 0.1; done; done

now_ms() { date +%s%3N; }
# until_all NAME VERDICT: polls every node until each answers VERDICT
until_all() {
    for n in 1 2 3; do
        until E "$bin" query -c "$tmp/n$n.conf" "$1" 2>/dev/null | grep -q "\"verdict\":\"$2\""; do
            sleep 0.01
        done
    done
}
t0=$(now_ms)
E "$bin" order --store "$STORE" import "$tmp"/base-*.json >/dev/null || { echo "fleet bench: the base import failed"; exit 1; }
until_all "n1.b$k.example" block
echo "base of $BASE domains enforced on 3 nodes in $(($(now_ms) - t0)) ms"

: >"$tmp/block.ms"
: >"$tmp/revoke.ms"
i=1
while [ $i -le "$ORDERS" ]; do
    t0=$(now_ms)
    E "$bin" order --store "$STORE" import "$tmp/o$i.json" >/dev/null || { echo "fleet bench: import o-$i failed"; exit 1; }
    until_all "n$((ENTRIES - 1)).o$i.example" block
    echo $(($(now_ms) - t0)) >>"$tmp/block.ms"
    i=$((i + 1))
done
i=1
while [ $i -le "$ORDERS" ]; do
    t0=$(now_ms)
    E "$bin" order --store "$STORE" revoke "o-$i" >/dev/null
    until_all "n0.o$i.example" pass
    echo $(($(now_ms) - t0)) >>"$tmp/revoke.ms"
    i=$((i + 1))
done
python3 - "$tmp/block.ms" "$tmp/revoke.ms" "$BASE" "$ORDERS" "$ENTRIES" <<'PY'
import sys
def pct(v, p):
    v = sorted(v)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]
for name, path in (("import -> block on 3 nodes", sys.argv[1]), ("revoke -> pass on 3 nodes", sys.argv[2])):
    v = [int(l) for l in open(path) if l.strip()]
    print("%s: base %s, %s orders of %s entries: p50 %d ms, p99 %d ms, max %d ms" %
          (name, sys.argv[3], sys.argv[4], sys.argv[5], pct(v, 50), pct(v, 99), max(v)))
PY
grep -h '"rules published"' "$tmp/n1.log" | tail -1 | cut -c1-300
