#!/bin/sh
# chromium.sh - a real browser through the inline proxy: headless Chromium in the client
# namespace of tests/netns/lib.sh (client ns -> filter ns: nftables TPROXY, `qorgau run` mode
# inline, UDP 443 dropped -> server ns: nginx), HTTPS, and QUIC with its fallback to TCP.
#
# nginx (own config here) answers every name with a small page "qorgau test page for HOST",
# `Alt-Svc: h3=":443"` (it has no HTTP/3 itself: QUIC never succeeds) and `Cache-Control:
# no-store` (a second visit must go to the network). Chromium runs with --headless
# --no-sandbox --disable-gpu --no-first-run --disable-background-networking
# --disable-component-update --disable-sync, a profile in a temporary directory, --enable-quic
# and --dump-dom; the self-signed certificate is accepted by its key
# (--ignore-certificate-errors-spki-list), not by --ignore-certificate-errors, because Chromium
# ignores Alt-Svc on a connection with a certificate error and would then never try QUIC.
#
# Asserts:
#   - before the order: allowed.test and blocked.test load (the DOM has the page's text) and
#     each profile has recorded the Alt-Svc (so the next visit tries QUIC);
#   - after blocked.test is added and qorgau reloaded (SIGHUP): a fresh visit to blocked.test
#     fails with net::ERR_CONNECTION_RESET (the proxy's RST for the SNI);
#   - second visits with the Alt-Svc known: Chromium sends QUIC Initials (tcpdump in the filter
#     ns counts UDP 443 > 0, and the server ns sees none), then falls back to TCP: allowed.test
#     loads, blocked.test fails with a reset and qorgau logs a new TLS block for it;
#   - --origin-to-force-quic-on=NAME:443 (QUIC only, Chromium does not fall back to TCP for a
#     forced origin): blocked.test and allowed.test both fail with a QUIC error after sending
#     Initials (inline.quic = drop-all drops every UDP 443 datagram).
# Prints "ok"/"FAIL" lines and "chromium: N passed, M failed"; without root it fails
# (QG_ALLOW_SKIP=1: skips, exit 77; tests/lib/skip.sh). Env: QG_BIN (default build/qorgau). Everything it starts is
# stopped by PID and every namespace deleted, on success, failure or interruption.
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
ROOT=$(CDPATH= cd -- "$HERE/../.." && pwd)
QG_LIB=$ROOT/tests/netns/lib.sh
. "$QG_LIB"
QG_BIN=${QG_BIN:-$ROOT/build/qorgau}
case $QG_BIN in /*) ;; *) QG_BIN=$(pwd)/$QG_BIN ;; esac

. "$ROOT/tests/lib/skip.sh"
if [ "$(id -u)" != 0 ]; then
    qg_cannot_run chromium "not root"
fi

qg_checks chromium qorgau.log

for t in chromium tcpdump; do
    command -v $t >/dev/null 2>&1 || { bad "$t installed" "run deploy/install-deps.sh"; exit 1; }
done
why=$(qg_can_run) || { bad "network namespaces" "$why"; exit 1; }
[ -x "$QG_BIN" ] && "$QG_BIN" run --help 2>&1 | grep -q -- '--config' ||
    { bad "qorgau run" "$QG_BIN has no 'run -c' (set QG_BIN)"; exit 1; }

qg_setup_net || { bad "namespaces" "setup failed"; exit 1; }
qg_divert tproxy || { bad "nftables" "tproxy ruleset failed"; exit 1; }

# ---- server: nginx with Alt-Svc, no caching, a page naming the host --------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=allowed.test -addext "subjectAltName=DNS:allowed.test,DNS:blocked.test" \
    -keyout "$QG_DIR/key.pem" -out "$QG_DIR/cert.pem" >/dev/null 2>&1 ||
    { bad "certificate" "openssl req failed"; exit 1; }
SPKI=$(openssl x509 -in "$QG_DIR/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)
cat >"$QG_DIR/nginx.conf" <<EOF
user root;
daemon off;
worker_processes 1;
pid $QG_DIR/nginx.pid;
error_log $QG_DIR/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log $QG_DIR/nginx-access.log;
    client_body_temp_path $QG_DIR/body;
    proxy_temp_path $QG_DIR/proxy;
    fastcgi_temp_path $QG_DIR/fastcgi;
    uwsgi_temp_path $QG_DIR/uwsgi;
    scgi_temp_path $QG_DIR/scgi;
    server {
        listen 443 ssl http2 default_server;
        server_name _;
        ssl_certificate $QG_DIR/cert.pem;
        ssl_certificate_key $QG_DIR/key.pem;
        add_header Alt-Svc 'h3=":443"; ma=86400' always;
        add_header Cache-Control no-store always;
        location / {
            default_type text/html;
            return 200 "<!doctype html><html><head><title>t</title></head><body><p>qorgau test page for \$host</p></body></html>\n";
        }
    }
}
EOF
qg_bg "$QG_DIR/nginx.out" ip netns exec "$QG_SRV" nginx -c "$QG_DIR/nginx.conf"
qg_wait_port "$QG_SRV" 443 || { bad "nginx" "$(cat "$QG_DIR/nginx.out" "$QG_DIR/nginx-error.log" 2>/dev/null)"; exit 1; }

# ---- filter: qorgau inline; the order does not list blocked.test yet -------------------------
printf 'nothing.test\n' >"$QG_DIR/rules.txt"
cat >"$QG_DIR/qorgau.conf" <<EOF
mode = inline
workers = 2
user = root
state_dir = $QG_DIR/state
rules = $QG_DIR/rules.txt
inline.tproxy_port = 15001
inline.redirect_port = 15002
inline.https_block = rst
inline.quic = drop-all
notice.listen = 127.0.0.1:18080
log.file = $QG_DIR/qorgau.log
log.block_rate = 0
EOF
qg_bg "$QG_DIR/proxy.log" ip netns exec "$QG_FLT" "$QG_BIN" run -c "$QG_DIR/qorgau.conf"
QG_PROXY_PID=$QG_LAST_PID
qg_wait_port "$QG_FLT" 15001 || { bad "qorgau run" "$(tail -n 5 "$QG_DIR/proxy.log" "$QG_DIR/qorgau.log" 2>/dev/null)"; exit 1; }

# ---- helpers ---------------------------------------------------------------------------------
mkdir -p "$QG_DIR/home"
# browse PROFILE URL [FLAGS...]: Chromium in the client ns; the DOM goes to $QG_DIR/dom, the
# net::ERR_ code it reported (or "none") to $NETERR.
browse() {
    prof=$QG_DIR/profile-$1
    url=$2
    shift 2
    mkdir -p "$prof"
    ip netns exec "$QG_CLI" env HOME="$QG_DIR/home" XDG_CONFIG_HOME="$QG_DIR/home" \
        XDG_CACHE_HOME="$QG_DIR/home" timeout -k 5 40 chromium --headless --no-sandbox \
        --disable-gpu --no-first-run --disable-background-networking --disable-component-update \
        --disable-sync --user-data-dir="$prof" --ignore-certificate-errors-spki-list="$SPKI" \
        --enable-quic "$@" --dump-dom "$url" >"$QG_DIR/dom" 2>"$QG_DIR/chromium.err"
    NETERR=$(grep -o 'net::ERR_[A-Z0-9_]*' "$QG_DIR/chromium.err" | tail -n 1)
    [ -n "$NETERR" ] || NETERR=none
}
loaded() { grep -q "qorgau test page for $1" "$QG_DIR/dom" && echo loaded || echo "not loaded ($NETERR)"; }
# cap_start NS IF TAG: tcpdump in NS on IF of UDP 443 datagrams and TCP 443 SYNs (client side).
# --immediate-mode: without it the last packets can sit in the capture ring when tcpdump stops.
cap_start() {
    : >"$QG_DIR/cap.$3.err"
    qg_bg "$QG_DIR/cap.$3.err" ip netns exec "$1" tcpdump -i "$2" -n -U --immediate-mode \
        -w "$QG_DIR/cap.$3.pcap" 'udp dst port 443 or (tcp dst port 443 and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn)'
    eval "CAP_PID_$3=\$QG_LAST_PID"
    i=0
    while ! grep -q 'listening on' "$QG_DIR/cap.$3.err" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}
# cap_seq TAG: stops the capture; prints the packets in order, U = UDP 443, S = TCP SYN to 443
cap_seq() {
    sleep 0.2
    eval "qg_stop \$CAP_PID_$1"
    tcpdump -n -r "$QG_DIR/cap.$1.pcap" 2>/dev/null | awk '{ printf "%s", ($0 ~ / UDP/) ? "U" : "S" }'
}
count() { printf '%s' "$2" | tr -cd "$1" | wc -c; }
tls_blocks() { grep '"msg":"block"' "$QG_DIR/qorgau.log" | grep -c '"app":"tls","name":"blocked.test"'; }
altsvc() { grep -q '"advertised_alpns":\["h3"' "$QG_DIR/profile-$1/Default/Network Persistent State" 2>/dev/null && echo yes || echo no; }

# ---- before the order: both load over TCP and learn the Alt-Svc -----------------------------
browse a https://allowed.test/
expect "allowed.test loads (DOM has the page text)" "$(loaded allowed.test)" loaded
expect "allowed.test: Alt-Svc h3 recorded in the profile" "$(altsvc a)" yes
browse b https://blocked.test/
expect "blocked.test loads before it is listed" "$(loaded blocked.test)" loaded
expect "blocked.test: Alt-Svc h3 recorded in the profile" "$(altsvc b)" yes

# ---- the order lists blocked.test: SIGHUP ----------------------------------------------------
printf 'blocked.test\n' >"$QG_DIR/rules.txt"
kill -HUP "$QG_PROXY_PID"
i=0
while ! grep -q '"msg":"reloaded"' "$QG_DIR/qorgau.log" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
expect "qorgau reloaded the rules" "$(grep -c '"msg":"reloaded"' "$QG_DIR/qorgau.log")" 1

browse fresh https://blocked.test/
expect "blocked.test (HTTPS, fresh profile) fails: reset" "$(loaded blocked.test)" "not loaded (net::ERR_CONNECTION_RESET)"
browse fresh2 https://allowed.test/
expect "allowed.test still loads after the reload" "$(loaded allowed.test)" loaded

# ---- second visits, Alt-Svc known: QUIC tried, then TCP ------------------------------------
# Chromium starts the QUIC job and the TCP job together while QUIC is not known to work on the
# network (it never worked here: the filter drops it), so which packet leaves first is a race.
# What matters: Initials were sent, none reached the server, and the page came over TCP.
cap_start "$QG_SRV" s0 srv
cap_start "$QG_FLT" f0 flt
browse a https://allowed.test/
got=$(loaded allowed.test)
seq=$(cap_seq flt)
echo "     allowed.test, Alt-Svc known: at the filter (U = UDP 443, S = TCP SYN): $seq"
expect "allowed.test with Alt-Svc: QUIC Initials sent" "$([ "$(count U "$seq")" -gt 0 ] && echo yes)" yes
expect "allowed.test with Alt-Svc: QUIC dropped, TCP fallback loads the page" \
    "$got $([ "$(count S "$seq")" -gt 0 ] && echo tcp)" "loaded tcp"

before=$(tls_blocks)
cap_start "$QG_FLT" f0 flt
browse b https://blocked.test/
got=$(loaded blocked.test)
seq=$(cap_seq flt)
after=$(tls_blocks)
echo "     blocked.test, Alt-Svc known: at the filter: $seq; Chromium: $NETERR"
expect "blocked.test with Alt-Svc: QUIC Initials sent" "$([ "$(count U "$seq")" -gt 0 ] && echo yes)" yes
# Chromium reports the QUIC job's error when the TCP job failed first and it waited for QUIC
case $got in
"not loaded (net::ERR_CONNECTION_RESET)" | "not loaded (net::ERR_QUIC_PROTOCOL_ERROR)")
    ok "blocked.test with Alt-Svc: page fails ($NETERR)" ;;
*) bad "blocked.test with Alt-Svc: page fails" "$got" ;;
esac
expect "blocked.test with Alt-Svc: the TCP fallback was tried and blocked by SNI (qorgau log)" \
    "$([ "$(count S "$seq")" -gt 0 ] && [ "$after" -gt "$before" ] && echo yes)" yes

# ---- QUIC forced on (Chromium does not fall back to TCP for a forced origin) -----------------
for name in blocked.test allowed.test; do
    cap_start "$QG_FLT" f0 flt
    browse "force-$name" "https://$name/" --origin-to-force-quic-on="$name:443"
    got=$(loaded "$name")
    seq=$(cap_seq flt)
    echo "     $name forced to QUIC: at the filter: $seq"
    expect "$name forced to QUIC: Initials sent" "$([ "$(count U "$seq")" -gt 0 ] && echo yes)" yes
    case $got in
    "not loaded (net::ERR_QUIC"*) ok "$name forced to QUIC fails ($NETERR)" ;;
    *) bad "$name forced to QUIC fails with a QUIC error" "$got" ;;
    esac
done
seq=$(cap_seq srv)
expect "no UDP 443 datagram reached the server" "$(count U "$seq")" 0
