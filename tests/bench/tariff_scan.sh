#!/bin/sh
# tariff_scan.sh - the cost of child tariffs on the scan benchmark (docs/BENCHMARKS.md "Child
# tariffs"): `qorgau scan --image NAME.img NAME.pcap` over run.sh's generated captures, without
# tariffs and with every client address mapped to a subscriber of a child profile, CPU time
# (perf task-clock) of interleaved rounds: the median over the rounds of each round's ratio,
# and the ratio of the least times.
#
# Usage: sh tests/bench/tariff_scan.sh [QORGAU_BIN [ROUNDS [NAME...]]]
#   NAME: captures run.sh made in $QG_BENCH_DIR (build/bench; default: bench mobile)
# Env: QG_BENCH_DIR (build/bench); QG_OTHER: a second qorgau binary (an older build) timed the
# same way in the same rounds, for before/after; QG_BENCH_CPU: a CPU every run is pinned to
# (taskset; this kind of VM's two CPUs run at different speeds). Needs perf and python3.
#
# The tariff inputs are written once per capture from a plain scan's own decisions:
#   NAME.tsubs   every client address seen (IPv4 /32; IPv6 its /64, as a gateway assigns it)
#                -> a subscriber id "7700NNNNNNN"
#   NAME.tprof   "profile child block=c0,c3" and a "subscriber ID profile=child" line for each
#   NAME.tcats/  8 categories c0..c7 holding 30 % of the capture's names (c0 and c3 blocked)
# Each round also scans tests/fixtures/demo/demo.pcap (a few flows) with and without the inputs:
# the difference is what loading them costs, printed apart (a node loads them once, not per
# capture).
# The tariff run prints the same decisions plus the tariff's blocks, so the first round also
# checks that the tariff side did block (a run with no tariff block fails the benchmark).
# The same inputs are also compiled beforehand (qorgau tariff compile -> NAME.timg) and timed as
# `scan --image NAME.img --tariff-image NAME.timg`, as the rule set is given as an image; its
# decisions must be the text inputs' (checked once, byte for byte without the summary line).
set -u
BIN=${1:-build/qorgau}
rounds=${2:-5}
shift 2 2>/dev/null || shift $#
names=${*:-bench mobile}
DIR=${QG_BENCH_DIR:-build/bench}
other=${QG_OTHER:-}
small=$(cd "$(dirname "$0")/../.." && pwd)/tests/fixtures/demo/demo.pcap
command -v perf >/dev/null 2>&1 || { echo "tariff_scan: perf is not installed" >&2; exit 2; }
command -v python3 >/dev/null 2>&1 || { echo "tariff_scan: python3 is not installed" >&2; exit 2; }
[ -x "$BIN" ] || { echo "tariff_scan: $BIN is not built" >&2; exit 2; }
pin=
if [ -n "${QG_BENCH_CPU:-}" ]; then
    command -v taskset >/dev/null 2>&1 || { echo "tariff_scan: QG_BENCH_CPU needs taskset" >&2; exit 2; }
    pin="taskset -c $QG_BENCH_CPU"
fi
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
rc=0

for name in $names; do
    pcap=$DIR/$name.pcap
    img=$DIR/$name.img
    for f in "$pcap" "$DIR/$name.rules"; do
        [ -f "$f" ] || { echo "tariff_scan: $f missing (run tests/bench/run.sh first)" >&2; exit 2; }
    done
    if [ ! -f "$img" ] || [ "$DIR/$name.rules" -nt "$img" ]; then
        timeout 120 "$BIN" rules compile -o "$img" "$DIR/$name.rules" ||
            { echo "tariff_scan: rules compile failed" >&2; exit 2; }
    fi
    if [ ! -f "$DIR/$name.tsubs" ] || [ "$pcap" -nt "$DIR/$name.tsubs" ]; then
        timeout 120 "$BIN" scan --image "$img" "$pcap" >"$DIR/$name.plain.json" 2>/dev/null ||
            { echo "tariff_scan: scan of $pcap failed" >&2; exit 2; }
        rm -rf "$DIR/$name.tcats"
        python3 - "$DIR/$name.plain.json" "$DIR/$name" <<'EOF' || exit 2
import ipaddress, json, os, sys
src, base = sys.argv[1], sys.argv[2]
clients, names = {}, {}
for line in open(src):
    d = json.loads(line)
    h = d["src"].rsplit(":", 1)[0].strip("[]")  # "ADDR:PORT" or "[ADDR6]:PORT"
    a = ipaddress.ip_address(h)
    key = str(a) if a.version == 4 else str(ipaddress.ip_network(str(a) + "/64", strict=False))
    clients.setdefault(key, len(clients))
    if d.get("name"):
        names.setdefault(d["name"], len(names))
with open(base + ".tsubs", "w") as f:
    for a, i in clients.items():
        f.write("%s 7700%07d\n" % (a, i))
with open(base + ".tprof", "w") as f:
    f.write("profile child block=c0,c3\n")
    for i in clients.values():
        f.write("subscriber 7700%07d profile=child\n" % i)
for c in range(8):
    os.makedirs("%s.tcats/c%d" % (base, c))
files = [open("%s.tcats/c%d/domains" % (base, c), "w") for c in range(8)]
for n, i in names.items():
    if i % 10 < 3:
        files[i % 8].write(n + "\n")
for f in files:
    f.close()
print("tariff_scan: %s: %d client addresses mapped, %d names, %d in categories"
      % (os.path.basename(base), len(clients), len(names), sum(1 for i in names.values() if i % 10 < 3)))
EOF
    fi
    set -- --categories "$DIR/$name.tcats" --profiles "$DIR/$name.tprof" --subscribers "$DIR/$name.tsubs"
    # the same inputs compiled beforehand (qorgau tariff compile), as the rule set is (--image)
    timeout 150 "$BIN" tariff compile -o "$DIR/$name.timg" "$@" >/dev/null ||
        { echo "tariff_scan: tariff compile failed" >&2; exit 2; }
    # the tariff side must block something, or the benchmark measures nothing of it
    timeout 150 "$BIN" scan --image "$img" "$@" "$pcap" 2>"$DIR/$name.tariff.err" >"$DIR/$name.tariff.json"
    grep -v '"summary"' "$DIR/$name.tariff.json" >"$DIR/$name.tariff.nosum"
    if ! timeout 150 "$BIN" scan --image "$img" --tariff-image "$DIR/$name.timg" "$pcap" 2>/dev/null |
        grep -v '"summary"' | cmp -s - "$DIR/$name.tariff.nosum"; then
        echo "tariff_scan: $name: --tariff-image decides otherwise than the text inputs" >&2
        rc=1
        continue
    fi
    tb=$(grep -c '"cause":"profile"' "$DIR/$name.tariff.json")
    nd=$(wc -l <"$DIR/$name.tariff.json")
    if [ "$tb" -eq 0 ]; then
        echo "tariff_scan: $name: no decision blocked by the profile (see $DIR/$name.tariff.err)" >&2
        rc=1
        continue
    fi
    : >"$out"
    r=0
    while [ "$r" -lt "$rounds" ]; do
        r=$((r + 1))
        timeout 150 $pin perf stat -x, -e task-clock "$BIN" scan --image "$img" "$pcap" 2>&1 >/dev/null |
            awk -F, '/task-clock/ { print "plain", $1 }' >>"$out"
        timeout 150 $pin perf stat -x, -e task-clock "$BIN" scan --image "$img" "$@" "$pcap" 2>&1 >/dev/null |
            awk -F, '/task-clock/ { print "tariff", $1 }' >>"$out"
        timeout 150 $pin perf stat -x, -e task-clock "$BIN" scan --image "$img" --tariff-image "$DIR/$name.timg" "$pcap" 2>&1 >/dev/null |
            awk -F, '/task-clock/ { print "timage", $1 }' >>"$out"
        if [ -n "$other" ]; then
            timeout 150 $pin perf stat -x, -e task-clock "$other" scan --image "$img" "$pcap" 2>&1 >/dev/null |
                awk -F, '/task-clock/ { print "oplain", $1 }' >>"$out"
            timeout 150 $pin perf stat -x, -e task-clock "$other" scan --image "$img" "$@" "$pcap" 2>&1 >/dev/null |
                awk -F, '/task-clock/ { print "otariff", $1 }' >>"$out"
        fi
        # the same two over a capture of a few flows: what loading the inputs costs
        timeout 150 $pin perf stat -x, -e task-clock "$BIN" scan --image "$img" "$small" 2>&1 >/dev/null |
            awk -F, '/task-clock/ { print "plain0", $1 }' >>"$out"
        timeout 150 $pin perf stat -x, -e task-clock "$BIN" scan --image "$img" "$@" "$small" 2>&1 >/dev/null |
            awk -F, '/task-clock/ { print "tariff0", $1 }' >>"$out"
        timeout 150 $pin perf stat -x, -e task-clock "$BIN" scan --image "$img" --tariff-image "$DIR/$name.timg" "$small" 2>&1 >/dev/null |
            awk -F, '/task-clock/ { print "timage0", $1 }' >>"$out"
    done
    # per round: the ratio of the two neighbouring runs (other jobs load both alike); the median
    # over the rounds, and the ratio of the least times
    awk -v name="$name" -v n="$rounds" -v tb="$tb" -v nd="$nd" -v small="${small##*/}" '
function med(a, k,   i, j, t) {
    for (i = 2; i <= k; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
{
    if ($1 == "plain") r++
    v[$1, r] = $2
    if (!($1 in m) || $2 < m[$1]) m[$1] = $2
}
END {
    for (i = 1; i <= r; i++) {
        q[i] = v["tariff", i] / v["plain", i]
        w[i] = (v["tariff", i] - (v["tariff0", i] - v["plain0", i])) / v["plain", i]
        l[i] = v["tariff0", i] - v["plain0", i]
        qi[i] = v["timage", i] / v["plain", i]
        li[i] = v["timage0", i] - v["plain0", i]
        if (("oplain", i) in v) o[i] = v["otariff", i] / v["oplain", i]
    }
    printf "%s, %d interleaved rounds (CPU time): scan --image %.0f ms least; with tariffs (every client mapped, child profile) %.0f ms least; ratio %.3fx median of the rounds (%.3fx of the least times); %d decisions, %d blocked by the profile\n", name, n, m["plain"], m["tariff"], med(q, r), m["tariff"] / m["plain"], nd, tb
    if (1 in o)
        printf "%s: the other build (QG_OTHER) in the same rounds: ratio %.3fx median (%.3fx of the least times)\n", name, med(o, r), m["otariff"] / m["oplain"]
    printf "%s: loading the tariff inputs %.0f ms median (scans of %s with and without them); without it %.3fx median\n", name, med(l, r), small, med(w, r)
    printf "%s: with the inputs compiled beforehand (--tariff-image): ratio %.3fx median of the rounds (%.3fx of the least times); loading the image %.1f ms median\n", name, med(qi, r), m["timage"] / m["plain"], med(li, r)
}' "$out"
done
exit $rc
