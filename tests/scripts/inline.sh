#!/bin/sh
# inline.sh - the inline proxy end to end: client ns -> filter ns (nftables TPROXY, the proxy)
# -> server ns (nginx, TLS 1.2/1.3, HTTP/2, a 10 MB file), with real clients (curl, openssl
# s_client, nghttp, wget, python for split ClientHellos and keep-alive). See tests/netns/lib.sh.
# Under pressure (EVASION L1, L2): a ClientHello sent in pieces with pauses longer in all than the
# first-bytes timeout is still judged; 300 half-sent ClientHellos and 20000 spoofed SYNs from one
# address leave another subscriber served, with the proxy's memory bounded by its pool.
#
# The proxy is `$QG_BIN run -c FILE` (mode = inline) when the daemon supports inline mode,
# else tests/tools/inline_driver (QG_INLINE=driver forces it). Without root or network
# namespaces it fails (QG_ALLOW_SKIP=1: skips, exit 77; tests/lib/skip.sh). Everything it starts is stopped
# by PID and every namespace deleted, on success, failure or interruption.
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
ROOT=$(CDPATH= cd -- "$HERE/../.." && pwd)
QG_LIB=$ROOT/tests/netns/lib.sh
. "$QG_LIB"
QG_BIN=${QG_BIN:-$ROOT/build/qorgau}
QG_TOOLS=${QG_TOOLS:-$ROOT/build/tools}
CLIENT_PY=$ROOT/tests/netns/client.py

. "$ROOT/tests/lib/skip.sh"
if ! why=$(qg_can_run); then
    qg_cannot_run inline "$why"
fi

qg_checks inline proxy.log

ulimit -n 65536 2>/dev/null || true
cl() { ip netns exec "$QG_CLI" "$@"; }
cc() { cl curl -sS -k --max-time 15 "$@"; }
sha() { sha256sum | cut -d' ' -f1; }

qg_setup_net || { bad "namespaces" "setup failed"; exit 1; }
qg_divert tproxy || { bad "nftables" "tproxy ruleset failed"; exit 1; }
qg_start_nginx || { bad "nginx" "did not start"; exit 1; }

cat >"$QG_DIR/rules.txt" <<RULES
blocked.test
$QG_SRV4_B
$QG_SRV6_B
http://allowed.test/secret
RULES

USE_DAEMON=0
if [ "${QG_INLINE:-}" != driver ] && [ -x "$QG_BIN" ] && "$QG_BIN" run --help 2>&1 | grep -q -- '-c' &&
   nm "$QG_BIN" 2>/dev/null | grep -q ' [TDR] mode_inline_ops$'; then
    USE_DAEMON=1
fi

# start_proxy HTTPS_BLOCK(rst|alert) HTTP_BLOCK(redirect|451)
start_proxy() {
    if [ "$USE_DAEMON" = 1 ]; then
        cat >"$QG_DIR/qorgau.conf" <<CONF
mode = inline
workers = 2
user = root
state_dir = $QG_DIR/state
rules = $QG_DIR/rules.txt
inline.tproxy_port = 15001
inline.redirect_port = 15002
inline.https_block = $1
inline.http_block = $2
inline.quic = drop-all
notice.url = http://notice.test/
notice.listen = 127.0.0.1:18080
log.file = $QG_DIR/qorgau.log
stats.interval = 1s
inline.rules_check_interval = 1s
${EXTRA_CONF:-inline.max_per_source = 4096}
CONF
        qg_bg "$QG_DIR/proxy.log" ip netns exec "$QG_FLT" "$QG_BIN" run -c "$QG_DIR/qorgau.conf" --foreground
    else
        tb=reset; [ "$1" = alert ] && tb=alert
        nu="--notice-url=http://notice.test/"; [ "$2" = 451 ] && nu=""
        qg_bg "$QG_DIR/proxy.log" ip netns exec "$QG_FLT" "$QG_TOOLS/inline_driver" \
            --rules "$QG_DIR/rules.txt" --tproxy-port 15001 --redirect-port 15002 --workers 2 \
            --tls-block $tb $nu ${EXTRA_ARGS:-}
    fi
    PROXY_PID=$QG_LAST_PID
    qg_wait_port "$QG_FLT" 15001 && qg_wait_port "$QG_FLT" 15002
}

if [ "$USE_DAEMON" = 1 ]; then echo "proxy: $QG_BIN run (mode inline)"; else echo "proxy: inline_driver"; fi
start_proxy rst redirect || { bad "proxy" "did not start"; cat "$QG_DIR/proxy.log"; exit 1; }

R4=$QG_R4
R6=$QG_R6

for fam in 4 6; do
    if [ $fam = 4 ]; then R=$R4; SRV=$QG_SRV4; SRV_B=$QG_SRV4_B; else R=$R6; SRV=$QG_SRV6; SRV_B=$QG_SRV6_B; fi
    # allowed: byte-identical 10 MB over every protocol combination
    qg_allowed_loads $fam "$R"

    # blocked names: RST for TLS, 302 to the notice page for HTTP
    out=$(cc $R https://blocked.test/small 2>&1); rc=$?
    expect_match "v$fam https blocked -> reset (curl rc $rc)" "$rc $out" '^(35|56) .*[Rr]eset'
    out=$(cc $R --http1.1 --tlsv1.2 --tls-max 1.2 https://www.blocked.test/small 2>&1); rc=$?
    expect_match "v$fam https subdomain blocked tls1.2 -> reset" "$rc $out" '^(35|56) .*[Rr]eset'
    v=$(cc $R -o /dev/null -w '%{http_code} %{redirect_url}' http://blocked.test/page?x=1)
    expect_match "v$fam http blocked -> 302 notice" "$v" '^302 http://notice\.test/\?url=http%3A%2F%2Fblocked\.test%2Fpage'
    v=$(cc $R -o /dev/null -w '%{http_code}' http://allowed.test/secret)
    expect "v$fam http url entry -> 302" "$v" "302"
    # an IP entry blocks whatever name is sent
    out=$(cc --resolve allowed.test:443:$([ $fam = 6 ] && echo "[$SRV_B]" || echo "$SRV_B") https://allowed.test/small 2>&1); rc=$?
    expect_match "v$fam ip entry blocks https" "$rc $out" '^(35|56) .*[Rr]eset'
    # the blocked name split across two TCP segments (inside the name)
    expect "v$fam split ClientHello blocked" "$(cl python3 "$CLIENT_PY" split blocked.test "$SRV" 443)" "reset"
    expect "v$fam split ClientHello allowed" "$(cl python3 "$CLIENT_PY" split allowed.test "$SRV" 443)" "serverhello"
    # a 40 KB ClientHello (padding; nginx's OpenSSL takes hellos up to 128 KiB): its name first,
    # judged on it; its name last, past inline.first_bytes_max (32 KiB): reset by policy, not
    # relayed on its address (EVASION S7)
    expect "v$fam 40 KB ClientHello, allowed name first -> served" \
        "$(cl python3 "$CLIENT_PY" bighello allowed.test "$SRV" 443 40000 first)" "serverhello"
    expect "v$fam 40 KB ClientHello, blocked name past 32 KiB -> reset" \
        "$(cl python3 "$CLIENT_PY" bighello blocked.test "$SRV" 443 40000 last)" "reset"
    # keep-alive: the second request on one connection names a blocked host
    expect "v$fam keep-alive second request blocked" "$(cl python3 "$CLIENT_PY" keepalive "$SRV" 80 allowed.test blocked.test)" "200 302"
done

# openssl s_client, nghttp, wget
qg_client_matrix

# QUIC: UDP 443 never crosses the filter (inline.quic = drop-all); other UDP does
udp_probe() { # PORT [HOST]
    port=$1
    host=${2:-$QG_SRV4}
    qg_bg "$QG_DIR/udp.$port" ip netns exec "$QG_SRV" timeout 4 python3 -c "
import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', $port)); s.settimeout(3)
try: print('got', len(s.recv(2048)))
except socket.timeout: print('none')"
    upid=$QG_LAST_PID
    sleep 0.3
    cl python3 -c "
import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3): s.sendto(b'\xc0' + b'\x00' * 1199, ('$host', $port)); time.sleep(0.1)"
    wait "$upid" 2>/dev/null
    QG_PIDS=$(echo "$QG_PIDS" | tr ' ' '\n' | grep -vx "$upid" | tr '\n' ' ')
    cat "$QG_DIR/udp.$port"
}
expect "udp 443 (QUIC) dropped" "$(udp_probe 443)" "none"
expect "udp 4433 passes (control)" "$(udp_probe 4433)" "got 1200"

# IP entries on every port (ip.kernel_drop = auto: on in inline mode; docs/queue.md "IP entries
# on every port"): the kernel drops what the proxy never sees - UDP (443 included: inline mode
# judges no UDP) and TCP on other ports - to the listed address; the unlisted one is served
if [ "$USE_DAEMON" = 1 ]; then
    expect "ip.kernel_drop: udp 4433 to a listed address dropped" "$(udp_probe 4433 "$QG_SRV4_B")" "none"
    qg_bg "$QG_DIR/alt.out" ip netns exec "$QG_SRV" python3 -m http.server 8080 --bind ::
    alt_pid=$QG_LAST_PID
    qg_wait_port "$QG_SRV" 8080 >/dev/null || bad "port 8080 server" "did not start"
    alt() { cl curl -s -o /dev/null --connect-timeout 1 --max-time 3 -w '%{http_code}' "http://$1:8080/"; }
    expect "ip.kernel_drop: v4 TCP 8080, unlisted address -> served" "$(alt "$QG_SRV4")" "200"
    expect "ip.kernel_drop: v4 TCP 8080, listed address -> dropped" "$(alt "$QG_SRV4_B")" "000"
    expect "ip.kernel_drop: v6 TCP 8080, listed address -> dropped" "$(alt "[$QG_SRV6_B]")" "000"
    expect "ip.kernel_drop: v4 TCP 8080 from source port 443, listed address -> dropped" \
        "$(cl curl -s -o /dev/null --local-port 443 --connect-timeout 1 --max-time 3 -w '%{http_code}' "http://$QG_SRV4_B:8080/")" "000"
    expect "ip.kernel_drop: inline mode's chain leaves only TCP 80/443 to the proxy" \
        "$(ip netns exec "$QG_FLT" nft list chain inet qorgau_ip forward | grep -c 'dport')" "1"
    qg_stop "$alt_pid"
fi

# RSS per idle relayed connection: 2000 kept-alive HTTP connections held open
PPID_RSS=$PROXY_PID
# smaps_rollup walks the page tables (VmRSS is an approximate per-cpu counter on new kernels)
rss() { awk '/^Rss:/ { print $2 }' "/proc/$1/smaps_rollup"; }
N=2000
r0=$(rss "$PPID_RSS")
qg_bg "$QG_DIR/idle.log" ip netns exec "$QG_CLI" python3 "$CLIENT_PY" idle "$QG_SRV4" 80 $N 30
idle_pid=$QG_LAST_PID
i=0; while ! grep -q ready "$QG_DIR/idle.log" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
r1=$(rss "$PPID_RSS")
per=$(( (r1 - r0) * 1024 / N ))
echo "     rss: $r0 KiB -> $r1 KiB with $N idle relayed connections: $per bytes each"
if nm "$QG_BIN" 2>/dev/null | grep -q __asan_init && [ "$USE_DAEMON" = 1 ]; then
    # ASan's shadow memory and quarantine are not the proxy's: only the connections are checked
    expect "idle connections held (sanitizer build: RSS not asserted)" "$(grep -c ready "$QG_DIR/idle.log")" "1"
else
    expect "idle connection <= 2 KiB RSS" "$([ $per -le 2048 ] && grep -q ready "$QG_DIR/idle.log" && echo yes)" "yes"
fi
qg_stop "$idle_pid"

# second configuration: TLS alert instead of RST, 451 page instead of the redirect
qg_stop "$PROXY_PID"
start_proxy alert 451 || { bad "proxy (alert/451)" "did not start"; exit 1; }
out=$(cc $R4 https://blocked.test/small 2>&1); rc=$?
expect_match "https blocked -> TLS alert unrecognized_name" "$rc $out" '^35 .*unrecognized name'
expect "split ClientHello -> alert 112" "$(cl python3 "$CLIENT_PY" split blocked.test "$QG_SRV4" 443)" "alert:112"
v=$(cc $R4 -o "$QG_DIR/page" -w '%{http_code}' http://blocked.test/)
expect "http blocked -> 451" "$v" "451"
expect_match "451 page names the resource" "$(cat "$QG_DIR/page")" 'blocked\.test'
v=$(cc $R6 -o /dev/null -w '%{http_code}' http://blocked.test/)
expect "v6 http blocked -> 451" "$v" "451"

# the diversion watched (the daemon; inline.rules_check_interval = 1s here): the nftables table
# deleted under the running daemon (a firewall reload) leaves no connection reaching the proxy,
# judged by nothing - the gauge inline.rules_unfed reads 1 within seconds and an error is
# logged; the ruleset loaded again sets it back to 0, and the log says the rules divert again
if [ "$USE_DAEMON" = 1 ]; then
    gauge() { grep '"msg":"stats"' "$QG_DIR/proxy.log" | tail -n 1 | grep -Eo '"inline.rules_unfed":[0-9]+' | cut -d: -f2; }
    waitg() { # VALUE: the gauge once it reads VALUE (up to 20 s), else what it reads
        i=0
        while [ $i -lt 200 ] && [ "$(gauge)" != "$1" ]; do sleep 0.1; i=$((i + 1)); done
        gauge
    }
    expect "diversion watched: the rules in place, inline.rules_unfed 0" "$(waitg 0)" "0"
    qg_in "$QG_FLT" nft delete table inet qorgau
    expect "diversion watched: the table deleted -> inline.rules_unfed 1" "$(waitg 1)" "1"
    expect_match "diversion watched: ... logged as an error" \
        "$(grep '"msg":"the kernel.s diversion rules"' "$QG_DIR/proxy.log" | tail -n 1)" \
        '"level":"error".*No nf_tables rule diverts connections to the proxy \(tproxy to port 15001, redirect to port 15002\)'
    v=$(cc $R4 -o /dev/null -w '%{http_code}' http://blocked.test/)
    expect "diversion watched: ... a blocked name then reaches its server unjudged (what it warns of)" "$v" "200"
    out=$(qg_in "$QG_FLT" "$QG_BIN" run --check -c "$QG_DIR/qorgau.conf" 2>&1 >/dev/null)
    expect "diversion watched: ... run --check says it, exit 0 (never refused)" \
        "$? $(printf '%s' "$out" | grep -c 'warning: inline: No nf_tables rule diverts connections to the proxy')" "0 1"
    qg_divert tproxy || bad "nftables" "tproxy ruleset failed to load again"
    expect "diversion watched: the ruleset loaded again -> inline.rules_unfed 0" "$(waitg 0)" "0"
    expect_match "diversion watched: ... run --check: ok" \
        "$(qg_in "$QG_FLT" "$QG_BIN" run --check -c "$QG_DIR/qorgau.conf" 2>&1 >/dev/null)" \
        "inline: ok \(2 of the kernel.s rules divert connections to the proxy\)"
    expect "diversion watched: ... logged: the rules divert (at start, and again now)" \
        "$(grep -c '"msg":"the kernel.s rules divert connections to the proxy"' "$QG_DIR/proxy.log")" "2"
fi

# Live modes under pressure (EVASION L1, L2): a short first-bytes timeout, a per-source limit and
# a small pool. The client namespace gets a second address: the subscriber who is not flooding.
qg_stop "$PROXY_PID"
EXTRA_CONF="inline.first_bytes_timeout = 2s
inline.max_per_source = 100
inline.max_connections = 400"
EXTRA_ARGS="--first-bytes-timeout 2000 --max-per-source 100 --max-connections 400"
start_proxy rst redirect || { bad "proxy (limits)" "did not start"; exit 1; }
OTHER=10.200.1.9
qg_in "$QG_CLI" ip addr add $OTHER/24 dev c0
# L1: a ClientHello in 4 pieces 1.5 s apart, the name in the last (4.5 s before it arrives, each
# pause inside the 2 s timeout)
expect "L1 slow ClientHello, blocked name -> reset" "$(cl python3 "$CLIENT_PY" slow blocked.test "$QG_SRV4" 443 4 1.5)" "reset"
expect "L1 slow ClientHello, allowed name -> server" "$(cl python3 "$CLIENT_PY" slow allowed.test "$QG_SRV4" 443 4 1.5)" "serverhello"
# L2: 300 half-sent ClientHellos from one address; another address keeps being served
r0=$(rss "$PROXY_PID")
qg_bg "$QG_DIR/flood.log" ip netns exec "$QG_CLI" python3 "$CLIENT_PY" flood "$QG_SRV4" 443 300 8
flood_pid=$QG_LAST_PID
i=0; while ! grep -q ready "$QG_DIR/flood.log" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
held=$(awk '/ready/ { print $2 }' "$QG_DIR/flood.log")
echo "     flood: $held of 300 half-sent connections held by the proxy (max_per_source 100)"
expect "L2 flood from one source held to its share (90..100)" "$([ -n "$held" ] && [ "$held" -ge 90 ] && [ "$held" -le 100 ] && echo yes)" "yes"
v=$(cc $R4 --interface $OTHER -o /dev/null -w '%{http_code}' https://allowed.test/small)
expect "L2 during the flood: another subscriber is served" "$v" "200"
out=$(cc $R4 --interface $OTHER https://blocked.test/small 2>&1); rc=$?
expect_match "L2 during the flood: a blocked name is still reset" "$rc $out" '^(35|56) .*[Rr]eset'
r1=$(rss "$PROXY_PID")
echo "     rss during the flood: $r0 KiB -> $r1 KiB"
if nm "$QG_BIN" 2>/dev/null | grep -q __asan_init; then
    expect "L2 flood held (sanitizer build: RSS not asserted)" "$([ -n "$held" ] && echo yes)" "yes"
else
    # the pool bounds it: at most max_connections first-bytes buffers (16 KiB) are touched
    expect "L2 memory bounded by the pool (< 8 MiB more)" "$([ $((r1 - r0)) -lt 8192 ] && echo yes)" "yes"
fi
qg_stop "$flood_pid"
# L2: a SYN flood from one source never reaches the proxy (the kernel answers with SYN cookies)
n=$(cl python3 "$CLIENT_PY" synflood 10.200.1.2 "$QG_SRV4" 443 20000)
v=$(cc $R4 --interface $OTHER -o /dev/null -w '%{http_code}' https://allowed.test/small)
expect "L2 after $n spoofed SYNs: another subscriber is served" "$v" "200"
qg_stop "$PROXY_PID"
EXTRA_CONF=""
EXTRA_ARGS=""
start_proxy alert 451 || { bad "proxy (alert/451, again)" "did not start"; exit 1; }

# REDIRECT fallback (nftables NAT to inline.redirect_port, SO_ORIGINAL_DST)
qg_divert redirect || bad "nftables redirect ruleset"
v=$(cc $R4 --http2 -o "$QG_DIR/out" -w '%{http_version}' https://allowed.test/big.bin)
expect "redirect: v4 https allowed h2 sha256" "$v $(sha <"$QG_DIR/out")" "2 $QG_BIG_SHA"
v=$(cc $R6 -o "$QG_DIR/out" -w '%{http_code}' http://allowed.test/big.bin)
expect "redirect: v6 http allowed sha256" "$v $(sha <"$QG_DIR/out")" "200 $QG_BIG_SHA"
out=$(cc $R4 https://blocked.test/small 2>&1); rc=$?
expect_match "redirect: v4 https blocked" "$rc $out" '^35 .*unrecognized name'
out=$(cc $R6 https://blocked.test/small 2>&1); rc=$?
expect_match "redirect: v6 https blocked" "$rc $out" '^35 .*unrecognized name'
v=$(cc $R6 -o /dev/null -w '%{http_code}' http://blocked.test/)
expect "redirect: v6 http blocked -> 451" "$v" "451"

# connections passed before an order (docs/queue.md "Connections passed before an order"): after
# every new rule set the proxy judges its relayed connections again, on the name each was passed
# on and its server's address, and resets those now blocked. Three TLS connections opened and
# used, then an order (the rules file changed, the daemon reloaded) lists the name of the first
# and the address of the second; each then asks again. (Before, all three were served.)
if [ "$USE_DAEMON" = 1 ]; then
    qg_bg "$QG_DIR/holdn.out" ip netns exec "$QG_CLI" python3 "$CLIENT_PY" hold later.test "$QG_SRV4" 443 "$QG_DIR/hold.go"
    qg_bg "$QG_DIR/holda.out" ip netns exec "$QG_CLI" python3 "$CLIENT_PY" hold allowed.test "$QG_SRV6" 443 "$QG_DIR/hold.go"
    qg_bg "$QG_DIR/holdk.out" ip netns exec "$QG_CLI" python3 "$CLIENT_PY" hold allowed.test "$QG_SRV4" 443 "$QG_DIR/hold.go"
    i=0
    while [ $i -lt 100 ] && [ "$(cat "$QG_DIR"/hold?.out 2>/dev/null | grep -c '^open$')" != 3 ]; do
        sleep 0.1; i=$((i + 1))
    done
    expect "passed before the order: three TLS connections open and served" \
        "$(cat "$QG_DIR"/hold?.out | grep -c '^open$')" "3"
    printf 'later.test\n%s\n' "$QG_SRV6" >>"$QG_DIR/rules.txt"
    n0=$(grep -c '"msg":"reloaded"' "$QG_DIR/proxy.log")
    kill -HUP "$PROXY_PID"
    i=0
    while [ $i -lt 100 ] && [ "$(grep -c '"msg":"reloaded"' "$QG_DIR/proxy.log")" = "$n0" ]; do sleep 0.1; i=$((i + 1)); done
    sleep 0.5 # the workers' next loop (at most 100 ms apart)
    touch "$QG_DIR/hold.go"
    for h in n a k; do
        i=0
        while [ $i -lt 100 ] && [ "$(wc -l <"$QG_DIR/hold$h.out")" -lt 2 ]; do sleep 0.1; i=$((i + 1)); done
    done
    expect "passed before the order: its name listed -> reset" "$(tail -n 1 "$QG_DIR/holdn.out")" "reset"
    expect "passed before the order: its server's address listed -> reset" "$(tail -n 1 "$QG_DIR/holda.out")" "reset"
    expect "passed before the order: neither listed -> still served" "$(tail -n 1 "$QG_DIR/holdk.out")" "http:200"
    i=0 # the log is written by a thread of its own
    while [ $i -lt 50 ] && ! grep '"cut":true' "$QG_DIR/proxy.log" | grep -q '"name":"later.test"'; do
        sleep 0.1; i=$((i + 1))
    done
    expect_match "passed before the order: logged as blocks with cut set" \
        "$(grep '"cut":true' "$QG_DIR/proxy.log" | grep -c '"name":"later.test"')" '^[1-9]'
fi
