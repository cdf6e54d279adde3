#!/bin/sh
# fallback.sh - the IP fallback end to end (docs/fallback.md): a real `qorgau run` (inline mode
# on loopback ports) following its embedded directory store, resolving the marked names of an
# imported order against tests/tools/dnsstub.py on loopback, with answers that change:
#   - a marked name's address blocks a nameless query (ip-fallback, rule = the name); an
#     unmarked name is not resolved;
#   - five names on one address: shared (threshold 5, policy nameless), in the report's "held";
#   - the answer changes: the new address blocks, the old one passes;
#   - the server fails (SERVFAIL): the last answer stays;
#   - `qorgau query -c CONF :fallback` and state_dir/fallback.json give the report; the node
#     writes the order's fallback/risks documents and `qorgau report` shows them; a failed
#     write of them is logged and done again within seconds, with no new report needed;
#   - a marked name resolving into fallback.protect passes, reported held and protected;
#   - restarted with fallback.resolve = all, the unmarked name is blocked too; with none, nothing.
#   - names seen in traffic (a tap node in namespaces of its own, tests/lib/mirror.sh): 50 HTTP
#     requests naming other sites to a fallback address are blocked, the policy still counts one
#     resolved name, and `qorgau report` (JSON, HTML, CSV) and `query :fallback` show ~50 names
#     seen with examples.
# Needs root (inline mode opens its listeners, drops privileges); without it the script fails
# (QG_ALLOW_SKIP=1: SKIP, exit 77). Env: QG_BIN (default build/qorgau), QG_FALLBACK_KEEP=1.
set -u

QG_BIN=${QG_BIN:-build/qorgau}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $QG_BIN in /*) ;; *) QG_BIN=$(pwd)/$QG_BIN ;; esac
. "$root/tests/lib/skip.sh"
[ "$(id -u)" = 0 ] || qg_cannot_run fallback "needs root"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qg-fallback.XXXXXX") || exit 2
chmod 755 "$tmp"
stub="" qpid=""
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
    [ -n "$stub" ] && kill "$stub" 2>/dev/null
    if [ "${QG_FALLBACK_KEEP:-0}" = 1 ]; then echo "fallback: keeping $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

pass=0 fail=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# zone X_ADDR [X_RCODE] -- the server's answers: x.kz (the changing one), five names sharing
# 198.51.100.7, y.kz (not marked)
zone() {
    xr=${2:-0}
    cat >"$tmp/zone.new" <<EOZ
{"names": {
 "x.kz": {"A": ["$1"], "ttl": 1, "rcode": $xr},
 "y.kz": {"A": ["192.0.2.20"], "ttl": 1},
 "bank.kz": {"A": ["203.0.113.5"], "ttl": 300},
 "s1.kz": {"A": ["198.51.100.7"], "ttl": 300}, "s2.kz": {"A": ["198.51.100.7"], "ttl": 300},
 "s3.kz": {"A": ["198.51.100.7"], "ttl": 300}, "s4.kz": {"A": ["198.51.100.7"], "ttl": 300},
 "s5.kz": {"A": ["198.51.100.7"], "ttl": 300}}}
EOZ
    mv "$tmp/zone.new" "$tmp/zone.json"
}

# until_query WHAT TEXT -- the node's answer to WHAT has TEXT within 10 s
until_query() {
    i=0
    while [ $i -lt 100 ]; do
        "$QG_BIN" query -c "$tmp/q.conf" "$1" >"$tmp/ans" 2>&1 && grep -qF -- "$2" "$tmp/ans" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

zone 192.0.2.10
python3 "$root/tests/tools/dnsstub.py" "$tmp/zone.json" >"$tmp/port" 2>"$tmp/stub.err" &
stub=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
dport=$(head -1 "$tmp/port")
[ -n "$dport" ] || { ko "dnsstub did not start"; cat "$tmp/stub.err"; exit 1; }

cat >"$tmp/order.json" <<'EOF2'
{ "id": "2026-41-0900", "issuer": "test", "legal_basis": "ст. 41-1", "issued": "2026-11-20T10:00:00Z",
  "resources": [ { "value": "x.kz", "resolve": true }, "y.kz",
    { "value": "s1.kz", "resolve": true }, { "value": "s2.kz", "resolve": true },
    { "value": "s3.kz", "resolve": true }, { "value": "s4.kz", "resolve": true },
    { "value": "*.s5.kz", "resolve": true }, { "value": "bank.kz", "resolve": true } ] }
EOF2
{
    echo "mode = inline"
    echo "workers = 1"
    echo "user = nobody"
    # (in the host's own network namespace: the host's firewall is not this test's to change)
    echo "ip.kernel_drop = off"
    echo "state_dir = $tmp/state"
    echo "log.file = $tmp/q.log"
    echo "notice.listen = 127.0.0.1:$(free_port)"
    echo "inline.listen_address = 127.0.0.1"
    echo "inline.tproxy_port = $(free_port)"
    echo "inline.redirect_port = $(free_port)"
    echo "fallback.resolve = marked"
    echo "fallback.resolvers = 127.0.0.1:$dport"
    echo "fallback.ttl_min = 1s"
    echo "fallback.ttl_max = 2s"
    echo "fallback.shared_threshold = 5"
    echo "fallback.shared_policy = nameless"
    echo "fallback.protect = 203.0.113.0/24"
} >"$tmp/q.conf"

if "$QG_BIN" order -c "$tmp/q.conf" import "$tmp/order.json" >"$tmp/out" 2>&1; then
    ok "order with marked resources imported"
else
    ko "order import"; sed 's/^/    /' "$tmp/out"; exit 1
fi
if "$QG_BIN" order -c "$tmp/q.conf" show 2026-41-0900 2>&1 | grep -qF '"text":"x.kz","norm":"x.kz","kind":"domain","resolve":true'; then
    ok "the mark is kept in the store record"
else
    ko "no resolve mark in the stored order"
fi

"$QG_BIN" run -c "$tmp/q.conf" >"$tmp/run.out" 2>&1 &
qpid=$!

if until_query 192.0.2.10 '"verdict":"block","method":"ip-fallback","rule":"x.kz"'; then
    ok "a marked name's address blocks a nameless flow (ip-fallback, rule x.kz)"
else
    ko "192.0.2.10 not blocked"; sed 's/^/    /' "$tmp/ans" "$tmp/q.log" | tail -20
fi
if grep -qF '"orders":["2026-41-0900"]' "$tmp/ans"; then ok "the decision names the order"; else ko "no order in $(cat "$tmp/ans")"; fi
if "$QG_BIN" query -c "$tmp/q.conf" 192.0.2.20 | grep -qF '"verdict":"pass"'; then
    ok "an unmarked name is not resolved (fallback.resolve = marked)"
else
    ko "192.0.2.20 (y.kz, not marked) blocked"
fi
if "$QG_BIN" query -c "$tmp/q.conf" 198.51.100.7 | grep -qF '"verdict":"block","method":"ip-fallback"'; then
    ok "a shared address blocks nameless flows (policy nameless)"
else
    ko "198.51.100.7 not blocked for a nameless flow"
fi
"$QG_BIN" query -c "$tmp/q.conf" :fallback >"$tmp/report" 2>&1
if python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
held = {h["address"]: h for h in r["held"]}
blk = {b["address"]: b for b in r["blocked"]}
assert r["format"] == "qorgau-fallback/1" and r["shared_policy"] == "nameless", r
assert held["198.51.100.7"]["names_count"] == 5 and held["198.51.100.7"]["action"] == "nameless", held
assert blk["192.0.2.10"]["entry"] == "x.kz" and blk["192.0.2.10"]["orders"] == ["2026-41-0900"], blk
assert "192.0.2.20" not in blk
assert held["203.0.113.5"]["protected"] is True and held["203.0.113.5"]["action"] == "report", held' "$tmp/report" &&
    "$QG_BIN" query -c "$tmp/q.conf" 203.0.113.5 | grep -qF '"verdict":"pass","method":null,"rule":null,"orders":[],"category":null,"held":"bank.kz"'; then
    ok ":fallback report: 198.51.100.7 held (5 names), 192.0.2.10 blocked for x.kz, 203.0.113.5 protected (passes, held)"
else
    ko ":fallback report"; sed 's/^/    /' "$tmp/report"
fi

zone 192.0.2.11
if until_query 192.0.2.11 '"verdict":"block","method":"ip-fallback","rule":"x.kz"' &&
    until_query 192.0.2.10 '"verdict":"pass"'; then
    ok "a changed answer: the new address blocks, the old one passes"
else
    ko "answer change not followed"; sed 's/^/    /' "$tmp/ans"
fi

zone 192.0.2.12 2
n0=$(grep -c '"msg":"no answer; the last addresses stay","name":"x.kz"' "$tmp/q.log")
sleep 3
n1=$(grep -c '"msg":"no answer; the last addresses stay","name":"x.kz"' "$tmp/q.log")
if [ "$n1" -gt "$n0" ] && "$QG_BIN" query -c "$tmp/q.conf" 192.0.2.11 | grep -qF '"verdict":"block"'; then
    ok "SERVFAIL: logged, the last answer stays blocked"
else
    ko "SERVFAIL ($n0 -> $n1 failure lines)"; "$QG_BIN" query -c "$tmp/q.conf" 192.0.2.11 | sed 's/^/    /'
fi
if python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); assert any(b["address"] == "192.0.2.11" for b in r["blocked"])' "$tmp/state/fallback.json"; then
    ok "state_dir/fallback.json holds the report"
else
    ko "state_dir/fallback.json"; ls -l "$tmp/state"
fi
# the node writes the order's "fallback" and "risks" documents to the store; the execution
# report lists the addresses blocked for each resource and the shared ones held back
t=0
while [ $t -lt 50 ]; do
    "$QG_BIN" report -c "$tmp/q.conf" 2026-41-0900 --format json >"$tmp/rep.json" 2>"$tmp/rep.err"
    python3 - "$tmp/rep.json" <<'PY' 2>/dev/null && break
import json, sys
r = json.load(open(sys.argv[1]))
res = {x["resource"]: x for x in r["resources"]}
assert "192.0.2.11" in res["x.kz"]["ip_fallback_addresses"], res["x.kz"]
assert any(k["kind"] == "shared-held" and "198.51.100.7" in (k["subject"] or "") for k in r["risks"]), r["risks"]
PY
    sleep 0.2
    t=$((t + 1))
done
if [ $t -lt 50 ]; then
    ok "qorgau report: x.kz lists its fallback address, 198.51.100.7 is a residual risk (held back)"
else
    ko "report fallback fields: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print([ (x["resource"], x["ip_fallback_addresses"]) for x in r["resources"]], r["risks"])' "$tmp/rep.json" 2>&1) $(cat "$tmp/rep.err")"
    ls -l "$tmp/state/docs"/* 2>&1 | sed 's/^/    /'
    grep -F '"fallback"' "$tmp/q.log" | grep -v '"names resolved"' | tail -20 | sed 's/^/    /'
fi

# a store failure while writing the documents: docs/fallback replaced by a plain file, the
# answer changes (a new report); the failure is logged, and once the folder is back the
# documents are written within seconds though the report does not change again
mv "$tmp/state/docs/fallback" "$tmp/fallback.saved"
: >"$tmp/state/docs/fallback"
zone 192.0.2.13
i=0
until grep -qF 'cannot write the per-order documents' "$tmp/q.log" || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
w0=$(grep -cF 'cannot write the per-order documents' "$tmp/q.log")
rm -f "$tmp/state/docs/fallback"
mv "$tmp/fallback.saved" "$tmp/state/docs/fallback"
i=0
until grep -qF '192.0.2.13' "$tmp/state/docs/fallback/2026-41-0900" || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ "$w0" -gt 0 ] && grep -qF '192.0.2.13' "$tmp/state/docs/fallback/2026-41-0900" &&
    grep -qF '198.51.100.7' "$tmp/state/docs/risks/2026-41-0900"; then
    ok "a failed document write is logged and done again once the store takes it ($w0 failures)"
else
    ko "document write not retried ($w0 failures logged)"; ls -l "$tmp/state/docs"/* 2>&1 | sed 's/^/    /'
    grep -F '"fallback"' "$tmp/q.log" | grep -v '"names resolved"' | tail -8 | sed 's/^/    /'
fi

kill -TERM $qpid
wait $qpid
rc=$?
qpid=""
if [ $rc = 0 ]; then ok "SIGTERM -> exit 0"; else ko "exit $rc"; tail -5 "$tmp/q.log"; fi

# fallback.resolve = all: every domain entry, marked or not; none: nothing is resolved
zone 192.0.2.10
for mode in all none; do
    sed -i "s/^fallback.resolve = .*/fallback.resolve = $mode/" "$tmp/q.conf"
    : >"$tmp/q.log"
    "$QG_BIN" run -c "$tmp/q.conf" >"$tmp/run.out" 2>&1 &
    qpid=$!
    if [ $mode = all ]; then
        if until_query 192.0.2.20 '"verdict":"block","method":"ip-fallback","rule":"y.kz"' &&
            until_query 192.0.2.10 '"verdict":"block","method":"ip-fallback","rule":"x.kz"'; then
            ok "fallback.resolve = all: the unmarked y.kz is resolved and blocked too"
        else
            ko "fallback.resolve = all"; sed 's/^/    /' "$tmp/ans"
        fi
    else
        until_query example.org '"verdict":"pass"' >/dev/null
        sleep 1
        if "$QG_BIN" query -c "$tmp/q.conf" 192.0.2.10 | grep -qF '"verdict":"pass"' &&
            ! grep -qF '"module":"fallback"' "$tmp/q.log" && [ ! -e "$tmp/state/fallback.json" ] &&
            "$QG_BIN" query -c "$tmp/q.conf" :fallback | grep -qF '"error":"no IP fallback report'; then
            ok "fallback.resolve = none: nothing resolved, no report (the old file removed)"
        else
            ko "fallback.resolve = none"; grep -F fallback "$tmp/q.log" | head -3
        fi
    fi
    kill -TERM $qpid
    wait $qpid
    qpid=""
done

# names seen in traffic: a tap node in namespaces of its own (tests/lib/mirror.sh), a marked
# name resolving to a server address; HTTP requests naming 50 other sites to that address are
# blocked (method ip: one resolved name, not shared), and reach the report as evidence
# ("names seen in traffic to this address: ~50") without changing the policy.
. "$root/tests/lib/mirror.sh"
for t in ethtool tc bridge curl; do
    command -v $t >/dev/null 2>&1 || qg_cannot_run fallback "$t is not installed"
done
ns=qgfbn$$ C=qgfbc$$ S=qgfbs$$ B=qgfbb$$ spid="" tpid="" tstub=""
tcleanup() {
    [ -n "$tpid" ] && kill "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
    [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    [ -n "$tstub" ] && kill "$tstub" 2>/dev/null && wait "$tstub" 2>/dev/null
    for n in "$ns" "$C" "$S" "$B"; do ip netns del "$n" 2>/dev/null; done
    cleanup
}
trap tcleanup EXIT
ip netns add "$ns" || qg_cannot_run fallback "cannot create a network namespace"
ip -n "$ns" link set lo up
qg_mirror_path "$ns" "$C" "$S" "$B" || qg_cannot_run fallback "cannot build the mirrored path"
ip -n "$S" addr add 198.18.0.6/24 dev s0
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
    -subj /CN=fb.test -days 1 >/dev/null 2>&1
ip netns exec "$S" python3 "$root/tests/scripts/tap_server.py" "$tmp/cert.pem" "$tmp/key.pem" 0.5 \
    198.18.0.6 >"$tmp/server.log" 2>&1 &
spid=$!
cat >"$tmp/tzone.json" <<'EOZ'
{"names": {"fb.kz": {"A": ["198.18.0.6"], "ttl": 300}}}
EOZ
: >"$tmp/tport"
ip netns exec "$ns" python3 "$root/tests/tools/dnsstub.py" "$tmp/tzone.json" >"$tmp/tport" 2>"$tmp/tstub.err" &
tstub=$!
i=0
while { [ ! -s "$tmp/tport" ] || ! grep -q ready "$tmp/server.log"; } && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
cat >"$tmp/torder.json" <<'EOF2'
{ "id": "2026-41-0901", "issuer": "test", "legal_basis": "ст. 41-1", "issued": "2026-11-20T10:00:00Z",
  "resources": [ { "value": "fb.kz", "resolve": true } ] }
EOF2
cat >"$tmp/t.conf" <<EOF2
mode = tap
tap.interface = m0
user = root
workers = 1
node.id = t1
state_dir = $tmp/tstate
log.file = $tmp/t.log
notice.listen = 127.0.0.1:$(free_port)
store.heartbeat = 300ms
fallback.resolve = marked
fallback.resolvers = 127.0.0.1:$(head -1 "$tmp/tport")
fallback.shared_threshold = 5
fallback.shared_policy = nameless
EOF2
T() { ip netns exec "$ns" "$QG_BIN" "$@"; }
T order -c "$tmp/t.conf" import "$tmp/torder.json" >"$tmp/out" 2>&1 || { ko "tap order import"; cat "$tmp/out"; }
ip netns exec "$ns" "$QG_BIN" run -c "$tmp/t.conf" --foreground >"$tmp/trun.out" 2>&1 &
tpid=$!
i=0
until T query -c "$tmp/t.conf" 198.18.0.6 2>/dev/null | grep -qF '"verdict":"block","method":"ip-fallback","rule":"fb.kz"'; do
    [ $i -lt 100 ] || break
    sleep 0.1
    i=$((i + 1))
done
[ $i -lt 100 ] && ok "tap node: fb.kz resolved, 198.18.0.6 blocked by address" ||
    ko "tap node: 198.18.0.6 not blocked ($(tail -3 "$tmp/trun.out"))"
# the admin listener (which answers the query) opens before the capture ring and the workers:
# traffic waits for the daemon's "started" line (the capture open, the workers running)
i=0
until grep -q '"msg":"started"' "$tmp/trun.out" 2>/dev/null || [ $i -ge 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
grep -q '"msg":"started"' "$tmp/trun.out" || ko "tap node: no \"started\" line ($(tail -3 "$tmp/trun.out"))"
get() { # get NAME: the HTTP status of a request naming NAME sent to 198.18.0.6
    ip netns exec "$C" curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
        --resolve "$1:80:198.18.0.6" "http://$1/" 2>/dev/null
}
codes=""
for i in $(seq 50); do codes="$codes $(get "site$i.example")"; done
n451=$(echo "$codes" | tr ' ' '\n' | grep -c '^451$')
[ "$n451" = 50 ] && ok "50 requests naming other sites to the address: all blocked (method ip)" ||
    ko "50 names: $n451 blocked ($codes)"
# the policy did not move: one resolved name, not shared, every named flow still blocked
T query -c "$tmp/t.conf" :fallback >"$tmp/treport" 2>&1
if python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
b = {x["address"]: x for x in r["blocked"]}
assert b["198.18.0.6"]["names_count"] == 1 and b["198.18.0.6"]["action"] == "block", r
assert not any(h["address"] == "198.18.0.6" for h in r["held"]), r' "$tmp/treport" &&
    [ "$(get another.example)" = 451 ]; then
    ok "after 50 traffic names the address still counts 1 name (block, not shared); another name is blocked"
else
    ko "policy changed by traffic names: $(cat "$tmp/treport")"
fi
t=0
while [ $t -lt 50 ]; do
    T report -c "$tmp/t.conf" 2026-41-0901 --format json >"$tmp/trep.json" 2>"$tmp/trep.err"
    python3 - "$tmp/trep.json" <<'PY' 2>"$tmp/trep.why" && break
import json, sys
r = json.load(open(sys.argv[1]))
res = {x["resource"]: x for x in r["resources"]}
seen = {s["address"]: s for s in res["fb.kz"]["ip_fallback_names_seen"]}
s = seen["198.18.0.6"]
assert 48 <= s["names"] <= 53, s  # 50 site names + another.example, maybe fb.kz probes: ~51
assert len(s["examples"]) >= 4 and all(e.endswith(".example") for e in s["examples"]), s
PY
    sleep 0.2
    t=$((t + 1))
done
if [ $t -lt 50 ]; then
    ok "qorgau report: 198.18.0.6 names seen in traffic ~$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["resources"][0]["ip_fallback_names_seen"][0]["names"])' "$tmp/trep.json") with examples (JSON)"
else
    ko "report names seen: $(cat "$tmp/trep.why" "$tmp/trep.err" | tail -2)"
fi
# the node's own fallback report shows them too (this node's document), beside the same policy
T query -c "$tmp/t.conf" :fallback >"$tmp/treport2" 2>&1
if python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
b = {x["address"]: x for x in r["blocked"]}["198.18.0.6"]
assert 48 <= b["names_seen"] <= 53 and len(b["names_seen_examples"]) >= 4, b
assert b["names_count"] == 1 and b["action"] == "block", b' "$tmp/treport2"; then
    ok ":fallback: 198.18.0.6 names_seen ~50 with examples, names_count still 1 (block)"
else
    ko ":fallback names seen: $(cat "$tmp/treport2")"
fi
T report -c "$tmp/t.conf" 2026-41-0901 --format html --lang en -o "$tmp/trep.html" 2>/dev/null
T report -c "$tmp/t.conf" 2026-41-0901 --format csv -o "$tmp/trep.csv" 2>/dev/null
if grep -qE 'names seen in traffic to this address: ~[0-9]+ \(site' "$tmp/trep.html" &&
    grep -qE '198\.18\.0\.6 ~[0-9]+ \(site' "$tmp/trep.csv"; then
    ok "HTML (en) and CSV show the names seen in traffic to the address"
else
    ko "HTML/CSV names seen: $(grep -o 'names seen[^<]*' "$tmp/trep.html" | head -1) / $(tail -1 "$tmp/trep.csv")"
fi

echo "fallback: $pass passed, $fail failed"
[ $fail = 0 ] || exit 1
