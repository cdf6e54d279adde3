#!/bin/sh
# radius.sh - the RADIUS Accounting feed end to end: `qorgau run` (tap mode on a veth pair in a
# network namespace this script creates, its own state_dir) with radius.listen on the
# namespace's loopback, a real redis-server there as the store, and real packets from
# `radclient` (freeradius-utils) and from a second, independent client written here in Python
# (hashlib MD5) for what radclient cannot send: the same packet twice, broken attributes.
#
# Checks: Start IPv4 (MSISDN, IMSI) and Start IPv6 prefix are answered and `qorgau subscriber
# show` names the subscriber (an address inside the prefix too); an Interim-Update keeps it
# with an expiry; a retransmission (same identifier and authenticator) is answered with the
# same response and applied once (radius.duplicates, radius.mapped); the Response
# Authenticator checks out with the secret; a wrong secret and an unknown client (the listener
# is dual-stack, [::1] is not a client) get no answer and are counted; truncated, oversized
# and wrong-length attributes and an oversized datagram get no answer and are counted
# (radius.malformed); Stop removes the IPv4 mapping; an unknown session's Stop does not;
# radius.subscriber_id = imsi; the mappings are in Redis with a TTL and on the change stream; a
# second node (no listener, the same store) loads the map at start and follows later changes
# (its stats line's subs.entries equals `qorgau subscriber list`).
#
# Env: QG_BIN (default build/qorgau), QG_RADIUS_KEEP=1 keeps the work directory.
# Needs root, radclient, redis-server, redis-cli, python3; otherwise fails (QG_ALLOW_SKIP=1:
# skips, exit 77). Prints PASS/FAIL lines and "radius: N passed, M failed".
set -u

QG_BIN=${QG_BIN:-build/qorgau}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $QG_BIN in /*) ;; *) QG_BIN=$(pwd)/$QG_BIN ;; esac
. "$root/tests/lib/live.sh"

[ "$(id -u)" = 0 ] || qg_cannot_run radius "needs root (network namespaces)"
for t in radclient redis-server redis-cli python3; do
    command -v $t >/dev/null 2>&1 || qg_cannot_run radius "$t is not installed"
done
[ -x "$QG_BIN" ] || { echo "radius: $QG_BIN is not an executable (set QG_BIN)" >&2; exit 2; }

ns=qgrad$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qg-radius.XXXXXX") || exit 2
rpid=""
npid=""
bpid=""
cleanup() {
    [ -n "$npid" ] && kill "$npid" 2>/dev/null && wait "$npid" 2>/dev/null
    [ -n "$bpid" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
    [ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    if [ "${QG_RADIUS_KEEP:-0}" = 1 ]; then echo "radius: keeping $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT INT TERM

ip netns add "$ns" || qg_cannot_run radius "cannot create a network namespace"
E() { ip netns exec "$ns" "$@"; }
E ip link set lo up
E ip link add v0 type veth peer name v1 && E ip link set v0 up && E ip link set v1 up ||
    qg_cannot_run radius "cannot create a veth pair"

ip netns exec "$ns" redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp" >"$tmp/redis.log" 2>&1 &
rpid=$!
t=0
until E redis-cli -p 6379 ping >/dev/null 2>&1; do
    t=$((t + 1))
    [ $t -gt 50 ] && { ko "redis-server starts"; exit 1; }
    sleep 0.1
done

SECRET=testing123
printf '%s\n' "$SECRET" >"$tmp/secret"
chmod 600 "$tmp/secret"
cat >"$tmp/n.conf" <<CONF
mode = tap
tap.interface = v0
user = root
workers = 1
store = redis://127.0.0.1:6379
state_dir = $tmp/state
node.id = r1
notice.listen = 127.0.0.1:18181
stats.interval = 1s
radius.listen = [::]:1813
radius.client = 127.0.0.1 $tmp/secret
radius.session_ttl = 120m
CONF
log=""
start_node() { # start_node CONFIG LOG: waits for the listener; the node's log is $log
    log=$2
    ip netns exec "$ns" "$QG_BIN" run -c "$1" --foreground >"$log" 2>&1 &
    npid=$!
    t=0
    until grep -q '"accounting listener started"' "$log" 2>/dev/null; do
        t=$((t + 1))
        [ $t -gt 100 ] && return 1
        kill -0 "$npid" 2>/dev/null || return 1
        sleep 0.1
    done
}
stop_node() { kill "$npid" && wait "$npid" 2>/dev/null; npid=""; }
start_node "$tmp/n.conf" "$tmp/n1.log" || { ko "qorgau run starts with radius.listen"; cat "$log"; exit 1; }
ok "qorgau run starts with radius.listen"

# acct HOST ATTRS [SECRET]: one accounting request from radclient; its exit status
acct() {
    printf '%s\n' "$2" | E radclient -r 1 -t 1 "$1" acct "${3:-$SECRET}" >>"$tmp/radclient.log" 2>&1
}
show() { E "$QG_BIN" subscriber -c "$tmp/n.conf" show "$1" 2>>"$tmp/cli.log"; }
# counter NAME: the last stats line's value of radius.NAME
counter() {
    sleep 1.2
    grep '"stats"' "$log" | tail -1 | sed -n "s/.*\"radius\\.$1\":\\([0-9]*\\).*/\\1/p"
}

V4='Acct-Status-Type = Start, Acct-Session-Id = "s-v4-1", Framed-IP-Address = 10.20.0.5, Calling-Station-Id = "77011234567", User-Name = "alice", 3GPP-IMSI = "401770123456789"'
check "Start IPv4 answered" acct 127.0.0.1:1813 "$V4"
check "show 10.20.0.5 = the MSISDN" sh -c "$(printf '%s' "show() { ip netns exec $ns $QG_BIN subscriber -c $tmp/n.conf show \$1; }; show 10.20.0.5 | grep -q '^10.20.0.5 77011234567 session=s-v4-1 '")"

V6='Acct-Status-Type = Start, Acct-Session-Id = "s-v6-1", Framed-IPv6-Prefix = 2001:db8:77::/56, Calling-Station-Id = "77019998877"'
check "Start IPv6 prefix answered" acct 127.0.0.1:1813 "$V6"
out=$(show 2001:db8:77:42::9)
case $out in "2001:db8:77::/56 77019998877 session=s-v6-1 "*) ok "show of an address inside the /56 = its subscriber" ;;
*) ko "show of an address inside the /56 = its subscriber (got: $out)" ;; esac

# node b: no listener, the same store: it loads the map, then follows the change stream
sed -e '/^radius\./d' -e 's/^node.id = r1/node.id = b1/' -e 's/^notice.listen = .*/notice.listen = 127.0.0.1:18182/' \
    -e "s#^state_dir = .*#state_dir = $tmp/state-b#" -e 's/^tap.interface = v0/tap.interface = v1/' \
    "$tmp/n.conf" >"$tmp/b.conf"
ip netns exec "$ns" "$QG_BIN" run -c "$tmp/b.conf" --foreground >"$tmp/b.log" 2>&1 &
bpid=$!
t=0
until grep -q '"subscriber map loaded"' "$tmp/b.log" 2>/dev/null || [ $t -gt 100 ]; do sleep 0.1; t=$((t + 1)); done
check "node b (no listener) loads the 2 mappings from the store" grep -q '"subscriber map loaded","entries":2' "$tmp/b.log"

check "Interim-Update answered" acct 127.0.0.1:1813 'Acct-Status-Type = Interim-Update, Acct-Session-Id = "s-v4-1", Framed-IP-Address = 10.20.0.5, Calling-Station-Id = "77011234567", Acct-Interim-Interval = 60'
out=$(show 10.20.0.5)
case $out in *" expires=never") ko "Interim-Update: mapping expires (got: $out)" ;;
"10.20.0.5 77011234567 "*) ok "Interim-Update: mapping kept, with an expiry" ;;
*) ko "Interim-Update: mapping kept (got: $out)" ;; esac
pttl=$(E redis-cli -p 6379 pttl "qorgau:sub:ip:10.20.0.5")
if [ "${pttl:-0}" -gt 170000 ] && [ "${pttl:-0}" -le 180000 ]; then ok "Redis TTL = 3 x Acct-Interim-Interval ($pttl ms)"
else ko "Redis TTL = 3 x Acct-Interim-Interval (got $pttl)"; fi

# --- what radclient cannot send: the Python client ---
cat >"$tmp/raw.py" <<'PY'
import hashlib, socket, struct, sys
secret = sys.argv[1].encode()
mode = sys.argv[2]
def attr(t, v): return bytes([t, len(v) + 2]) + v
def pkt(ident, attrs, length=None):
    L = 20 + len(attrs) if length is None else length
    hdr = bytes([4, ident]) + struct.pack(">H", L)
    auth = hashlib.md5(hdr + b"\0" * 16 + attrs + secret).digest()
    return hdr + auth + attrs, auth
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
dst = ("127.0.0.1", 1813)
def ask(p):
    s.sendto(p, dst)
    try:
        return s.recv(100)
    except socket.timeout:
        return None
start = attr(40, struct.pack(">I", 1)) + attr(44, b"s-dup-1") + attr(8, bytes([10, 20, 0, 9])) + attr(31, b"77010000009")
if mode == "dup":
    p, auth = pkt(77, start)
    r1, r2 = ask(p), ask(p)
    ok = r1 is not None and r1 == r2 and r1[0] == 5 and r1[1] == 77
    want = hashlib.md5(bytes([5, 77, 0, 20]) + auth + secret).digest()
    ok = ok and r1[4:20] == want
    print("dup-ok" if ok else "dup-bad %r %r" % (r1, r2))
elif mode == "broken":
    cases = {
        "truncated attribute": pkt(80, start + bytes([31, 40]) + b"7701")[0],
        "attribute length 1": pkt(81, start + bytes([31, 1]))[0],
        "Framed-IP-Address of 5": pkt(82, attr(40, struct.pack(">I", 1)) + attr(8, b"\x0a\x14\x00\x0a\x00"))[0],
        "Framed-IPv6-Prefix over 128": pkt(83, attr(40, struct.pack(">I", 1)) + attr(97, bytes([0, 200]) + b"\x20\x01"))[0],
        "length beyond the datagram": pkt(84, start, length=400)[0],
        "oversized datagram (5000 bytes)": pkt(85, start + attr(26, b"\0\0\0\1" + b"A" * 240) * 20)[0],
    }
    bad = [k for k, p in cases.items() if ask(p) is not None]
    print("broken-ok" if not bad else "answered: " + ", ".join(bad))
PY
dup0=$(counter duplicates)
map0=$(counter mapped)
out=$(E python3 "$tmp/raw.py" "$SECRET" dup)
check "retransmission: the same response twice, Response Authenticator valid ($out)" [ "$out" = dup-ok ]
dup1=$(counter duplicates)
map1=$(counter mapped)
check "retransmission counted (radius.duplicates $dup0 -> $dup1)" [ "$((dup1 - dup0))" = 1 ]
check "retransmission applied once (radius.mapped $map0 -> $map1)" [ "$((map1 - map0))" = 1 ]
n=$(E redis-cli -p 6379 xlen qorgau:sub:changes)
check "change stream: one entry per applied batch (4, got $n)" [ "$n" = 4 ]

mal0=$(counter malformed)
out=$(E python3 "$tmp/raw.py" "$SECRET" broken)
check "broken packets get no answer ($out)" [ "$out" = broken-ok ]
mal1=$(counter malformed)
check "broken packets counted (radius.malformed $mal0 -> $mal1)" [ "$((mal1 - mal0))" -ge 5 ]
show 10.20.0.10 >/dev/null && ko "a malformed Start mapped nothing" || ok "a malformed Start mapped nothing"

bad0=$(counter bad_authenticator)
if acct 127.0.0.1:1813 'Acct-Status-Type = Start, Framed-IP-Address = 10.20.0.66, Calling-Station-Id = "7700"' wrongsecret; then
    ko "wrong secret: no answer"; else ok "wrong secret: no answer"; fi
bad1=$(counter bad_authenticator)
check "wrong secret counted (radius.bad_authenticator $bad0 -> $bad1)" [ "$bad1" -gt "$bad0" ]
show 10.20.0.66 >/dev/null && ko "wrong secret mapped nothing" || ok "wrong secret mapped nothing"

unk0=$(counter unknown_client)
if acct '[::1]:1813' 'Acct-Status-Type = Start, Framed-IP-Address = 10.20.0.67, Calling-Station-Id = "7700"'; then
    ko "unknown client: no answer"; else ok "unknown client: no answer"; fi
unk1=$(counter unknown_client)
check "unknown client counted (radius.unknown_client $unk0 -> $unk1)" [ "$unk1" -gt "$unk0" ]

check "Stop of another session answered" acct 127.0.0.1:1813 'Acct-Status-Type = Stop, Acct-Session-Id = "s-old", Framed-IP-Address = 10.20.0.5'
check "Stop of another session leaves the mapping" sh -c "ip netns exec $ns $QG_BIN subscriber -c $tmp/n.conf show 10.20.0.5 >/dev/null 2>&1"
check "Stop answered" acct 127.0.0.1:1813 'Acct-Status-Type = Stop, Acct-Session-Id = "s-v4-1", Framed-IP-Address = 10.20.0.5'
show 10.20.0.5 >/dev/null 2>&1 && ko "Stop removes the mapping" || ok "Stop removes the mapping"
show 2001:db8:77::/56 >/dev/null && ok "the IPv6 prefix stays" || ko "the IPv6 prefix stays"
n=$(E "$QG_BIN" subscriber -c "$tmp/n.conf" list 2>/dev/null | wc -l)
sleep 1.2
b=$(grep '"stats"' "$tmp/b.log" | tail -1 | sed -n 's/.*"subs\.entries":\([0-9]*\).*/\1/p')
f=$(grep '"stats"' "$tmp/b.log" | tail -1 | sed -n 's/.*"subs\.followed":\([0-9]*\).*/\1/p')
check "node b follows: its map holds what the store holds ($b = $n, $f changes followed)" [ "${b:-x}" = "$n" ]
check "node b followed the later changes (Interim, the retransmitted Start, the Stops)" [ "${f:-0}" -ge 4 ]

# --- radius.subscriber_id = imsi ---
stop_node
sed -i 's/^radius.session_ttl.*/radius.subscriber_id = imsi/' "$tmp/n.conf"
start_node "$tmp/n.conf" "$tmp/n2.log" || { ko "restart with radius.subscriber_id = imsi"; exit 1; }
check "Start with IMSI answered" acct 127.0.0.1:1813 'Acct-Status-Type = Start, Acct-Session-Id = "s-imsi", Framed-IP-Address = 10.20.0.7, Calling-Station-Id = "77011234567", 3GPP-IMSI = "401770123456789"'
out=$(show 10.20.0.7)
case $out in "10.20.0.7 401770123456789 "*) ok "radius.subscriber_id = imsi names the IMSI" ;;
*) ko "radius.subscriber_id = imsi names the IMSI (got: $out)" ;; esac
pttl=$(E redis-cli -p 6379 pttl "qorgau:sub:ip:10.20.0.7")
check "without Acct-Interim-Interval: the default TTL 2h ($pttl ms)" [ "${pttl:-0}" -gt 7100000 ]
cat "$tmp"/n*.log | grep -q "$SECRET" && ko "the secret never appears in the log" || ok "the secret never appears in the log"

# --- operator-written mappings ---
E "$QG_BIN" subscriber -c "$tmp/n.conf" set 10.30.0.1 op-77015550000 --ttl 1h >/dev/null
out=$(show 10.30.0.1)
case $out in "10.30.0.1 op-77015550000 session=- "*) ok "subscriber set / show" ;; *) ko "subscriber set / show (got: $out)" ;; esac
E "$QG_BIN" subscriber -c "$tmp/n.conf" del 10.30.0.1 >/dev/null
show 10.30.0.1 >/dev/null 2>&1 && ko "subscriber del" || ok "subscriber del"
n=$(E "$QG_BIN" subscriber -c "$tmp/n.conf" list 2>/dev/null | wc -l)
check "subscriber list: 3 mappings (got $n)" [ "$n" = 3 ]

echo "radius: $pass passed, $fail failed"
[ $fail -eq 0 ]
