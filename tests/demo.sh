#!/bin/sh
# `make demo`, in two parts:
#   1. offline: scan the bundled capture (tests/fixtures/demo/demo.pcap, real curl traffic, see
#      tests/fixtures/README.md) against the bundled sample order and print what was decided;
#   then the order store: the sample order imported into the embedded directory store (a
#      temporary directory), `qorgau query` says block, the order revoked, query says pass;
#   2. live (tests/demo_live.sh): qorgau inline in network namespaces, curl against allowed and
#      blocked sites, what the client saw and the block log; then everything is removed.
#      Needs root and network namespaces; otherwise one line says why and only part 1 runs.
# QG_DEMO=offline runs part 1 only. Exits non-zero if either part fails.
set -eu
bin=${1:-./qorgau}
top=$(cd "$(dirname "$0")/.." && pwd)
order=$top/deploy/samples/order-sample.json
pcap=$top/tests/fixtures/demo/demo.pcap

echo "== offline: scan a capture of real traffic"
echo
echo "== qorgau rules check $order"
"$bin" rules check "$order"
echo
echo "== qorgau scan --rules $order $pcap"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$bin" scan --rules "$order" "$pcap" >"$out"
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
fmt = "%-5s %-22s %-5s %-42s %-6s %-12s %s"
print(fmt % ("flow", "server", "app", "name / url", "verdict", "method", "rule (order)"))
for r in rows:
    what = r["url"] or r["name"] or "-"
    if len(what) > 42:
        what = what[:39] + "..."
    rule = "%s (%s)" % (r["rule"], r["order"]) if r["rule"] else ""
    print(fmt % (r["flow"], r["dst"], r["app"], what, r["verdict"].upper() if r["verdict"] == "block" else r["verdict"], r["method"] or "", rule))
blocked = sum(1 for r in rows if r["verdict"] == "block")
print("\n%d decisions, %d blocked, %d passed" % (len(rows), blocked, len(rows) - blocked))
PY

echo
echo "== orders: the embedded directory store (a temporary directory)"
store=$(mktemp -d)
trap 'rm -f "$out"; rm -rf "$store"' EXIT
echo "== qorgau order --store $store import $order"
"$bin" order --store "$store" import "$order"
echo "== qorgau query --store $store youtube.com http://example.org/c/1/x 8.8.8.8"
"$bin" query --store "$store" youtube.com http://example.org/c/1/x 8.8.8.8
"$bin" query --store "$store" youtube.com | grep -q '"verdict":"block"'
echo "== qorgau order --store $store revoke 2026-41-0017"
"$bin" order --store "$store" revoke 2026-41-0017
echo "== qorgau query --store $store youtube.com"
"$bin" query --store "$store" youtube.com
"$bin" query --store "$store" youtube.com | grep -q '"verdict":"pass"'
echo "== qorgau order --store $store list"
"$bin" order --store "$store" list

echo
echo "== live: qorgau inline between a client and a server (network namespaces)"
if [ "${QG_DEMO:-}" = offline ]; then
    echo "live demo skipped: QG_DEMO=offline"
    exit 0
fi
rc=0
sh "$top/tests/demo_live.sh" "$bin" || rc=$?
[ "$rc" -eq 3 ] && exit 0    # cannot run here; demo_live.sh said why in one line
exit "$rc"
