#!/bin/sh
# verify.sh - `qorgau verify` end to end: client ns -> filter ns (`qorgau run`, mode inline,
# nftables TPROXY, orders from the embedded directory store in state_dir) -> server ns (nginx
# 80/443 with a real TLS stack). See tests/netns/lib.sh.
#
#   1. an order imported with `qorgau order -c CONF import` (a name, an http:// URL, an https://
#      URL and an IP): verify from the client ns --via the server address reports every probe
#      blocked (HTTP redirect to the notice page, TLS reset, QUIC dropped, IP connections reset),
#      exit 0, in JSON (--out too) and in the text table; IPv6 --via as well; the node restarted
#      with inline.https_block = alert and http_block = 451: TLS "alert", HTTP 451 "redirect";
#   2. an order the node does not have (imported with --store into another directory): not
#      blocked, exit 1, an alarm line naming the resource and the probe; the TLS probe gets a
#      real ServerHello from nginx ("answered"), HTTP gets nginx's 200; tcpdump in the client ns
#      sees the TLS probe's ClientHello leave in two TCP segments;
#   3. the first order revoked: the same verify now reports it not blocked, exit 1;
#   the result is stored as the order's "verify" document: `qorgau report` shows it (blocked,
#   then not blocked with a residual risk);
#   4. a name that does not resolve (no --via): "error", never "blocked", exit 3; usage: exit 2.
#
# Without root or network namespaces it fails (QG_ALLOW_SKIP=1: skips, exit 77). Everything it
# starts is stopped by PID and every namespace deleted, on success, failure or interruption.
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
ROOT=$(CDPATH= cd -- "$HERE/../.." && pwd)
QG_LIB=$ROOT/tests/netns/lib.sh
. "$QG_LIB"
QG_BIN=${QG_BIN:-$ROOT/build/qorgau}

. "$ROOT/tests/lib/skip.sh"
if ! why=$(qg_can_run); then
    qg_cannot_run verify "$why"
fi
for t in python3 tcpdump ethtool; do
    command -v $t >/dev/null 2>&1 || qg_cannot_run verify "$t not installed"
done

qg_checks verify proxy.log qorgau.log

qg_setup_net || { bad "namespaces" "setup failed"; exit 1; }
qg_divert tproxy || { bad "nftables" "tproxy ruleset failed"; exit 1; }
qg_start_nginx || { bad "nginx" "did not start"; exit 1; }

# start_node HTTPS_BLOCK HTTP_BLOCK: `qorgau run` in the filter ns, mode inline, TPROXY on the
# default ports, orders from the directory store in state_dir (no store key)
CONF=$QG_DIR/qorgau.conf
start_node() {
    printf '%s\n' "mode = inline" "workers = 1" "user = root" "state_dir = $QG_DIR/state" \
        "inline.https_block = $1" "inline.http_block = $2" "inline.quic = drop-all" \
        "notice.url = http://notice.test/" "notice.listen = 127.0.0.1:18080" \
        "log.file = $QG_DIR/qorgau.log" >"$CONF"
    qg_bg "$QG_DIR/proxy.log" ip netns exec "$QG_FLT" "$QG_BIN" run -c "$CONF" --foreground
    NODE_PID=$QG_LAST_PID
    qg_wait_port "$QG_FLT" 15001
}
start_node rst redirect || { bad "qorgau run" "did not start"; exit 1; }

cat >"$QG_DIR/block.json" <<ORDER
{ "id": "v-block", "issuer": "test", "legal_basis": "41-1", "issued": "2026-11-20",
  "resources": ["blocked.test", "http://allowed.test/secret", "https://secure.test/p", "$QG_SRV4_B"] }
ORDER
cat >"$QG_DIR/open.json" <<ORDER
{ "id": "v-open", "issuer": "test", "legal_basis": "41-1", "issued": "2026-11-20", "resources": ["allowed.test"] }
ORDER
cat >"$QG_DIR/nodns.json" <<ORDER
{ "id": "v-nodns", "issuer": "test", "legal_basis": "41-1", "issued": "2026-11-20", "resources": ["no-such-name.invalid"] }
ORDER

node_says() { qg_wait_verdict "$QG_BIN" "$CONF" "$1" "$2"; }

# summary FILE: one line per probe "resource probe blocked how", sorted
summary() {
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["results"]:
    print(r["resource"], r["probe"], r["target"].rsplit(":", 1)[1], "blocked" if r["blocked"] else "open", r["how"])
' "$1" | sort
}

verify() { ip netns exec "$QG_CLI" timeout 120 "$QG_BIN" verify "$@"; }

"$QG_BIN" order -c "$CONF" import "$QG_DIR/block.json" >/dev/null || bad "import v-block"
node_says blocked.test block && ok "node enforces v-block" || bad "node enforces v-block"

# 1. every probe of the imported order is blocked
verify -c "$CONF" v-block --via "$QG_SRV4" --timeout 2s --out "$QG_DIR/out.json" \
    >"$QG_DIR/v1.json" 2>"$QG_DIR/v1.err"
expect "v-block: exit 0 (every probe blocked)" "$?" "0"
expect "v-block: --out equals stdout" "$(cmp -s "$QG_DIR/v1.json" "$QG_DIR/out.json" && echo same)" "same"
expect "v-block: no alarm" "$(grep -c alarm "$QG_DIR/v1.err")" "0"
# the result is the store's "verify" document: the order's report shows every resource blocked
"$QG_BIN" report -c "$CONF" v-block --format json >"$QG_DIR/r1.json" 2>"$QG_DIR/r1.err"
expect "v-block: report after verify: every resource verified blocked" \
    "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sorted(set(x["verification"] for x in r["resources"])))' "$QG_DIR/r1.json" 2>&1)" \
    "['blocked']"
got=$(summary "$QG_DIR/v1.json")
want="$QG_SRV4_B tcp 443 blocked reset
$QG_SRV4_B tcp 80 blocked redirect
blocked.test http 80 blocked redirect
blocked.test quic 443 blocked timeout
blocked.test tls 443 blocked reset
http://allowed.test/secret http 80 blocked redirect
https://secure.test/p http 80 blocked redirect
https://secure.test/p quic 443 blocked timeout
https://secure.test/p tls 443 blocked reset"
expect "v-block: every probe and how" "$got" "$want"
expect_match "v-block: document head" "$(head -c 80 "$QG_DIR/v1.json")" '^\{"order":"v-block","time_ms":[0-9]{13},"via":"10\.200\.2\.2","results":\['
expect_match "v-block: targets are the via address, IP resources their own" \
    "$(python3 -c 'import json,sys; print(sorted({r["target"] for r in json.load(open(sys.argv[1]))["results"]}))' "$QG_DIR/v1.json")" \
    "^\['$QG_SRV4:443', '$QG_SRV4:80', '$QG_SRV4_B:443', '$QG_SRV4_B:80'\]$"
expect_match "v-block: redirect detail names the notice page" "$(cat "$QG_DIR/v1.json")" 'HTTP 302 to the notice page http://notice\.test/'
text=$(verify -c "$CONF" v-block --via "$QG_SRV4" --timeout 2s --format text 2>&1)
expect "v-block: text table exit 0" "$?" "0"
expect_match "v-block: text table rows" "$text" 'blocked\.test +tls +10\.200\.2\.2:443 +blocked +reset'
verify -c "$CONF" v-block --via "$QG_SRV6" --timeout 2s >"$QG_DIR/v6.json" 2>/dev/null
expect "v-block via IPv6: exit 0" "$?" "0"
expect_match "v-block via IPv6: targets" "$(cat "$QG_DIR/v6.json")" '"target":"\[fd00:200:2::2\]:443"'

# 1b. the other blocking answers: TLS alert, HTTP 451
qg_stop "$NODE_PID"
start_node alert 451 || { bad "qorgau run (alert/451)" "did not start"; exit 1; }
node_says blocked.test block || bad "node (alert/451) enforces v-block"
verify -c "$CONF" v-block --via "$QG_SRV4" --timeout 2s >"$QG_DIR/v1b.json" 2>/dev/null
expect "v-block, alert/451: exit 0" "$?" "0"
expect_match "v-block, alert/451: TLS alert 112" "$(cat "$QG_DIR/v1b.json")" '"probe":"tls","target":"10\.200\.2\.2:443","blocked":true,"how":"alert","detail":"TLS alert 112 \(unrecognized_name\)'
expect_match "v-block, alert/451: HTTP 451" "$(cat "$QG_DIR/v1b.json")" '"probe":"http","target":"10\.200\.2\.2:80","blocked":true,"how":"redirect","detail":"HTTP 451'

# 2. an order the node does not have: the server answers, alarm, exit 1
"$QG_BIN" order --store "$QG_DIR/other" import "$QG_DIR/open.json" "$QG_DIR/nodns.json" >/dev/null ||
    bad "import into the other store"
verify -c "$CONF" --store "$QG_DIR/other" v-open --via "$QG_SRV4" --timeout 2s \
    >"$QG_DIR/v2.json" 2>"$QG_DIR/v2.err"
expect "v-open: exit 1 (not blocked)" "$?" "1"
got=$(summary "$QG_DIR/v2.json")
want="allowed.test http 80 open answered
allowed.test quic 443 blocked timeout
allowed.test tls 443 open answered"
expect "v-open: probes (QUIC: inline.quic = drop-all drops every name)" "$got" "$want"
expect_match "v-open: the TLS probe got nginx's ServerHello" "$(cat "$QG_DIR/v2.json")" '"probe":"tls","target":"10\.200\.2\.2:443","blocked":false,"how":"answered","detail":"ServerHello"'
expect_match "v-open: HTTP got nginx's 200" "$(cat "$QG_DIR/v2.json")" '"probe":"http"[^}]*"detail":"HTTP 200"'
expect_match "v-open: alarm line names resource and probe" "$(cat "$QG_DIR/v2.err")" 'alarm: order v-open: resource allowed\.test is not blocked: tls probe to 10\.200\.2\.2:443'
expect "v-open: one alarm per open probe" "$(grep -c alarm "$QG_DIR/v2.err")" "2"
# the TLS probe's ClientHello on the wire, segmentation offload off (as a NIC with a 1500-byte
# MTU sends it): two TCP segments, 1785 bytes in all
ip netns exec "$QG_CLI" ethtool -K c0 tso off gso off >/dev/null 2>&1
qg_bg "$QG_DIR/seg.txt" ip netns exec "$QG_CLI" tcpdump -i c0 -nn -U -l \
    'tcp dst port 443 and ((ip[2:2] - ((ip[0] & 0xf) << 2)) - ((tcp[12] & 0xf0) >> 2)) != 0'
TD=$QG_LAST_PID
i=0; while ! grep -q listening "$QG_DIR/seg.txt" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
verify -c "$CONF" --store "$QG_DIR/other" v-open --via "$QG_SRV4" --timeout 1s >/dev/null 2>&1
sleep 0.3
qg_stop "$TD"
segs=$(grep Flags "$QG_DIR/seg.txt" | sed -n 's/.*, length \([0-9]*\)$/\1/p' | tr '\n' ' ')
expect "TLS probe: the ClientHello spans two TCP segments ($segs)" "$(echo "$segs" | awk '{ print NF, $1 + $2 }')" "2 1785"

# 3. revoked: the node lets the names through, verify says so
"$QG_BIN" order -c "$CONF" revoke v-block >/dev/null || bad "revoke v-block"
node_says blocked.test pass && ok "node follows the revocation" || bad "node follows the revocation"
verify -c "$CONF" v-block --via "$QG_SRV4" --timeout 2s >"$QG_DIR/v3.json" 2>"$QG_DIR/v3.err"
expect "revoked v-block: exit 1" "$?" "1"
"$QG_BIN" report -c "$CONF" v-block --format json >"$QG_DIR/r3.json" 2>"$QG_DIR/r3.err"
expect_match "revoked v-block: the report says not blocked, a residual risk" \
    "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sorted(set(x["verification"] for x in r["resources"])), [k["kind"] for k in r["risks"]])' "$QG_DIR/r3.json" 2>&1)" \
    "^\['not-blocked'\].*'not-blocked'"
expect_match "revoked v-block: blocked.test tls answered" "$(summary "$QG_DIR/v3.json")" 'blocked\.test tls 443 open answered'
expect_match "revoked v-block: IP resource answered" "$(summary "$QG_DIR/v3.json")" "$QG_SRV4_B tcp 443 open answered"
expect_match "revoked v-block: alarm for blocked.test" "$(cat "$QG_DIR/v3.err")" 'alarm: order v-block: resource blocked\.test is not blocked'

# 4. errors are errors, not blocks; usage
verify --store "$QG_DIR/other" v-nodns --timeout 1s >"$QG_DIR/v4.json" 2>"$QG_DIR/v4.err"
expect "unresolvable name: exit 3" "$?" "3"
expect "unresolvable name: every probe error, none blocked" "$(summary "$QG_DIR/v4.json" | awk '{ print $4, $5 }' | sort -u)" "open error"
verify --store "$QG_DIR/other" no-such-order >/dev/null 2>&1
expect "missing order: exit 3" "$?" "3"
verify >/dev/null 2>&1
expect "no order id: exit 2" "$?" "2"
verify --store "$QG_DIR/other" v-open --format yaml >/dev/null 2>&1
expect "bad --format: exit 2" "$?" "2"
