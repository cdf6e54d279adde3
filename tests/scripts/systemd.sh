#!/bin/sh
# systemd.sh - the service protocol of `qorgau run` (sd_notify(3), docs/deploy.md "systemd"),
# tested without a systemd manager: this script plays systemd's part. A Unix datagram socket
# (tests/scripts/notify_listener.py) is the daemon's NOTIFY_SOCKET; WATCHDOG_USEC and
# WATCHDOG_PID are set as systemd sets them for WatchdogSec=. Checked, on the inline mode:
#   - READY=1 comes once, and at that instant the admin socket exists and the listeners
#     (inline.tproxy_port, inline.redirect_port, notice.listen) accept connections; its STATUS=
#     names the version, the mode and the rule counts;
#   - WATCHDOG=1 about every half interval while running;
#   - SIGHUP: RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC, now), then READY=1 again with
#     the new rule counts; STATUS= refreshed every stats.interval;
#   - SIGTERM: STOPPING=1, exit 0;
#   - WATCHDOG_PID naming another process: no WATCHDOG=1 at all (the ping is not inherited);
#   - the tap mode (on a veth pair made here): pings go on, no worker logged stalled or silent.
# Then the unit file: `systemd-analyze verify` accepts deploy/qorgau.service and
# `systemd-analyze security --offline=yes` scores it at or below the level docs/deploy.md
# records. A stalled worker stopping the pings is tested in tests/unit/daemon/check_service.c.
#
# Env: QG_BIN (default build/qorgau). Needs root (the inline mode's transparent sockets) and
# python3, systemd-analyze and man; without them it fails (QG_ALLOW_SKIP=1: exit 77).
set -u

QG_BIN=${QG_BIN:-build/qorgau}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $QG_BIN in /*) ;; *) QG_BIN=$(pwd)/$QG_BIN ;; esac
. "$root/tests/lib/live.sh"
[ -x "$QG_BIN" ] || { echo "systemd: $QG_BIN is not an executable (set QG_BIN)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || qg_cannot_run systemd "not root (the inline mode opens transparent sockets)"
command -v python3 >/dev/null || qg_cannot_run systemd "python3 missing"
command -v systemd-analyze >/dev/null || qg_cannot_run systemd "systemd-analyze missing (package systemd)"
command -v man >/dev/null || qg_cannot_run systemd "man missing (package man-db: verify checks Documentation=)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qg-systemd.XXXXXX") || exit 2
chmod 755 "$tmp"
lpid="" qpid="" veth=""
cleanup() {
    [ -n "$veth" ] && ip link del "$veth" 2>/dev/null
    [ -n "$qpid" ] && kill -9 "$qpid" 2>/dev/null
    [ -n "$lpid" ] && kill "$lpid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for PYTHON_CONDITION SECONDS -- until the condition over the list `m` of received
# messages (dicts: t, fields, admin, ports) holds; 0 or 1
wait_for() {
    python3 - "$tmp/msgs" "$1" "$2" <<'PY'
import json, sys, time
path, cond, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
end = time.monotonic() + limit
while True:
    try:
        m = [json.loads(l) for l in open(path)]
    except FileNotFoundError:
        m = []
    if eval(cond):
        sys.exit(0)
    if time.monotonic() > end:
        sys.exit(1)
    time.sleep(0.05)
PY
}

# holds PYTHON_EXPR -- evaluates the expression over the messages now; prints it when false
holds() {
    python3 - "$tmp/msgs" "$1" <<'PY'
import json, sys
m = [json.loads(l) for l in open(sys.argv[1])]
r = eval(sys.argv[2])
if not r:
    for x in m:
        print("    ", json.dumps(x))
sys.exit(0 if r else 1)
PY
}

# start_listener -- the NOTIFY_SOCKET, listener pid in $lpid
start_listener() {
    rm -f "$tmp/notify.sock" "$tmp/msgs" "$tmp/msgs.up"
    python3 "$root/tests/scripts/notify_listener.py" "$tmp/notify.sock" "$tmp/msgs" \
        "$tmp/state/admin.sock" "$tport" "$rport" "$nport" &
    lpid=$!
    i=0
    while [ ! -e "$tmp/msgs.up" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    [ -e "$tmp/msgs.up" ] || { ko "notify listener did not start"; exit 1; }
}

# start_daemon CONF USEC [PID] -- a listener, then `qorgau run -c CONF` with WATCHDOG_USEC=USEC
# and WATCHDOG_PID=PID, or, without PID, the daemon's own pid as systemd sets it (the shell execs
# the daemon); its pid in $qpid
start_daemon() {
    start_listener
    rm -f "$tmp/q.log"
    if [ $# -ge 3 ]; then
        NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=$2 WATCHDOG_PID=$3 \
            "$QG_BIN" run -c "$1" >"$tmp/out" 2>&1 &
    else
        NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=$2 \
            sh -c 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$0" run -c "$1"' "$QG_BIN" "$1" \
            >"$tmp/out" 2>&1 &
    fi
    qpid=$!
}

# stop_daemon -- SIGTERM to the daemon (its exit status in $rc), then the listener ends
stop_daemon() {
    kill -TERM $qpid
    wait $qpid
    rc=$?
    qpid=""
    kill $lpid 2>/dev/null
    wait $lpid 2>/dev/null
    lpid=""
}

mkdir -p "$tmp/rules"
printf 'example.com\n' >"$tmp/rules/a.txt"
tport=$(free_port) rport=$(free_port) nport=$(free_port)
cat >"$tmp/q.conf" <<EOF2
mode = inline
workers = 2
user = nobody
ip.kernel_drop = off
rules = $tmp/rules/*.txt
state_dir = $tmp/state
log.file = $tmp/q.log
stats.interval = 1s
notice.listen = 127.0.0.1:$nport
inline.listen_address = 127.0.0.1
inline.tproxy_port = $tport
inline.redirect_port = $rport
EOF2

# ---- the life cycle under a 1 s watchdog ----
start_daemon "$tmp/q.conf" 1000000

if wait_for 'any(x["fields"].get("READY") == "1" for x in m)' 30; then
    ok "READY=1 received"
else
    ko "no READY=1 within 30 s"; sed 's/^/    /' "$tmp/out" "$tmp/q.log" 2>/dev/null | tail -20
    exit 1
fi
if holds '[x for x in m if x["fields"].get("READY") == "1"][0]["admin"]'; then
    ok "at READY=1 the admin socket exists"
else
    ko "at READY=1 the admin socket did not exist"
fi
if holds 'all(v is True for v in [x for x in m if x["fields"].get("READY") == "1"][0]["ports"].values())'; then
    ok "at READY=1 the tproxy, redirect and notice listeners accept connections"
else
    ko "at READY=1 a listener did not accept"
fi
if holds 'any(x["fields"].get("READY") == "1" and "mode inline" in x["fields"].get("STATUS", "") and "1 domains" in x["fields"].get("STATUS", "") and "qorgau " in x["fields"].get("STATUS", "") for x in m)'; then
    ok "READY=1 carries STATUS= with the version, the mode and the rule counts"
else
    ko "READY=1 STATUS"
fi
if grep -qF '"msg":"started"' "$tmp/q.log" && grep -qF '"msg":"privileges dropped"' "$tmp/q.log"; then
    ok "the log says started and privileges dropped before readiness"
else
    ko "no started / privileges dropped line"
fi

# stats.interval = 1s: STATUS= alone, refreshed with the running counts
if wait_for "any(set(x['fields']) == {'STATUS'} and 'rules version 1: 1 domains' in x['fields']['STATUS'] for x in m)" 5; then
    ok "STATUS= refreshed every stats.interval"
else
    ko "no STATUS= refresh"
fi

# the watchdog: pings every ~0.5 s; over 3 s at least 4, none more than 0.9 s apart
t0=$(python3 -c 'import time; print(time.monotonic())')
sleep 3
if holds "len([x for x in m if x['fields'].get('WATCHDOG') == '1' and x['t'] > $t0]) >= 4"; then
    ok "WATCHDOG=1 about every half interval (WATCHDOG_USEC=1000000)"
else
    ko "too few WATCHDOG=1 in 3 s"
fi
if holds "(lambda w: all(b - a < 1.0 for a, b in zip(w, w[1:])))([x['t'] for x in m if x['fields'].get('WATCHDOG') == '1' and x['t'] > $t0])"; then
    ok "no gap of WATCHDOG_USEC (1 s) or more between pings"
else
    ko "a gap between WATCHDOG=1 pings"
fi

# reload: RELOADING=1 with MONOTONIC_USEC now, then READY=1 with the new counts
printf 'example.org\nexample.net\n' >"$tmp/rules/b.txt"
n0=$(wc -l <"$tmp/msgs")
kill -HUP $qpid
if wait_for "any(x['fields'].get('READY') == '1' for x in m[$n0:])" 20; then
    if holds "(lambda r: len(r) > 0 and abs(int(r[0]['fields'].get('MONOTONIC_USEC', '0')) / 1e6 - r[0]['t']) < 2)([x for x in m[$n0:] if x['fields'].get('RELOADING') == '1'])"; then
        ok "SIGHUP -> RELOADING=1 with MONOTONIC_USEC on CLOCK_MONOTONIC"
    else
        ko "no RELOADING=1 / MONOTONIC_USEC"
    fi
    if holds "(lambda r: [i for i, x in enumerate(r) if x['fields'].get('RELOADING') == '1'][0] < [i for i, x in enumerate(r) if x['fields'].get('READY') == '1'][0])(m[$n0:])"; then
        ok "READY=1 follows RELOADING=1"
    else
        ko "READY=1 before RELOADING=1"
    fi
    if holds "any(x['fields'].get('READY') == '1' and '3 domains' in x['fields'].get('STATUS', '') for x in m[$n0:])"; then
        ok "READY=1 after the reload carries the new counts (3 domains)"
    else
        ko "STATUS after reload"
    fi
else
    ko "no READY=1 after SIGHUP"
fi

# stop
n0=$(wc -l <"$tmp/msgs")
stop_daemon
if [ $rc = 0 ] && holds "any(x['fields'].get('STOPPING') == '1' for x in m[$n0:])"; then
    ok "SIGTERM -> STOPPING=1, exit 0"
else
    ko "SIGTERM: exit $rc or no STOPPING=1"
fi

# ---- WATCHDOG_PID of another process: the daemon does not ping ----
start_daemon "$tmp/q.conf" 400000 1
if wait_for 'any(x["fields"].get("READY") == "1" for x in m)' 30; then
    sleep 1.2
    if holds "not any(x['fields'].get('WATCHDOG') == '1' for x in m)"; then
        ok "WATCHDOG_PID of another process -> no WATCHDOG=1"
    else
        ko "pings although WATCHDOG_PID is not ours"
    fi
else
    ko "second start: no READY=1"; tail -5 "$tmp/q.log" | sed 's/^/    /'
fi
stop_daemon

# ---- the tap mode's workers beat too: pings go on, no stall is logged ----
if ip link add qgst$$ type veth peer name qgsu$$ 2>/dev/null; then
    veth=qgst$$
    ip link set qgst$$ up && ip link set qgsu$$ up
    sed -e 's/^mode = inline/mode = tap/' "$tmp/q.conf" >"$tmp/tap.conf"
    echo "tap.interface = qgst$$" >>"$tmp/tap.conf"
    start_daemon "$tmp/tap.conf" 1000000
    if wait_for 'any(x["fields"].get("READY") == "1" and "mode tap" in x["fields"].get("STATUS", "") for x in m)' 30; then
        t0=$(python3 -c 'import time; print(time.monotonic())')
        sleep 2.5
        if holds "len([x for x in m if x['fields'].get('WATCHDOG') == '1' and x['t'] > $t0]) >= 3" &&
            ! grep -qF 'stalled' "$tmp/q.log" && ! grep -qF 'reports no heartbeat' "$tmp/q.log"; then
            ok "tap: WATCHDOG=1 goes on, every worker beats (no stall, no silent worker logged)"
        else
            ko "tap: watchdog"; grep -F '"service"' "$tmp/q.log" | sed 's/^/    /'
        fi
    else
        ko "tap: no READY=1"; tail -5 "$tmp/q.log" | sed 's/^/    /'
    fi
    stop_daemon
else
    ko "cannot create a veth pair for the tap mode"
fi

# ---- the unit file ----
unit=$root/deploy/qorgau.service
# verify resolves ExecStart: a copy of the unit pointing at this build
sed "s#/usr/sbin/qorgau#$QG_BIN#g" "$unit" >"$tmp/qorgau.service"
# and its Documentation= man pages: those of this build (deploy/mkman.sh), found through MANPATH
if sh "$root/deploy/mkman.sh" "$QG_BIN" "$tmp/mansrc"; then
    mkdir -p "$tmp/man/man8" "$tmp/man/man5"
    cp "$tmp/mansrc/qorgau.8" "$tmp/man/man8/" && cp "$tmp/mansrc/qorgau.conf.5" "$tmp/man/man5/"
else
    ko "deploy/mkman.sh failed"
fi
if MANPATH=$tmp/man systemd-analyze verify "$tmp/qorgau.service" >"$tmp/verify" 2>&1 &&
    ! grep -q . "$tmp/verify"; then
    ok "systemd-analyze verify accepts deploy/qorgau.service"
else
    ko "systemd-analyze verify"; sed 's/^/    /' "$tmp/verify"
fi
want=$(sed -n 's/^.*Recorded exposure level: \([0-9.]*\).*$/\1/p' "$root/docs/deploy.md" | head -1)
got=$(systemd-analyze security --offline=yes "$tmp/qorgau.service" 2>&1 |
    sed -n 's/^.*Overall exposure level for .*: \([0-9.]*\) .*$/\1/p')
if [ -n "$want" ] && [ -n "$got" ] && awk -v g="$got" -v w="$want" 'BEGIN { exit !(g + 0 <= w + 0) }'; then
    ok "systemd-analyze security: exposure $got <= recorded $want"
else
    ko "systemd-analyze security: exposure '$got', recorded '$want' (docs/deploy.md)"
    systemd-analyze security --offline=yes "$tmp/qorgau.service" 2>&1 | tail -3 | sed 's/^/    /'
fi

echo "systemd: $pass passed, $fail failed"
[ $fail = 0 ]
