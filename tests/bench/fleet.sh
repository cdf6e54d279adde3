#!/bin/sh
# fleet.sh - order -> enforced on three nodes, and revocation, measured (docs/BENCHMARKS.md).
#
# In a network namespace this script creates: redis-server on 127.0.0.1:6379 and three
# `qorgau run` nodes (tap mode on a veth pair) following it. A base of QG_FLEET_BASE domains
# (default 200000; orders of at most 1M domains each) is imported and enforced first. Then QG_FLEET_ORDERS orders (default
# 20) of QG_FLEET_ENTRIES domains each (default 10000), one at a time: the time from starting
# `qorgau order import` to `qorgau query -c` answering block on every node (polled every 10 ms,
# one node after the other); then each order is revoked and the time to pass on every node is
# measured the same way. Prints p50 / p99 / max of both, in milliseconds, the load average, and
# the import (revoke) command's own time, and per node the follower's own times per change (apply, acknowledgement, journal append) from its
# "changes enforced" log lines. QG_FLEET_POLL=cli polls with `qorgau query -c` processes as
# before 2026-12-03 (default: one connection per node on its admin socket, see below).
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
trap cleanup EXIT
trap 'cleanup; exit 1' INT TERM
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
# until_all NAME VERDICT: polls every node until each answers VERDICT (the base only)
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
# The base is a change too big for a node's fail-static journal: each node writes a new
# checkpoint of it (seconds of a core per million entries) when its change log goes quiet. An
# operator's base was loaded long before the order of the day: the timing starts when the three
# checkpoints are written (at most QG_FLEET_SETTLE seconds, default 900), so they do not share
# the cores with the timed orders: a checkpoint of the $k base orders (the base may reach a node
# in more than one change, and a checkpoint of the first part is not the last).
t0=$(now_ms)
settle=${QG_FLEET_SETTLE:-900}
for n in 1 2 3; do
    while ! grep '"fail-static checkpoint written' "$tmp/n$n.log" | grep -q "\"orders\":$k," &&
        [ $(($(now_ms) - t0)) -lt $((settle * 1000)) ]; do
        sleep 0.5
    done
done
echo "base checkpoints written on 3 nodes $(($(now_ms) - t0)) ms after the base was enforced"

# The timed part in one process: the time from starting `qorgau order import` (or revoke) to
# every node answering block (pass) for the order's last (first) name. QG_FLEET_POLL=cli polls
# with `qorgau query -c` (a process start per poll per node, nodes one after the other, every
# 10 ms: the way the figures before 2026-12-03 were taken); the default keeps one HTTP/1.1
# connection per node on its admin socket (GET /api/v1/query) and asks the nodes still behind
# in turn every 2 ms (a poll costs a node well under a millisecond). Prints p50 / p99 / max of both, in milliseconds.
E python3 - "$bin" "$STORE" "$tmp" "$BASE" "$ORDERS" "$ENTRIES" "${QG_FLEET_POLL:-socket}" <<'PY'
import http.client, json, os, socket, subprocess, sys, time
bin_, store, tmp, base, orders, entries, how = sys.argv[1:8]
orders, entries = int(orders), int(entries)

class UConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("node", timeout=10)
        self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)

conns = {n: UConn("%s/n%d/admin.sock" % (tmp, n)) for n in (1, 2, 3)}
polls = 0

def verdict(n, name):
    global polls
    polls += 1
    if how == "cli":
        r = subprocess.run([bin_, "query", "-c", "%s/n%d.conf" % (tmp, n), name],
                           capture_output=True, text=True)
        return json.loads(r.stdout.splitlines()[0])["verdict"] if r.stdout else None
    for attempt in (0, 1):
        c = conns[n]
        try:
            c.request("GET", "/api/v1/query?q=" + name)
            return json.loads(c.getresponse().read())["verdict"]
        except (http.client.HTTPException, OSError):
            c.close()  # reconnected on the next request
    return None

cmd_ms = []

def timed(cmd, name, want):
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    cmd_ms.append(int((time.monotonic() - t0) * 1000))
    left = [1, 2, 3]
    while left:
        left = [n for n in left if verdict(n, name) != want]
        if left:
            time.sleep(0.01 if how == "cli" else 0.002)
    return int((time.monotonic() - t0) * 1000)

imp = [timed([bin_, "order", "--store", store, "import", "%s/o%d.json" % (tmp, i)],
             "n%d.o%d.example" % (entries - 1, i), "block") for i in range(1, orders + 1)]
rev = [timed([bin_, "order", "--store", store, "revoke", "o-%d" % i],
             "n0.o%d.example" % i, "pass") for i in range(1, orders + 1)]

def pct(v, p):
    v = sorted(v)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]
for label, v in (("import -> block on 3 nodes", imp), ("revoke -> pass on 3 nodes", rev)):
    print("%s: base %s, %d orders of %d entries: p50 %d ms, p99 %d ms, max %d ms (%s)" %
          (label, base, orders, entries, pct(v, 50), pct(v, 99), max(v), " ".join(map(str, v))))
print("the import / revoke command itself: p50 %d ms, max %d ms" % (pct(cmd_ms, 50), max(cmd_ms)))
print("polling: %s, %d polls; load average %s" % (how, polls, " ".join(
    open("/proc/loadavg").read().split()[:3])))
PY
for n in 1 2 3; do
    grep -h '"changes enforced"' "$tmp/n$n.log" | python3 -c '
import json, sys
n = sys.argv[1]
rows = [json.loads(l) for l in sys.stdin if l.startswith("{")]
if rows:
    for key in ("apply_ms", "ack_ms", "journal_ms"):
        v = sorted(int(r.get(key, 0)) for r in rows)
        print("node n%s %s: p50 %d, max %d" % (n, key, v[len(v) // 2], v[-1]), end="; ")
    print("%d changes" % len(rows))
' "$n"
    printf 'node n%s: %s fail-static checkpoints written, %s background merges, %s compactions; publications: %s\n' "$n" \
        "$(grep -c '"fail-static checkpoint written' "$tmp/n$n.log")" \
        "$(grep -c '"rules merged into a fresh base' "$tmp/n$n.log")" \
        "$(grep -c '"rules compacted' "$tmp/n$n.log")" \
        "$(grep -h '"rules published"' "$tmp/n$n.log" | sed 's/.*"how":"\([^"]*\)".*/\1/' | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
done
grep -h '"rules published"' "$tmp/n1.log" | tail -1 | cut -c1-300
