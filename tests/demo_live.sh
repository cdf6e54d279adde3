#!/bin/sh
# demo_live.sh - the live half of `make demo`: Qorgau inline in network namespaces it builds
# (tests/netns/lib.sh), enforcing the bundled sample order against real curl requests.
#
#   client ns (curl) ──► filter ns: nftables TPROXY → `qorgau run -c` (mode = inline),
#                        notice page on 10.200.1.1:8080 ──► server ns: nginx :80 :443 (h2)
#
# The node follows the embedded directory store in its state_dir: the sample order is
# imported with `qorgau order -c`, enforced, then revoked, and the names load again.
# Names (client ns hosts file, all to the nginx in the server ns; nothing leaves the
# namespaces): allowed.test and example.org load; rutracker.org is blocked by name; the URL
# entry http://example.org/c/1/* blocks those HTTP paths only; the entry
# https://instagram.com/p/secret blocks the name on TLS. For each request it prints what the
# client saw (page loaded / connection reset / 302 and its Location), then the notice page the
# redirect leads to, qorgau's block log lines, and removes everything (trap: processes by PID,
# namespaces, files).
#
# Usage: tests/demo_live.sh [QORGAU_BINARY]     (root; default ./qorgau)
# Exit: 0 every request got the expected answer; 1 one did not, or nginx or qorgau failed;
#       3 this machine cannot run it (not root, a tool missing, namespaces or nftables TPROXY
#       failing): one line says why.
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
ROOT=$(CDPATH= cd -- "$HERE/.." && pwd)
QG_LIB=$ROOT/tests/netns/lib.sh
. "$QG_LIB"
bin=${1:-./qorgau}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
order=$ROOT/deploy/samples/order-sample.json

skip() {
    echo "live demo skipped: $1 (it needs root and network namespaces; the offline scan is the demo here)"
    exit 3
}
why=$(qg_can_run) || skip "$why"
"$bin" run --help 2>&1 | grep -q -- '--config' || skip "$bin has no 'run -c'"

bad=0
setup_log=""
finish() {
    rc=$?
    trap - EXIT INT TERM HUP
    qg_cleanup
    rm -f "$setup_log"
    [ "$rc" -eq 3 ] && exit 3
    echo "   cleaned up: processes stopped by PID, namespaces $QG_CLI $QG_FLT $QG_SRV deleted"
    [ "$rc" -eq 0 ] && [ "$bad" -eq 0 ] && exit 0
    exit 1
}
trap finish EXIT
trap 'exit 1' INT TERM HUP

fail_setup() {
    echo "live demo: $1 failed"
    [ -n "$QG_DIR" ] && [ -f "$QG_DIR/proxy.log" ] && tail -n 20 "$QG_DIR/proxy.log"
    exit 1
}

# the environment cannot do it: skip (exit 3); a failure of nginx or qorgau is an error
setup_log=$(mktemp /tmp/qg-demo-XXXXXX)
qg_setup_net >"$setup_log" 2>&1 || skip "namespace setup failed: $(tail -n 1 "$setup_log")"
qg_divert tproxy >"$setup_log" 2>&1 || skip "nftables TPROXY failed: $(tail -n 1 "$setup_log")"
rm -f "$setup_log"
qg_start_nginx || fail_setup "nginx"
cat >"$QG_DIR/www/index.html" <<'HTML'
<!doctype html>
<html><head><title>demo site</title></head>
<body><p>Welcome: this page came through the filter.</p></body></html>
HTML
mkdir -p "$QG_DIR/www/c/1" "$QG_DIR/www/c/2"
cp "$QG_DIR/www/index.html" "$QG_DIR/www/c/1/page.html"
cp "$QG_DIR/www/index.html" "$QG_DIR/www/c/2/page.html"
printf '%s\n' "$QG_SRV4 rutracker.org example.org instagram.com" "10.200.1.1 notice.test" \
    >>"/etc/netns/$QG_CLI/hosts"

cat >"$QG_DIR/qorgau.conf" <<CONF
mode = inline
workers = 1
user = root
state_dir = $QG_DIR/state
inline.tproxy_port = 15001
inline.redirect_port = 15002
inline.https_block = rst
inline.http_block = redirect
inline.quic = drop-all
notice.url = http://notice.test:8080/
notice.listen = 10.200.1.1:8080
log.file = $QG_DIR/qorgau.log
log.block_rate = 0
CONF
qg_bg "$QG_DIR/proxy.log" ip netns exec "$QG_FLT" "$bin" run -c "$QG_DIR/qorgau.conf"
qg_wait_port "$QG_FLT" 15001 >/dev/null && qg_wait_port "$QG_FLT" 8080 >/dev/null ||
    fail_setup "qorgau run (inline)"
oid=$(sed -n 's/^ *"id": *"\([^"]*\)".*/\1/p' "$order")

echo "   client 10.200.1.2 ──► filter: nftables TPROXY → qorgau run (mode = inline) ──► server $QG_SRV4: nginx"
echo "   orders: the embedded directory store in state_dir ($QG_DIR/state); the node follows it"
echo

# verdict NAME WANT: waits (5 s at most) until the running node's answer for NAME is WANT
verdict() {
    qg_wait_verdict "$bin" "$QG_DIR/qorgau.conf" "$1" "$2" && return 0
    echo "   the node did not answer $2 for $1 in 5 s"
    bad=$((bad + 1))
    return 1
}

echo "== qorgau order -c qorgau.conf import deploy/samples/order-sample.json"
"$bin" order -c "$QG_DIR/qorgau.conf" import "$order" | sed 's/^/   /'
verdict rutracker.org block
echo "== qorgau query -c qorgau.conf rutracker.org (asks the running node over its admin socket)"
"$bin" query -c "$QG_DIR/qorgau.conf" rutracker.org | sed 's/^/   /'
echo

# show URL EXPECT: one request from the client ns; EXPECT is loaded | reset | redirect
show() {
    url=$1
    want=$2
    out=$(ip netns exec "$QG_CLI" curl -sS -k --max-time 10 -o "$QG_DIR/resp" \
        -w '%{http_code} %{redirect_url}' "$url" 2>"$QG_DIR/curl.err")
    rc=$?
    code=${out%% *}
    loc=${out#* }
    if [ $rc -eq 0 ] && [ "$code" = 200 ]; then
        got=loaded
        saw="page loaded: 200, \"$(sed -n 's/.*<p>\(.*\)<\/p>.*/\1/p' "$QG_DIR/resp" | head -1)\""
    elif [ $rc -eq 0 ] && [ "$code" = 302 ]; then
        got=redirect
        saw="302 to the notice page, Location: $loc"
    elif grep -qi reset "$QG_DIR/curl.err"; then
        got=reset
        saw="connection reset (curl: $(head -1 "$QG_DIR/curl.err" | sed 's/^curl: //'))"
    else
        got=other
        saw="curl exit $rc, HTTP $code: $(head -1 "$QG_DIR/curl.err")"
    fi
    mark="ok"
    if [ "$got" != "$want" ]; then
        mark="UNEXPECTED (wanted $want)"
        bad=$((bad + 1))
    fi
    printf '   %-34s %s  [%s]\n' "$url" "$saw" "$mark"
}

echo "== what the client saw (curl in the client namespace)"
show https://allowed.test/ loaded
show https://rutracker.org/ reset
show http://rutracker.org/tracker.php redirect
show http://example.org/c/2/page.html loaded
show http://example.org/c/1/page.html redirect
show https://example.org/c/1/page.html loaded
show https://instagram.com/ reset
echo "   (over HTTPS only the name is visible: the http:// entry example.org/c/1/* cannot apply,"
echo "    while the https:// entry instagram.com/p/secret blocks the whole name)"
echo

echo "== following the redirect: the notice page (built into qorgau, in the filter namespace)"
ip netns exec "$QG_CLI" curl -sS -L --max-time 10 http://rutracker.org/tracker.php 2>&1 |
    sed -e 's/<style>[^<]*<\/style>//' -e 's/<[^>]*>/ /g' -e 's/  */ /g' -e 's/^ //' | grep -v '^ *$' | head -n 12 | sed 's/^/   | /'
echo

echo "== qorgau's block log (log.file, one JSON line per decision; the last is the request followed above)"
sleep 0.2
grep '"msg":"block"' "$QG_DIR/qorgau.log" | sed 's/^/   /'
echo
echo "== qorgau order -c qorgau.conf revoke $oid (revoked in the store; the node follows it)"
"$bin" order -c "$QG_DIR/qorgau.conf" revoke "$oid" | sed 's/^/   /'
verdict rutracker.org pass
"$bin" query -c "$QG_DIR/qorgau.conf" rutracker.org | sed 's/^/   /'
echo "== what the client sees now"
show https://rutracker.org/ loaded
show http://rutracker.org/ loaded
show https://instagram.com/ loaded
echo
if [ "$bad" -eq 0 ]; then
    echo "live demo: every request got the expected answer"
else
    echo "live demo: $bad request(s) got an unexpected answer; proxy log:"
    tail -n 20 "$QG_DIR/qorgau.log" "$QG_DIR/proxy.log" 2>/dev/null
fi
