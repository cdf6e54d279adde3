#!/bin/sh
# dashboard.sh - the admin API, /metrics and the dashboard page of a real node, checked against
# what the node did.
#
# A node in inline mode in the filter namespace of tests/netns/lib.sh (client ns -> filter ns:
# nftables TPROXY -> server ns: nginx), the directory store in its state_dir, admin.listen on
# 127.0.0.1 in the filter namespace with a token file. An order (DASH-1, category gambling,
# received yesterday) is imported; the client makes 3 HTTPS connections to blocked.test (reset),
# 1 HTTP request to blocked.test (blocked) and 2 HTTPS connections to allowed.test (200). Then:
#   - over the Unix socket (curl --unix-socket): /api/v1/decisions holds the 4 blocks of
#     blocked.test and the passes of allowed.test; /api/v1/top puts blocked.test first with 4;
#     /api/v1/status names the node and its version, the fleet lists it alive with its software
#     version and mode (and so does `qorgau status`); /api/v1/orders
#     and /api/v1/orders/DASH-1 equal `qorgau order list/show`'s data; /api/v1/deadlines equals
#     `qorgau deadlines --format json` (but now_ms and left_ms); /api/v1/query answers as
#     `qorgau query -c`; /api/v1/alarms holds the deadline alarm of DASH-OLD; an unknown order
#     is 404;
#   - /metrics: every line is a comment or a sample, every family has a TYPE, and
#     qorgau_decisions_total{verdict="block",method="domain",category="gambling",
#     profile="none"} is 4, the worker counter qorgau_inline_blocked_total is 4;
#   - every metric deploy/grafana-qorgau.json reads is exported (tap and queue ones: registered by
#     tap mode / queue mode);
#   - over TCP: no token 401, a wrong one 401, the metrics-only token 403 on /api/v1/status and
#     200 on /metrics;
#   - headless Chromium (in the filter namespace) loads http://127.0.0.1:PORT/#token=TOKEN and
#     the DOM it renders holds: the node name and version, DASH-1 with the time left the API
#     gives, blocked.test first in the top names with 4, 4 blocked decision rows for it, the node
#     in the node table, the overdue order DASH-OLD (received 20 days ago) with its negative time
#     left and the deadline alarm, no fetch error;
#   - a node record as an older release wrote it (no software version, no mode) reads as "" in
#     /api/v1/status, "?" in the node table, and the page and /metrics
#     (qorgau_fleet_software_versions 2) say the fleet runs two versions;
#   - after report.deadline_days = 30 and report.timezone = UTC are added and the node gets
#     SIGHUP, /api/v1/deadlines equals `qorgau deadlines` with the new settings, DASH-1 has
#     20 d 5 h more, and the alarm of DASH-OLD is gone;
#   - the page has no external resource (no src= or href= to another origin);
#   - the node stops with exit 0 and no sanitizer report in its output.
# Needs root, network namespaces, nftables, nginx, curl, chromium, python3; without them it
# fails (QG_ALLOW_SKIP=1: skips, exit 77; tests/lib/skip.sh). Env: QG_BIN (default
# build/qorgau). Everything it starts is stopped by PID, every namespace deleted.
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
QG_LIB=$ROOT/tests/netns/lib.sh
. "$QG_LIB"
. "$ROOT/tests/lib/skip.sh"
[ "$(id -u)" = 0 ] || qg_cannot_run dashboard "not root"
QG_BIN=${QG_BIN:-$ROOT/build/qorgau}
case $QG_BIN in /*) ;; *) QG_BIN=$(pwd)/$QG_BIN ;; esac

qg_checks dashboard qorgau.log chromium.err

for t in chromium curl python3; do
    command -v $t >/dev/null 2>&1 || { bad "$t installed" "run deploy/install-deps.sh"; exit 1; }
done
why=$(qg_can_run) || { bad "network namespaces" "$why"; exit 1; }
[ -x "$QG_BIN" ] || { bad "qorgau binary" "$QG_BIN (set QG_BIN)"; exit 1; }

qg_setup_net || { bad "namespaces" "setup failed"; exit 1; }
qg_divert tproxy || { bad "nftables" "tproxy ruleset failed"; exit 1; }
qg_start_nginx || { bad "nginx" "did not start"; exit 1; }

PORT=18390
TOKEN=dash-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
MTOKEN=metrics-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
umask 077
printf '# NAME SCOPES SHA256(TOKEN)\ndashboard read %s\ngrafana metrics %s\n' \
    "$(sha "$TOKEN")" "$(sha "$MTOKEN")" >"$QG_DIR/tokens"
umask 022
mkdir -p "$QG_DIR/state"
CONF=$QG_DIR/q.conf
cat >"$CONF" <<EOF
mode = inline
workers = 2
user = root
state_dir = $QG_DIR/state
node.id = dash-node
store.heartbeat = 300ms
notice.listen = 127.0.0.1:18381
inline.http_block = 451
admin.listen = 127.0.0.1:$PORT
admin.tokens_file = $QG_DIR/tokens
inline.rules_check_interval = 1s
EOF
qg_bg "$QG_DIR/qorgau.log" ip netns exec "$QG_FLT" "$QG_BIN" run -c "$CONF" --foreground
NODE_PID=$QG_LAST_PID
SOCK=$QG_DIR/state/admin.sock
i=0
while [ $i -lt 100 ] && ! [ -S "$SOCK" ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$SOCK" ] && ok "node started, admin socket $SOCK" || { bad "node start" "no admin socket"; exit 1; }
expect "admin socket is owner-only" "$(stat -c %a "$SOCK")" 600

yday=$(TZ=Asia/Almaty date -d yesterday +%Y-%m-%d)
cat >"$QG_DIR/order.json" <<EOF
{"id":"DASH-1","issuer":"Ministry","legal_basis":"41-1","issued":"${yday}T09:00:00+05:00",
 "received":"${yday}T10:00:00+05:00","category":"gambling","resources":["blocked.test"]}
EOF
# and one received 20 days ago, never reported: overdue, an alarm
old=$(TZ=Asia/Almaty date -d '20 days ago' +%Y-%m-%d)
cat >"$QG_DIR/old.json" <<EOF
{"id":"DASH-OLD","issuer":"Ministry","legal_basis":"41-1","issued":"${old}T09:00:00+05:00",
 "received":"${old}T10:00:00+05:00","category":"piracy","resources":["old.test"]}
EOF
"$QG_BIN" order -c "$CONF" import "$QG_DIR/order.json" "$QG_DIR/old.json" >"$QG_DIR/import.out" 2>&1 ||
    bad "order import" "$(cat "$QG_DIR/import.out")"
qg_wait_verdict "$QG_BIN" "$CONF" blocked.test block && ok "order DASH-1 enforced" ||
    { bad "order enforced" "query -c does not say block"; exit 1; }

# ---- traffic -----------------------------------------------------------------------------------
cl() { qg_in "$QG_CLI" curl -sS -k --max-time 10 -o /dev/null -w '%{http_code}' "$@" 2>/dev/null; }
b=""
for n in 1 2 3; do b="$b$(cl https://blocked.test/)."; done
h=$(cl http://blocked.test/page)
a=""
for n in 1 2; do a="$a$(cl https://allowed.test/)."; done
expect "3 HTTPS connections to blocked.test fail" "$b" "000.000.000."
expect "HTTP to blocked.test gets 451" "$h" 451
expect "2 HTTPS connections to allowed.test get 200" "$a" "200.200."

A() { curl -sS --max-time 10 --unix-socket "$SOCK" "http://node$1"; }
J() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# ---- JSON endpoints against the traffic and the CLI -------------------------------------------
A "/api/v1/decisions?n=100" >"$QG_DIR/decisions.json"
expect "decisions: blocks of blocked.test" "$(J 'sum(1 for x in d["decisions"] if x["verdict"]=="block" and x["name"]=="blocked.test" and x["method"]=="domain" and x["order"]=="DASH-1" and x["category"]=="gambling")' <"$QG_DIR/decisions.json")" 4
expect "decisions: passes of allowed.test" "$(J 'sum(1 for x in d["decisions"] if x["verdict"]=="pass" and x["name"]=="allowed.test")' <"$QG_DIR/decisions.json")" 2
A "/api/v1/top" >"$QG_DIR/top.json"
expect "top: blocked.test first with 4" "$(J 'd["top"][0]["name"]+" "+str(d["top"][0]["blocks"])+" "+str(len(d["top"]))' <"$QG_DIR/top.json")" "blocked.test 4 1"
A "/api/v1/status" >"$QG_DIR/status.json"
VERSION=$("$QG_BIN" --version 2>/dev/null | awk '{print $NF}')
expect "status: node and version" "$(J 'd["node"]["id"]+" "+d["node"]["version"]+" "+d["node"]["mode"]+" "+str(d["node"]["blocks"])' <"$QG_DIR/status.json")" "dash-node $VERSION inline 4"
expect "status: the fleet lists the node alive" "$(J '[n["node"]+":"+str(n["alive"]) for n in d["fleet"]["nodes"]]' <"$QG_DIR/status.json")" "['dash-node:True']"
expect "status: the fleet gives the node's software version and mode" "$(J '[(n["node"], n["software"], n["mode"]) for n in d["fleet"]["nodes"]]' <"$QG_DIR/status.json")" "[('dash-node', '$VERSION', 'inline')]"
"$QG_BIN" status -c "$CONF" >"$QG_DIR/status.cli"
expect "status: same store and nodes as qorgau status" \
    "$(python3 -c 'import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; print(l[0]["store"], l[0]["version"], [n["node"] for n in l[1:]])' "$QG_DIR/status.cli")" \
    "$(J 'd["fleet"]["store"], d["fleet"]["version"], [n["node"] for n in d["fleet"]["nodes"]]' <"$QG_DIR/status.json")"
expect "qorgau status: the node's software version and mode" \
    "$(python3 -c 'import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; print([(n["node"], n["software"], n["mode"]) for n in l[1:]])' "$QG_DIR/status.cli")" \
    "[('dash-node', '$VERSION', 'inline')]"
expect "status?order=DASH-1: enforced on the node" "$(A '/api/v1/status?order=DASH-1' | J '[d["fleet"]["order"], d["fleet"]["order_version"] > 0] + [(n["node"], n["order_enforced"]) for n in d["fleet"]["nodes"]]')" "['DASH-1', True, ('dash-node', True)]"
expect "status?order=NOPE: the node, no fleet, the reason" "$(A '/api/v1/status?order=NOPE' | J 'd["node"]["id"], d["fleet"], "NOPE" in d["store_error"]')" "dash-node None True"
expect "orders: DASH-1 and DASH-OLD active" "$(A /api/v1/orders | J '[(o["id"],o["state"]) for o in d["orders"]]')" "[('DASH-1', 'active'), ('DASH-OLD', 'active')]"
A /api/v1/orders/DASH-1 >"$QG_DIR/show.api"
"$QG_BIN" order -c "$CONF" show DASH-1 >"$QG_DIR/show.cli"
cmp -s "$QG_DIR/show.api" "$QG_DIR/show.cli" && ok "orders/DASH-1 is qorgau order show's JSON" ||
    bad "orders/DASH-1" "$(head -c 300 "$QG_DIR/show.api") vs $(head -c 300 "$QG_DIR/show.cli")"
expect "orders/NOPE is 404" "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" http://node/api/v1/orders/NOPE)" 404
A /api/v1/deadlines >"$QG_DIR/dl.api"
"$QG_BIN" deadlines -c "$CONF" --format json >"$QG_DIR/dl.cli"
strip='import json,sys; d=json.load(open(sys.argv[1])); d.pop("now_ms"); [o.pop("left_ms") for o in d["orders"]]; print(json.dumps(d, sort_keys=True))'
expect "deadlines: as qorgau deadlines (but the clock)" "$(python3 -c "$strip" "$QG_DIR/dl.api")" "$(python3 -c "$strip" "$QG_DIR/dl.cli")"
LEFT_MS=$(J '[o["left_ms"] for o in d["orders"] if o["order"]=="DASH-1"][0]' <"$QG_DIR/dl.api")
[ "${LEFT_MS:-0}" -gt 0 ] && ok "deadlines: DASH-1 has $LEFT_MS ms left" || bad "deadlines: DASH-1" "$(cat "$QG_DIR/dl.api")"
expect "query: the API answers as query -c" "$(A '/api/v1/query?q=blocked.test')" "$("$QG_BIN" query -c "$CONF" blocked.test)"
expect "alarms: the overdue order" "$(A /api/v1/alarms | J '[(a["kind"],a["level"],a["subject"]) for a in d["alarms"]]')" "[('deadline', 'warning', 'orders')]"
# the diversion deleted under the node (inline.rules_check_interval = 1s here): a critical alarm
# that nothing reaches the proxy, gone once the ruleset is back
kinds() { A /api/v1/alarms | J '[(a["kind"],a["level"]) for a in d["alarms"]]'; }
wait_kinds() { # WANT: the alarms' kinds and levels once they read WANT (up to 20 s)
    i=0
    while [ $i -lt 200 ] && [ "$(kinds)" != "$1" ]; do sleep 0.1; i=$((i + 1)); done
    kinds
}
qg_in "$QG_FLT" nft delete table inet qorgau
expect "alarms: no diversion -> rules-unfed (critical)" "$(wait_kinds "[('rules-unfed', 'critical'), ('deadline', 'warning')]")" \
    "[('rules-unfed', 'critical'), ('deadline', 'warning')]"
qg_divert tproxy || bad "nftables" "tproxy ruleset failed to load again"
expect "alarms: the diversion back -> the rules alarm gone" "$(wait_kinds "[('deadline', 'warning')]")" "[('deadline', 'warning')]"

# ---- /metrics ----------------------------------------------------------------------------------
A /metrics >"$QG_DIR/metrics.txt"
python3 - "$QG_DIR/metrics.txt" >"$QG_DIR/metrics.check" <<'PY'
import re, sys
typed, bad, val = set(), [], {}
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? (\d+(?:\.\d+)?)$')
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# TYPE "):
        typed.add(line.split()[2]); continue
    if line.startswith("# HELP "):
        continue
    m = sample.match(line)
    if not m:
        bad.append(line); continue
    if m.group(1) not in typed:
        bad.append("untyped " + line)
    val[m.group(1) + (m.group(2) or "")] = m.group(4)
print("bad", len(bad), bad[:3])
print("block", val.get('qorgau_decisions_total{verdict="block",method="domain",category="gambling",profile="none"}'))
print("inline_blocked", val.get("qorgau_inline_blocked_total"))
print("rules", val.get('qorgau_rules_entries{kind="domain"}'))
print("workers", sum(1 for k in val if k.startswith("qorgau_worker_inline_accepted_total{")))
PY
expect "metrics: every line a comment or a typed sample" "$(sed -n 1p "$QG_DIR/metrics.check")" "bad 0 []"
expect "metrics: decisions_total block/domain/gambling/none" "$(sed -n 2p "$QG_DIR/metrics.check")" "block 4"
expect "metrics: inline_blocked_total summed over the workers" "$(sed -n 3p "$QG_DIR/metrics.check")" "inline_blocked 4"
grep -qx "qorgau_build_info{version=\"$VERSION\",mode=\"inline\",node=\"dash-node\"} 1" "$QG_DIR/metrics.txt" &&
    ok "metrics: build info" || bad "metrics: build info" "$(grep build_info "$QG_DIR/metrics.txt")"
grep -qx "qorgau_fleet_node_info{node=\"dash-node\",version=\"$VERSION\",mode=\"inline\",alive=\"1\"} 1" "$QG_DIR/metrics.txt" &&
    ok "metrics: fleet node info" || bad "metrics: fleet node info" "$(grep fleet_node_info "$QG_DIR/metrics.txt")"
grep -qx "qorgau_fleet_software_versions 1" "$QG_DIR/metrics.txt" && ok "metrics: one software version in the fleet" ||
    bad "metrics: fleet software versions" "$(grep fleet_software "$QG_DIR/metrics.txt")"
expect "metrics: two domain entries (one per order)" "$(sed -n 4p "$QG_DIR/metrics.check")" "rules 2"
expect "metrics: per-worker figures for both workers" "$(sed -n 5p "$QG_DIR/metrics.check")" "workers 2"

# every metric deploy/grafana-qorgau.json reads exists: in this node's /metrics, or for tap and
# queue modes' counters (this node is inline) in the names mode_tap.c / mode_queue.c register
python3 - "$ROOT/deploy/grafana-qorgau.json" "$QG_DIR/metrics.txt" "$ROOT/proxy/daemon/mode_tap.c" \
    "$ROOT/proxy/daemon/mode_queue.c" >"$QG_DIR/grafana.check" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
exprs = " ".join(t["expr"] for p in d["panels"] for t in p.get("targets", []))
have = set(re.findall(r"^# TYPE (\S+)", open(sys.argv[2]).read(), re.M))
src = {"tap": open(sys.argv[3]).read(), "engine": open(sys.argv[3]).read(),
       "queue": open(sys.argv[4]).read()}
missing = []
for n in sorted(set(re.findall(r"qorgau_[a-z0-9_]+", exprs))):
    m = re.match(r"qorgau_(?:worker_)?(tap|engine|queue)_(\w+?)(?:_total)?$", n)
    if m:
        if not re.search(r'"%s\.%s["/]' % (m.group(1), m.group(2)), src[m.group(1)]):
            missing.append(n)
    elif n not in have:
        missing.append(n)
print(len(d["panels"]) > 10, missing)
PY
expect "grafana: every metric it reads exists" "$(cat "$QG_DIR/grafana.check")" "True []"

# the alerting rules (deploy/prometheus-qorgau-rules.yml): promtool accepts them, its unit tests
# (tests/fixtures/alerts/) fire each tested alert when it must and not before, and every metric
# they read exists, as for the dashboard above
if command -v promtool >/dev/null 2>&1; then
    out=$(promtool check rules "$ROOT/deploy/prometheus-qorgau-rules.yml" 2>&1)
    expect_match "alerts: promtool check rules" "$out" 'SUCCESS: [0-9]+ rules found'
    out=$(promtool test rules "$ROOT/tests/fixtures/alerts/qorgau-rules-test.yml" 2>&1)
    expect_match "alerts: promtool test rules (the alerts fire when they must)" "$out" 'SUCCESS'
else
    bad "alerts: promtool" "not installed (deploy/install-deps.sh installs prometheus for it)"
fi
python3 - "$ROOT/deploy/prometheus-qorgau-rules.yml" "$QG_DIR/metrics.txt" "$ROOT/proxy/daemon/mode_tap.c" \
    "$ROOT/proxy/daemon/mode_queue.c" >"$QG_DIR/alerts.check" <<'PY'
import re, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
exprs = " ".join(r["expr"] for g in d["groups"] for r in g["rules"])
have = set(re.findall(r"^# TYPE (\S+)", open(sys.argv[2]).read(), re.M))
src = {"tap": open(sys.argv[3]).read(), "queue": open(sys.argv[4]).read()}
# the daemon's own figures are exported whatever the mode, but some only when their part runs
# (ip.* with ip.kernel_drop, qorgau_subs_failstatic with a subscriber map): this inline node has
# neither, so those are looked up in the daemon's source
daemon = open(sys.argv[3].replace("mode_tap.c", "daemon.c")).read()
missing = []
for n in sorted(set(re.findall(r"qorgau_[a-z0-9_]+", exprs))):
    m = re.match(r"qorgau_(tap|queue)_(\w+?)(?:_total)?$", n)
    k = re.match(r"qorgau_(log|ip)_(\w+?)(?:_total)?$", n)
    if m:
        if not re.search(r'"%s\.%s["/]' % (m.group(1), m.group(2)), src[m.group(1)]):
            missing.append(n)
    elif k and n not in have:
        if not re.search(r'"%s\.%s"' % (k.group(1), k.group(2)), daemon):
            missing.append(n)
    elif not k and n not in have and '"%s"' % n not in daemon:
        missing.append(n)
print(sum(len(g["rules"]) for g in d["groups"]) > 10, missing)
PY
expect "alerts: every metric they read exists" "$(cat "$QG_DIR/alerts.check")" "True []"

# ---- TCP and tokens ----------------------------------------------------------------------------
T() { qg_in "$QG_FLT" curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
U=http://127.0.0.1:$PORT
expect "TCP: no token 401" "$(T "$U/api/v1/status")" 401
expect "TCP: a wrong token 401" "$(T -H "Authorization: Bearer nope" "$U/api/v1/status")" 401
expect "TCP: the metrics token on status 403" "$(T -H "Authorization: Bearer $MTOKEN" "$U/api/v1/status")" 403
expect "TCP: the metrics token on /metrics 200" "$(T -H "Authorization: Bearer $MTOKEN" "$U/metrics")" 200
expect "TCP: the read token on status 200" "$(T -H "Authorization: Bearer $TOKEN" "$U/api/v1/status")" 200
expect "TCP: the page needs no token" "$(T "$U/")" 200

# ---- a node of an older release (its record has no software version nor mode) ----------------
# written into the directory store as that release wrote it: the store's version, alive 10 min
SV=$(J 'd["fleet"]["version"]' <"$QG_DIR/status.json")
NOW_MS=$(($(date +%s) * 1000))
printf '%s %s %s 600000\n' "$SV" "$NOW_MS" "$NOW_MS" >"$QG_DIR/state/nodes/old-node"
expect "status: the older node's software and mode read as empty" "$(A /api/v1/status | J 'sorted((n["node"], n["alive"], n["software"], n["mode"]) for n in d["fleet"]["nodes"])')" "[('dash-node', True, '$VERSION', 'inline'), ('old-node', True, '', '')]"
A /metrics >"$QG_DIR/metrics2.txt"
grep -qx "qorgau_fleet_software_versions 2" "$QG_DIR/metrics2.txt" && ok "metrics: two software versions in the fleet" ||
    bad "metrics: fleet software versions" "$(grep fleet_software "$QG_DIR/metrics2.txt")"
grep -qx 'qorgau_fleet_node_info{node="old-node",version="",mode="",alive="1"} 1' "$QG_DIR/metrics2.txt" &&
    ok "metrics: the older node's info, empty version" || bad "metrics: older node info" "$(grep fleet_node_info "$QG_DIR/metrics2.txt")"

# ---- the page in a real browser ----------------------------------------------------------------
A / >"$QG_DIR/page.html"
if grep -Eiq '(src|href)=["'"'"']?(https?:)?//' "$QG_DIR/page.html"; then
    bad "page: self-contained" "$(grep -Eio '(src|href)=[^ >]*' "$QG_DIR/page.html" | head -3)"
else
    ok "page: self-contained (no external src/href)"
fi
qg_in "$QG_FLT" timeout 90 chromium --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$QG_DIR/chromium" --virtual-time-budget=15000 --dump-dom \
    "$U/#token=$TOKEN" >"$QG_DIR/dom.html" 2>"$QG_DIR/chromium.err"
A /api/v1/deadlines >"$QG_DIR/dl2.api"
python3 - "$QG_DIR/dom.html" "$QG_DIR/dl.api" "$QG_DIR/dl2.api" >"$QG_DIR/dom.check" <<'PY'
import json, sys
from html.parser import HTMLParser

class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.ids = {}; s.stack = []; s.rows = []; s.body = {}
    def handle_starttag(s, tag, a):
        a = dict(a)
        if tag == "body": s.body = a
        if tag == "tr": s.rows.append({"attrs": a, "cells": [], "tbody": s.tbody()})
        s.stack.append([tag, a, ""])
    def tbody(s):
        for t, a, _ in reversed(s.stack):
            if t == "tbody": return a.get("id")
    def handle_endtag(s, tag):
        while s.stack:
            t, a, text = s.stack.pop()
            if "id" in a: s.ids[a["id"]] = text.strip()
            if t == "td" and s.rows: s.rows[-1]["cells"].append(text.strip())
            if s.stack: s.stack[-1][2] += text
            if t == tag: break
    def handle_data(s, d):
        if s.stack: s.stack[-1][2] += d

def left(ms):
    h = abs(ms) // 3600000
    return ("-" if ms < 0 else "") + "%dd %02dh" % (h // 24, h % 24)

p = P(); p.feed(open(sys.argv[1]).read())
rows = lambda t: [r for r in p.rows if r["tbody"] == t]
print("loaded", p.body.get("data-loaded"), "err=" + p.ids.get("err", "?"))
print("node", p.ids.get("node-id"), p.ids.get("node-version"), p.ids.get("node-mode"))
def deadline(order):
    want = set()
    for f in sys.argv[2:]:
        for o in json.load(open(f))["orders"]:
            if o["order"] == order: want.add(left(o["left_ms"]))
    dl = [r for r in rows("deadlines") if r["attrs"].get("data-order") == order]
    print("deadline", bool(dl) and dl[0]["cells"][0] == order and dl[0]["cells"][2] in want,
          dl and dl[0]["cells"], sorted(want))
deadline("DASH-1")
top = rows("top")
print("top", top and top[0]["cells"])
print("decisions", sum(1 for r in rows("decisions") if r["attrs"].get("data-verdict") == "block"
                       and r["attrs"].get("data-name") == "blocked.test"),
      sum(1 for r in rows("decisions") if r["attrs"].get("data-verdict") == "pass"
          and r["attrs"].get("data-name") == "allowed.test"))
print("nodes", sorted(r["attrs"].get("data-node") + ":" + r["cells"][1] for r in rows("nodes")))
print("alarms", p.ids.get("alarms"))
deadline("DASH-OLD")
print("order rows", [r["attrs"].get("data-order") for r in rows("deadlines")])
print("software", sorted((r["attrs"].get("data-node"), r["cells"][5], r["cells"][6]) for r in rows("nodes")))
print("versions", p.ids.get("versions"))
PY
expect "browser: the page loaded its data" "$(sed -n 1p "$QG_DIR/dom.check")" "loaded 1 err="
expect "browser: node name, version, mode" "$(sed -n 2p "$QG_DIR/dom.check")" "node dash-node $VERSION inline"
expect_match "browser: DASH-1 with the time left the API gives" "$(sed -n 3p "$QG_DIR/dom.check")" '^deadline True '
expect "browser: blocked.test first in the top names, 4 blocks" "$(sed -n 4p "$QG_DIR/dom.check")" "top ['blocked.test', '4']"
expect "browser: decision rows (4 blocks of blocked.test, 2 passes of allowed.test)" "$(sed -n 5p "$QG_DIR/dom.check")" "decisions 4 2"
expect "browser: the node table" "$(sed -n 6p "$QG_DIR/dom.check")" "nodes ['dash-node:yes', 'old-node:yes']"
expect "browser: the deadline alarm" "$(sed -n 7p "$QG_DIR/dom.check")" "alarms deadline orders: 1 order(s) overdue or due within 48 h without a report"
expect_match "browser: DASH-OLD overdue, with the time left the API gives" "$(sed -n 8p "$QG_DIR/dom.check")" "^deadline True \\['DASH-OLD', '[0-9-]+', '-[0-9]+d [0-9]{2}h'"
expect "browser: the orders by deadline" "$(sed -n 9p "$QG_DIR/dom.check")" "order rows ['DASH-OLD', 'DASH-1']"
expect "browser: each node's software version and mode (? for the older one)" "$(sed -n 10p "$QG_DIR/dom.check")" "software [('dash-node', '$VERSION', 'inline'), ('old-node', '?', '?')]"
expect "browser: the two software versions said" "$(sed -n 11p "$QG_DIR/dom.check")" "versions the live nodes run 2 software versions: $VERSION, ?"

# ---- a reload (SIGHUP) gives the API the new report.deadline_days and report.timezone ----------
A /api/v1/deadlines >"$QG_DIR/dl3.api"
printf 'report.deadline_days = 30\nreport.timezone = UTC\n' >>"$CONF"
kill -HUP "$NODE_PID"
i=0
while [ $i -lt 100 ] && ! grep -q '"msg":"reloaded"' "$QG_DIR/qorgau.log"; do sleep 0.1; i=$((i + 1)); done
grep -q '"msg":"reloaded"' "$QG_DIR/qorgau.log" && ok "SIGHUP: reloaded" ||
    bad "SIGHUP" "$(tail -n 3 "$QG_DIR/qorgau.log")"
A /api/v1/deadlines >"$QG_DIR/dl4.api"
"$QG_BIN" deadlines -c "$CONF" --format json >"$QG_DIR/dl4.cli"
expect "reload: deadlines as qorgau deadlines with the new settings (but the clock)" "$(python3 -c "$strip" "$QG_DIR/dl4.api")" "$(python3 -c "$strip" "$QG_DIR/dl4.cli")"
# 20 more days, and the day now ends at UTC midnight instead of Almaty's (+5 h): 20 d 5 h later
expect "reload: DASH-1 has 20 d 5 h more (within the seconds between the two reads)" "$(python3 -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
left = lambda d: [o["left_ms"] for o in d["orders"] if o["order"] == "DASH-1"][0]
diff = left(b) - left(a) + (b["now_ms"] - a["now_ms"])
print(diff == (20 * 24 + 5) * 3600000 or diff)' "$QG_DIR/dl3.api" "$QG_DIR/dl4.api")" True
expect "reload: DASH-OLD (20 days old) is no longer overdue: no alarm" "$(A /api/v1/alarms | J 'd["alarms"]')" "[]"

# ---- the node stops cleanly, no sanitizer report (a sanitizer build: QG_BIN=build/san/qorgau) --
qg_stop "$NODE_PID"
grep -q '"msg":"stopped","exit":0' "$QG_DIR/qorgau.log" && ok "node stopped, exit 0" ||
    bad "node stop" "$(tail -n 3 "$QG_DIR/qorgau.log")"
if grep -Eq 'Sanitizer|runtime error:' "$QG_DIR/qorgau.log"; then
    bad "no sanitizer report" "$(grep -E -m3 'Sanitizer|runtime error:' "$QG_DIR/qorgau.log")"
else
    ok "no sanitizer report in the node's output"
fi
