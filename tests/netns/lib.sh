# lib.sh - network namespaces for the live tests (sourced by tests/scripts/inline.sh and friends).
#
#   client ns qg-cli-ID            filter ns qg-flt-ID                 server ns qg-srv-ID
#   c0 10.200.1.2/24  ─── veth ───  f0 10.200.1.1   f1 10.200.2.1  ─── veth ───  s0 10.200.2.2/24
#      fd00:200:1::2/64               fd00:200:1::1   fd00:200:2::1          fd00:200:2::2/64
#      default via the filter         forwards; nftables TPROXY              (+ .3 / ::3 extra)
#                                     TCP 80/443 -> :15001, UDP 443 drop     nginx 80/443 (h2)
#
# Every name carries ID (default: the shell's PID) so parallel runs do not clash; no address
# exists outside the namespaces, so no traffic leaves them. Veth ends are created directly in
# their namespaces. qg_cleanup (install it in a trap) stops every process started through
# qg_bg by PID, deletes the namespaces and the temporary directory. Needs root, iproute2,
# nftables, nginx, openssl.

QG_ID=${QG_ID:-$$}
QG_CLI=qg-cli-$QG_ID
QG_FLT=qg-flt-$QG_ID
QG_SRV=qg-srv-$QG_ID
QG_PIDS=""
QG_DIR=""
QG_NETNS_DIR=$(CDPATH= cd -- "$(dirname -- "${QG_LIB:-$0}")" && pwd)

QG_SRV4=10.200.2.2
QG_SRV4_B=10.200.2.3
QG_SRV6=fd00:200:2::2
QG_SRV6_B=fd00:200:2::3

qg_in() { ns=$1; shift; ip netns exec "$ns" "$@"; }

# Can this environment build namespaces? (root, ip netns, nft, nginx)
qg_can_run() {
    [ "$(id -u)" = 0 ] || { echo "not root"; return 1; }
    for t in ip nft nginx openssl curl; do
        command -v $t >/dev/null 2>&1 || { echo "$t not installed"; return 1; }
    done
    ip netns add qg-probe-$QG_ID 2>/dev/null || { echo "cannot create network namespaces"; return 1; }
    ip netns del qg-probe-$QG_ID
    return 0
}

# Starts a command in the background (it may be `ip netns exec NS ...`) and remembers its PID.
qg_bg() {
    log=$1; shift
    "$@" >"$log" 2>&1 &
    QG_PIDS="$QG_PIDS $!"
    QG_LAST_PID=$!
}

# Stops one PID started by qg_bg (TERM, then KILL after 3 s).
qg_stop() {
    pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    QG_PIDS=$(echo "$QG_PIDS" | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
}

qg_cleanup() {
    for pid in $QG_PIDS; do qg_stop "$pid"; done
    for ns in $QG_CLI $QG_FLT $QG_SRV; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "/etc/netns/$QG_CLI"
    [ -n "$QG_DIR" ] && rm -rf "$QG_DIR"
    QG_PIDS=""
}

qg_setup_net() {
    QG_DIR=$(mktemp -d /tmp/qg-netns-XXXXXX)
    for ns in $QG_CLI $QG_FLT $QG_SRV; do
        ip netns add "$ns" || return 1
        qg_in "$ns" ip link set lo up
        qg_in "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    done
    ip link add name c0 netns "$QG_CLI" type veth peer name f0 netns "$QG_FLT" || return 1
    ip link add name f1 netns "$QG_FLT" type veth peer name s0 netns "$QG_SRV" || return 1

    qg_in $QG_CLI ip addr add 10.200.1.2/24 dev c0
    qg_in $QG_CLI ip -6 addr add fd00:200:1::2/64 dev c0 nodad
    qg_in $QG_CLI ip link set c0 up
    qg_in $QG_CLI ip route add default via 10.200.1.1
    qg_in $QG_CLI ip -6 route add default via fd00:200:1::1

    qg_in $QG_FLT ip addr add 10.200.1.1/24 dev f0
    qg_in $QG_FLT ip addr add 10.200.2.1/24 dev f1
    qg_in $QG_FLT ip -6 addr add fd00:200:1::1/64 dev f0 nodad
    qg_in $QG_FLT ip -6 addr add fd00:200:2::1/64 dev f1 nodad
    qg_in $QG_FLT ip link set f0 up
    qg_in $QG_FLT ip link set f1 up
    qg_in $QG_FLT sysctl -qp "$QG_NETNS_DIR/../../deploy/sysctl-qorgau.conf" >/dev/null

    qg_in $QG_SRV ip addr add $QG_SRV4/24 dev s0
    qg_in $QG_SRV ip addr add $QG_SRV4_B/24 dev s0
    qg_in $QG_SRV ip -6 addr add $QG_SRV6/64 dev s0 nodad
    qg_in $QG_SRV ip -6 addr add $QG_SRV6_B/64 dev s0 nodad
    qg_in $QG_SRV ip link set s0 up
    qg_in $QG_SRV ip route add default via 10.200.2.1
    qg_in $QG_SRV ip -6 route add default via fd00:200:2::1

    # a per-namespace hosts file (ip netns exec bind-mounts it) for clients without --resolve
    mkdir -p "/etc/netns/$QG_CLI"
    printf '%s\n' "$QG_SRV4 allowed.test blocked.test www.blocked.test" >"/etc/netns/$QG_CLI/hosts"
    qg_in $QG_CLI ip route get $QG_SRV4 >/dev/null 2>&1 || { echo "netns: no route client -> server"; return 1; }
    return 0
}

# Diverts TCP 80/443 crossing the filter to the proxy: mode tproxy (default) or redirect.
qg_divert() {
    mode=${1:-tproxy}
    qg_in $QG_FLT nft delete table inet qorgau 2>/dev/null || true
    qg_in $QG_FLT nft delete table ip qorgau_nat 2>/dev/null || true
    qg_in $QG_FLT nft delete table ip6 qorgau_nat 2>/dev/null || true
    if [ "$mode" = tproxy ]; then
        qg_in $QG_FLT nft -f "$QG_NETNS_DIR/../../deploy/nftables-tproxy.nft" || return 1
        qg_in $QG_FLT ip rule add fwmark 1 lookup 100 2>/dev/null
        qg_in $QG_FLT ip route replace local default dev lo table 100
        qg_in $QG_FLT ip -6 rule add fwmark 1 lookup 100 2>/dev/null
        qg_in $QG_FLT ip -6 route replace local default dev lo table 100
    else
        qg_in $QG_FLT nft -f "$QG_NETNS_DIR/../../deploy/nftables-redirect.nft" || return 1
    fi
}

qg_start_nginx() {
    mkdir -p "$QG_DIR/www" || return 1
    head -c 10485760 /dev/urandom >"$QG_DIR/www/big.bin"
    QG_BIG_SHA=$(sha256sum "$QG_DIR/www/big.bin" | cut -d' ' -f1)
    printf 'index\n' >"$QG_DIR/www/index.html"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=allowed.test -keyout "$QG_DIR/key.pem" -out "$QG_DIR/cert.pem" \
        -addext "subjectAltName=DNS:allowed.test,DNS:blocked.test,DNS:www.blocked.test,DNS:split.test,DNS:other.test,IP:$QG_SRV4,IP:$QG_SRV4_B,IP:$QG_SRV6,IP:$QG_SRV6_B" \
        >/dev/null 2>&1 || { echo "netns: openssl req failed"; return 1; }
    sed "s#@DIR@#$QG_DIR#g" "$QG_NETNS_DIR/nginx.conf.in" >"$QG_DIR/nginx.conf"
    qg_bg "$QG_DIR/nginx.out" ip netns exec $QG_SRV nginx -c "$QG_DIR/nginx.conf"
    QG_NGINX_PID=$QG_LAST_PID
    qg_wait_port $QG_SRV 443 || { cat "$QG_DIR/nginx.out" "$QG_DIR/nginx-error.log" 2>/dev/null; return 1; }
}

# curl --resolve options for the names the tests use, to the server's IPv4 / IPv6 address
QG_R4="--resolve allowed.test:443:$QG_SRV4 --resolve allowed.test:80:$QG_SRV4 --resolve blocked.test:443:$QG_SRV4 --resolve blocked.test:80:$QG_SRV4 --resolve www.blocked.test:443:$QG_SRV4"
QG_R6="--resolve allowed.test:443:[$QG_SRV6] --resolve allowed.test:80:[$QG_SRV6] --resolve blocked.test:443:[$QG_SRV6] --resolve blocked.test:80:[$QG_SRV6]"

# qg_allowed_loads FAM RESOLVE: the allowed loads every in-path test checks, byte-identical: the
# 10 MB file over HTTP/1.1 + TLS 1.2, HTTP/2 + TLS 1.3 and plain HTTP, and the small page. Uses
# the caller's cc (curl in the client namespace) and the expect check.
qg_allowed_loads() {
    v=$(cc $2 --http1.1 --tlsv1.2 --tls-max 1.2 -o "$QG_DIR/out" -w '%{http_version}' https://allowed.test/big.bin)
    expect "v$1 https allowed http/1.1 tls1.2 sha256" "$v $(sha256sum <"$QG_DIR/out" | cut -d' ' -f1)" "1.1 $QG_BIG_SHA"
    v=$(cc $2 --http2 --tlsv1.3 -o "$QG_DIR/out" -w '%{http_version}' https://allowed.test/big.bin)
    expect "v$1 https allowed h2 tls1.3 sha256" "$v $(sha256sum <"$QG_DIR/out" | cut -d' ' -f1)" "2 $QG_BIG_SHA"
    v=$(cc $2 -o "$QG_DIR/out" -w '%{http_code}' http://allowed.test/big.bin)
    expect "v$1 http allowed sha256" "$v $(sha256sum <"$QG_DIR/out" | cut -d' ' -f1)" "200 $QG_BIG_SHA"
    v=$(cc $2 http://allowed.test/small)
    expect "v$1 http allowed small page" "$v" "hello allowed.test"
}

# qg_client_matrix: the other real clients every in-path test runs, each on an allowed and a
# blocked name: openssl s_client (TLS 1.3), nghttp (HTTP/2), wget (10 MB sha256, the 302 for
# blocked HTTP, a failed blocked HTTPS). Names come from the client namespace's hosts file.
qg_client_matrix() {
    out=$(echo Q | qg_in $QG_CLI timeout 10 openssl s_client -connect "$QG_SRV4:443" -servername allowed.test -tls1_3 2>&1)
    expect_match "openssl s_client allowed tls1.3" "$out" 'Protocol *: TLSv1\.3|New, TLSv1\.3'
    out=$(echo Q | qg_in $QG_CLI timeout 10 openssl s_client -connect "$QG_SRV4:443" -servername blocked.test 2>&1); rc=$?
    expect_match "openssl s_client blocked -> error" "$rc $(printf '%s' "$out" | grep -v '^depth' | head -5)" '^1 .*(reset|errno=104|write:errno|connect:errno|error)'
    out=$(qg_in $QG_CLI timeout 15 nghttp -v https://allowed.test/small 2>&1)
    expect_match "nghttp allowed h2" "$out" 'hello allowed\.test'
    # (nghttp exits 0 when the connection dies; it says so instead)
    out=$(qg_in $QG_CLI timeout 15 nghttp https://blocked.test/small 2>&1)
    expect_match "nghttp blocked fails" "$out" '^Some requests were not processed'
    expect "nghttp blocked got no page" "$(printf '%s' "$out" | grep -c hello)" "0"
    v=$(qg_in $QG_CLI timeout 30 wget -q --no-check-certificate -O - https://allowed.test/big.bin | sha256sum | cut -d' ' -f1)
    expect "wget https allowed sha256" "$v" "$QG_BIG_SHA"
    out=$(qg_in $QG_CLI timeout 15 wget -S --max-redirect=0 -O /dev/null http://blocked.test/ 2>&1)
    expect_match "wget http blocked -> 302" "$out" 'HTTP/1\.1 302'
    out=$(qg_in $QG_CLI timeout 15 wget --no-check-certificate -t 1 -O /dev/null https://blocked.test/ 2>&1); rc=$?
    expect "wget https blocked fails" "$([ $rc -ne 0 ] && echo failed)" "failed"
}

# Waits until something listens on TCP port $2 in namespace $1 (5 s).
qg_wait_port() {
    i=0
    while [ $i -lt 50 ]; do
        qg_in "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q . && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "netns: nothing listens on port $2 in $1"
    return 1
}

# qg_queued NS: the packets every NFQUEUE of namespace NS has taken so far (the kernel's
# id_sequence per queue, /proc/net/netfilter/nfnetlink_queue; 0 without a queue): queue mode's
# crossings, a count the machine's load does not move
qg_queued() {
    ip netns exec "$1" cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null | awk '{ s += $8 } END { print s + 0 }'
}

# qg_wait_verdict BIN CONF NAME WANT: waits (5 s at most) until the node running with CONF
# answers WANT ("block", "pass") for NAME to `BIN query -c CONF` (its admin socket).
qg_wait_verdict() {
    i=0
    while [ $i -lt 50 ]; do
        "$1" query -c "$2" "$3" 2>/dev/null | grep -q "\"verdict\":\"$4\"" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# qg_checks NAME [LOG...] - the counters and checks of a live test script, and its EXIT trap:
# on exit (or interruption, which counts as a failure) the tails of LOG (file names in $QG_DIR)
# are shown if a check failed, qg_cleanup runs and "NAME: N passed, M failed" is printed; the
# script exits 0 only when no check failed and its own status was 0. Checks:
#   ok NAME | bad NAME [WHY]       count one passed / failed check and print it
#   expect NAME GOT WANT           GOT must equal WANT
#   expect_match NAME TEXT REGEX   TEXT must match the extended regular expression
qg_checks() {
    QG_SUITE=$1
    shift
    QG_FAIL_LOGS="$*"
    PASS=0
    FAIL=0
    trap qg_finish EXIT
    trap 'FAIL=$((FAIL + 1)); exit 1' INT TERM HUP
}

qg_finish() {
    rc=$?
    trap - EXIT INT TERM HUP
    if [ "$FAIL" -gt 0 ] && [ -n "$QG_DIR" ]; then
        for log in $QG_FAIL_LOGS; do
            [ -f "$QG_DIR/$log" ] || continue
            echo "--- $log (tail)"
            tail -n 30 "$QG_DIR/$log"
        done
    fi
    qg_cleanup
    echo "$QG_SUITE: $PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ] && [ "$rc" -eq 0 ] && exit 0
    exit 1
}

ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
# a script may set QG_ON_FAIL to a command run after each failure (what the filter's state was
# then: counters that the end-of-run log tail no longer shows)
bad() {
    FAIL=$((FAIL + 1))
    echo "FAIL $1${2:+: $2}"
    if [ -n "${QG_ON_FAIL:-}" ]; then $QG_ON_FAIL 2>&1 | sed 's/^/     | /'; fi
}
expect() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got '$2', want '$3'"; fi; }
expect_match() { if printf '%s' "$2" | grep -Eq "$3"; then ok "$1"; else bad "$1" "'$(printf '%s' "$2" | head -c 300)' does not match /$3/"; fi; }
