#!/bin/sh
# daemon.sh - `qorgau run`: configuration errors, --check, and for each mode (tap, inline)
# either the "not built" exit or a real life cycle: start (from the "started" line the admin API
# says ready: /api/v1/status, /api/v1/ready, qorgau_ready, `qorgau status -c`), SIGHUP with a
# new rules file (log says reloaded with version 2), SIGHUP with a broken config (reload failed,
# version stays; still ready through both), the notice page server across reloads
# (notice.listen moved to a port already taken: the old one keeps serving and the stats line
# says notice.state "stale"; then to a free port with new text: served there, "serving"),
# SIGTERM (exit 0), and a start with notice.listen taken (a clear error, exit 1).
#
# Env: QG_BIN  path of the qorgau binary (default build/qorgau)
#      QG_DAEMON_KEEP=1 keeps the temporary directory
# A built mode needs root (raw sockets, TPROXY) and, for tap, a veth pair this script creates;
# without them that mode fails (QG_ALLOW_SKIP=1: reported as SKIP and the script exits 77).
# Prints PASS/FAIL/SKIP lines and "daemon: N passed, M failed, K skipped"; exits 1 on a failure.
set -u

QG_BIN=${QG_BIN:-build/qorgau}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $QG_BIN in /*) ;; *) QG_BIN=$(pwd)/$QG_BIN ;; esac
if [ ! -x "$QG_BIN" ]; then
    echo "daemon: $QG_BIN is not an executable (set QG_BIN)" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qg-daemon.XXXXXX") || exit 2
chmod 755 "$tmp"
veth=""
cleanup() {
    [ -n "$veth" ] && ip link del "$veth" 2>/dev/null
    if [ "${QG_DAEMON_KEEP:-0}" = 1 ]; then echo "daemon: keeping $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

pass=0 fail=0 skip=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }
# A mode that cannot be opened here fails, unless the caller allows skipping (tests/lib/skip.sh).
sk() {
    if [ "${QG_ALLOW_SKIP:-0}" = 1 ]; then echo "SKIP $*"; skip=$((skip + 1)); else ko "$* (QG_ALLOW_SKIP=1 skips it)"; fi
}

# expect NAME WANT_RC WANT_TEXT FILE -- runs the rest, checks rc and that FILE holds WANT_TEXT
expect() {
    name=$1 want=$2 text=$3 out=$4
    shift 4
    "$@" >"$out" 2>&1
    rc=$?
    if [ "$rc" != "$want" ]; then
        ko "$name (exit $rc, want $want)"; sed 's/^/    /' "$out"; return
    fi
    if ! grep -qF -- "$text" "$out"; then
        ko "$name (no '$text')"; sed 's/^/    /' "$out"; return
    fi
    ok "$name"
}

# ---- configuration errors, usage, --check ----
printf 'mode = inline\nworkers = 65\n' >"$tmp/range.conf"
expect "config out of range -> 78" 78 "qorgau: config: $tmp/range.conf:2: workers: 65 is out of range 0..64" \
    "$tmp/out" "$QG_BIN" run -c "$tmp/range.conf"
printf 'mode = inline\nfoo.bar = 1\n' >"$tmp/unknown.conf"
expect "config unknown key -> 78" 78 "config: $tmp/unknown.conf:2: unknown key 'foo.bar'" \
    "$tmp/out" "$QG_BIN" run -c "$tmp/unknown.conf"
expect "missing config file -> 78" 78 "config: $tmp/none.conf: cannot open: No such file or directory" \
    "$tmp/out" "$QG_BIN" run -c "$tmp/none.conf"
expect "no -c -> usage 2" 2 "-c FILE is required" "$tmp/out" "$QG_BIN" run
printf 'mode = inline\nrules = %s/nope.txt\n' "$tmp" >"$tmp/norules.conf"
expect "--check, missing rule file -> 78" 78 "nope.txt" "$tmp/out" "$QG_BIN" run --check -c "$tmp/norules.conf"
expect "--check sample deploy/qorgau.conf" 0 "qorgau: $root/deploy/qorgau.conf: ok" \
    "$tmp/out" "$QG_BIN" run --check -c "$root/deploy/qorgau.conf"
if grep -qx "mode = tap" "$tmp/out" && grep -qx "reasm.bytes = 32K" "$tmp/out"; then
    ok "--check prints the effective configuration"
else
    ko "--check prints the effective configuration"; sed 's/^/    /' "$tmp/out"
fi

# `config rules`: queue mode's rules for a file's values; refused for another mode, a bad file
printf 'mode = queue\nworkers = 3\nqueue.num = 4\nqueue.fail = closed\nqueue.source_new_rate = 0\n' >"$tmp/q.conf"
expect "config rules: iptables form for the file's queues" 0 "-A QORGAU -j NFQUEUE --queue-balance 4:6" \
    "$tmp/out" "$QG_BIN" config rules "$tmp/q.conf"
if ! grep -q 'bypass\|qorgau_new' "$tmp/out" && grep -q 'hashlimit-name qorgau_q6' "$tmp/out"; then
    ok "config rules: fail-closed without bypass, only the limits that are on"
else
    ko "config rules: bypass or limits"; sed 's/^/    /' "$tmp/out"
fi
expect "config rules --nft -c" 0 "        queue to 4-6" "$tmp/out" "$QG_BIN" config rules --nft -c "$tmp/q.conf"
expect "config rules: tap mode -> 78" 78 "mode = tap reads a copy of the traffic: it needs no kernel rules" \
    "$tmp/out" "$QG_BIN" config rules "$root/deploy/qorgau.conf"
printf 'mode = inline\ninline.tproxy_port = 3129\ninline.quic = pass\n' >"$tmp/i.conf"
expect "config rules: inline mode, TPROXY to the file's port" 0 "tproxy ip6 to :3129 meta mark set 1 accept" \
    "$tmp/out" "$QG_BIN" config rules "$tmp/i.conf"
if ! grep -q 'udp dport 443' "$tmp/out"; then ok "config rules: inline.quic = pass drops no QUIC"; else ko "config rules: inline QUIC drop"; sed 's/^/    /' "$tmp/out"; fi
expect "config rules: inline mode --redirect --iface" 0 'iifname "eth-sub" tcp dport { 80, 443 } redirect to :15002' \
    "$tmp/out" "$QG_BIN" config rules --redirect --iface eth-sub "$tmp/i.conf"
expect "config rules: inline mode --iptables -> 78" 78 "no --iptables form" \
    "$tmp/out" "$QG_BIN" config rules --iptables "$tmp/i.conf"
expect "config rules: queue mode --iface -> 78" 78 "--redirect and --iface are inline mode's" \
    "$tmp/out" "$QG_BIN" config rules --iface eth0 "$tmp/q.conf"
printf 'mode = queue\nqueue.watch_packets = 1000\n' >"$tmp/qbad.conf"
expect "config rules: settle bound under the watch -> 78" 78 \
    "qbad.conf:2: queue.settle_packets: 1024 is not above queue.hold_packets + queue.watch_packets" \
    "$tmp/out" "$QG_BIN" config rules "$tmp/qbad.conf"
expect "config rules: no file -> usage 2" 2 "usage: qorgau config rules" "$tmp/out" "$QG_BIN" config rules --nft
# a newline in the file's name stays inside the comment line that names it (not a rule of its own)
nl=$(printf '%s/q\n-A FORWARD -j ACCEPT.conf' "$tmp")
cp "$tmp/q.conf" "$nl"
if "$QG_BIN" config rules "$nl" >"$tmp/out" 2>&1 && ! grep -q '^-A FORWARD -j ACCEPT' "$tmp/out" &&
    grep -q '^# .*q?-A FORWARD -j ACCEPT.conf' "$tmp/out"; then
    ok "config rules: a control character in the file's name is shown as '?'"
else
    ko "config rules: file name with a newline"; sed 's/^/    /' "$tmp/out"
fi

# ---- a life cycle per mode ----
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_log PATTERN PID -- until the log has PATTERN (0), the daemon died (1) or 10 s passed (2)
wait_log() {
    i=0
    while [ $i -lt 100 ]; do
        grep -qF -- "$1" "$tmp/q.log" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || { grep -qF -- "$1" "$tmp/q.log" 2>/dev/null && return 0; return 1; }
        sleep 0.1
        i=$((i + 1))
    done
    return 2
}

# hold_port -- a listener on 127.0.0.1 held by a helper process: port in $hport, pid in $holder
hold_port() {
    rm -f "$tmp/hport"
    python3 -c 'import socket,sys,time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
open(sys.argv[1] + ".new", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".new", sys.argv[1]); time.sleep(60)' "$tmp/hport" &
    holder=$!
    i=0
    while [ ! -s "$tmp/hport" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    hport=$(cat "$tmp/hport")
}

# stats_after N PID -- the first stats line after line N of the log (waits up to 5 s)
stats_after() {
    i=0
    while [ $i -lt 50 ]; do
        l=$(tail -n +"$(($1 + 1))" "$tmp/q.log" | grep -F '"msg":"stats"' | head -1)
        [ -n "$l" ] && { printf '%s\n' "$l"; return 0; }
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# A TARGET -- GET TARGET over the node's admin socket; J EXPR -- EXPR of the JSON d on stdin
A() { curl -sS --max-time 5 --unix-socket "$tmp/state/admin.sock" "http://node$1" 2>&1; }
J() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" 2>&1; }

# ready_check NAME -- the admin API says ready everywhere: /api/v1/status (ready, ready_ms not
# before started_ms), 200 {"ready":true} from /api/v1/ready, qorgau_ready 1 in /metrics, and
# "ready":true on this node's line of `qorgau status -c` (its follower wrote the line)
ready_check() {
    st=$(A /api/v1/status | J 'd["node"]["ready"], d["node"]["ready_ms"] >= d["node"]["started_ms"] > 0')
    if [ "$st" = "True True" ]; then ok "$1: /api/v1/status says ready"; else ko "$1: /api/v1/status: $st"; fi
    code=$(curl -sS --max-time 5 -o "$tmp/ready" -w '%{http_code}' --unix-socket "$tmp/state/admin.sock" \
        http://node/api/v1/ready 2>&1)
    if [ "$code" = 200 ] && [ "$(cat "$tmp/ready")" = '{"ready":true}' ]; then
        ok "$1: /api/v1/ready -> 200 {\"ready\":true}"
    else
        ko "$1: /api/v1/ready -> $code $(cat "$tmp/ready")"
    fi
    if A /metrics | grep -qx 'qorgau_ready 1'; then ok "$1: qorgau_ready 1"; else ko "$1: no qorgau_ready 1"; fi
    i=0
    while [ $i -lt 30 ]; do
        "$QG_BIN" status -c "$tmp/$mode.conf" >"$tmp/status" 2>&1
        grep -qF '"ready":true,"ready_ms":' "$tmp/status" && break
        sleep 0.1
        i=$((i + 1))
    done
    if grep -qF '"ready":true,"ready_ms":' "$tmp/status"; then ok "$1: qorgau status -c says ready"; else
        ko "$1: qorgau status -c"; sed 's/^/    /' "$tmp/status"
    fi
}

run_mode() {
    mode=$1
    rm -rf "$tmp/rules" "$tmp/q.log"
    mkdir -p "$tmp/rules"
    printf 'example.com\n' >"$tmp/rules/a.txt"
    user=nobody
    [ "$(id -u)" = 0 ] || user=$(id -un)
    {
        echo "mode = $mode"
        echo "tap.interface = $tapif"
        echo "workers = 2"
        echo "user = $user"
        echo "rules = $tmp/rules/*.txt"
        echo "state_dir = $tmp/state"
        echo "log.file = $tmp/q.log"
        echo "stats.interval = 1s"
        nport=$(free_port)
        echo "notice.listen = 127.0.0.1:$nport"
        echo "notice.show_order = true"
        echo "inline.listen_address = 127.0.0.1"
        echo "inline.tproxy_port = $(free_port)"
        echo "inline.redirect_port = $(free_port)"
    } >"$tmp/$mode.conf"

    # Not built: the clear error, exit 69, nothing else started.
    "$QG_BIN" run -c "$tmp/$mode.conf" >"$tmp/out" 2>&1 &
    pid=$!
    if ! wait_log '"msg":"starting"' $pid; then
        ko "$mode: no starting line"; sed 's/^/    /' "$tmp/out" "$tmp/q.log"; kill -9 $pid 2>/dev/null; return
    fi
    sleep 0.3
    if ! kill -0 $pid 2>/dev/null; then
        wait $pid
        rc=$?
        if grep -qF "mode $mode is not built into this binary" "$tmp/q.log"; then
            if [ $rc = 69 ] && grep -qF "qorgau: mode $mode is not built into this binary" "$tmp/out"; then
                ok "$mode: not built -> exit 69 with a clear error"
            else
                ko "$mode: not built, but exit $rc / stderr:"; sed 's/^/    /' "$tmp/out"
            fi
            return
        fi
        if [ "$(id -u)" != 0 ]; then
            sk "$mode: built, but needs root to open (exit $rc)"; return
        fi
        ko "$mode: exited $rc at start"; sed 's/^/    /' "$tmp/q.log"; return
    fi
    # Still running: the mode is built.
    if ! wait_log '"msg":"started"' $pid; then
        wait $pid; rc=$?
        if [ "$(id -u)" != 0 ]; then sk "$mode: built, but needs root to open (exit $rc)"; return; fi
        ko "$mode: never started (exit $rc)"; sed 's/^/    /' "$tmp/q.log"; return
    fi
    ok "$mode: started"
    # From the "started" line on, the admin API says the node judges traffic (it answers
    # earlier, not ready): status, the probe endpoint, the gauge and qorgau status -c.
    ready_check "$mode: after start"
    ready_ms=$(A /api/v1/status | J 'd["node"]["ready_ms"]')
    # The built-in notice page server answers on notice.listen (the redirect target).
    if curl -sS --max-time 5 "http://127.0.0.1:$nport/blocked?order=2026-41-0017" >"$tmp/page" 2>&1 &&
        grep -qF '41-1' "$tmp/page" && grep -qF '2026-41-0017' "$tmp/page"; then
        ok "$mode: notice page served on notice.listen"
    else
        ko "$mode: notice page on 127.0.0.1:$nport"; sed 's/^/    /' "$tmp/page" | head -5
    fi
    if [ "$(id -u)" = 0 ]; then
        if grep -qF '"msg":"privileges dropped","user":"nobody"' "$tmp/q.log" &&
            grep -qF '"capabilities":"cap_net_raw,cap_net_admin"' "$tmp/q.log"; then
            ok "$mode: privileges dropped to nobody with cap_net_raw,cap_net_admin"
        else
            ko "$mode: no privilege drop line"
        fi
        if awk '/^CapEff:/ { exit !($2 == "0000000000003000") }' /proc/$pid/status &&
            awk '/^Uid:/ { exit !($2 == 65534) }' /proc/$pid/status; then
            ok "$mode: /proc says uid 65534, CapEff = NET_ADMIN|NET_RAW"
        else
            ko "$mode: /proc status"; grep -E '^(Uid|CapEff|CapPrm)' /proc/$pid/status | sed 's/^/    /'
        fi
    fi

    printf 'example.org\nexample.net\n' >"$tmp/rules/b.txt"
    kill -HUP $pid
    if wait_log '"msg":"reloaded","version":2,"files":2,"domains":3' $pid; then
        ok "$mode: SIGHUP with a new rules file -> reloaded version 2"
    else
        ko "$mode: no reloaded version 2"; sed 's/^/    /' "$tmp/q.log"
    fi

    cp "$tmp/$mode.conf" "$tmp/good.conf"
    echo "log.level = loud" >>"$tmp/$mode.conf"
    kill -HUP $pid
    if wait_log '"msg":"reload failed; keeping the running configuration and rules"' $pid &&
        grep -qF "log.level: 'loud' is not one of error, warn, info, debug" "$tmp/q.log" &&
        ! grep -qF '"version":3' "$tmp/q.log"; then
        ok "$mode: SIGHUP with a broken config -> reload failed, version stays 2"
    else
        ko "$mode: broken config reload"; sed 's/^/    /' "$tmp/q.log"
    fi
    cp "$tmp/good.conf" "$tmp/$mode.conf"

    # the reloads swap what the workers read; they never stop judging
    if [ "$(A /api/v1/status | J 'd["node"]["ready"], d["node"]["ready_ms"]')" = "True $ready_ms" ]; then
        ok "$mode: still ready after the reloads, ready_ms unchanged"
    else
        ko "$mode: ready after the reloads"; A /api/v1/status | sed 's/^/    /'
    fi

    # (waits for a stats line of version 2 itself: the one before the reload may be the last so far)
    if wait_log '"rules_version":2' $pid && grep -F '"rules_version":2' "$tmp/q.log" | grep -qF '"msg":"stats"'; then
        ok "$mode: stats line with rules_version 2"
    else
        ko "$mode: no stats line"
    fi

    # notice.listen moved to a port something else holds: the reload of the rest applies, the
    # page server keeps its listener and says so in the log and in the stats line.
    hold_port
    cp "$tmp/$mode.conf" "$tmp/good.conf"
    sed -i "s/^notice.listen = .*/notice.listen = 127.0.0.1:$hport/" "$tmp/$mode.conf"
    n0=$(wc -l <"$tmp/q.log")
    kill -HUP $pid
    if wait_log '"msg":"notice page reload failed; still serving the previous settings"' $pid &&
        grep -qF "notice: cannot listen on 127.0.0.1:$hport: Address already in use" "$tmp/q.log" &&
        curl -sS --max-time 5 "http://127.0.0.1:$nport/" 2>&1 | grep -qF '41-1'; then
        ok "$mode: SIGHUP, notice.listen taken -> reload of the page server failed, old listener serves"
    else
        ko "$mode: notice reload onto a taken port"; sed 's/^/    /' "$tmp/q.log" | tail -5
    fi
    if stats_after "$n0" $pid | grep -F '"notice.state":"stale"' | grep -qF '"notice.reload_failures":1'; then
        ok "$mode: stats line shows notice.state stale, notice.reload_failures 1"
    else
        ko "$mode: no stale notice state in the stats line"; grep -F '"stats"' "$tmp/q.log" | tail -1 | sed 's/^/    /'
    fi
    kill $holder 2>/dev/null
    wait $holder 2>/dev/null
    # a free port and new text: served there, state back to serving
    mport=$(free_port)
    sed "s/^notice.listen = .*/notice.listen = 127.0.0.1:$mport/" "$tmp/good.conf" >"$tmp/$mode.conf"
    echo 'notice.contact = "call 1414 (moved)"' >>"$tmp/$mode.conf"
    n0=$(wc -l <"$tmp/q.log")
    kill -HUP $pid
    if wait_log '"msg":"notice page server reloaded"' $pid &&
        curl -sS --max-time 5 "http://127.0.0.1:$mport/" 2>&1 | grep -qF 'call 1414 (moved)' &&
        ! curl -sS --max-time 2 "http://127.0.0.1:$nport/" >/dev/null 2>&1; then
        ok "$mode: SIGHUP, notice.listen moved -> page served on the new port with the new text, old closed"
    else
        ko "$mode: notice.listen move"; sed 's/^/    /' "$tmp/q.log" | tail -5
    fi
    if stats_after "$n0" $pid | grep -qF '"notice.state":"serving"'; then
        ok "$mode: stats line shows notice.state serving again"
    else
        ko "$mode: notice.state after the good reload"; grep -F '"stats"' "$tmp/q.log" | tail -1 | sed 's/^/    /'
    fi
    cp "$tmp/good.conf" "$tmp/$mode.conf"

    kill -TERM $pid
    wait $pid
    rc=$?
    if [ $rc = 0 ] && grep -qF '"msg":"stopped","exit":0' "$tmp/q.log"; then
        ok "$mode: SIGTERM -> exit 0"
    else
        ko "$mode: SIGTERM -> exit $rc"; tail -5 "$tmp/q.log" | sed 's/^/    /'
    fi

    # Start-up with notice.listen taken: a clear error on standard error, non-zero exit.
    hold_port
    sed "s/^notice.listen = .*/notice.listen = 127.0.0.1:$hport/" "$tmp/good.conf" >"$tmp/taken.conf"
    rm -f "$tmp/q.log"
    expect "$mode: start with notice.listen taken -> exit 1" 1 \
        "qorgau: notice: cannot listen on 127.0.0.1:$hport: Address already in use" \
        "$tmp/out" "$QG_BIN" run -c "$tmp/taken.conf"
    kill $holder 2>/dev/null
    wait $holder 2>/dev/null
}

# tap needs an interface with a normal MTU: a veth pair made for the test, when possible.
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null 2>&1 &&
    ip link add qgdt$$ type veth peer name qgdu$$ 2>/dev/null; then
    veth=qgdt$$
    ip link set qgdt$$ up && ip link set qgdu$$ up
    tapif=qgdt$$
else
    tapif=lo
fi

for m in tap inline; do
    run_mode "$m"
done

echo "daemon: $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ] || exit 1
[ $skip = 0 ] || exit 77
