#!/bin/sh
# tapcap.sh - how much traffic tap mode keeps up with, against Suricata on the same interface.
#
# Usage: sh tests/bench/tapcap.sh [QORGAU_BIN [TOOLS_DIR]]   (root; else prints SKIP, exits 0)
# Env:   QG_BENCH_DIR (build/bench)  QG_TAPCAP_PACKETS (100000)  QG_TAPCAP_FLOWS (6000)
#        QG_TAPCAP_RATES ("50000 100000 200000 400000 top": packets/s, top = --topspeed)
#        QG_TAPCAP_WORKERS ("1 2")  QG_TAPCAP_TOOLS ("qorgau qorgau-b1 suricata": qorgau-bN is
#        qorgau with tap.batch_ms = N, plain qorgau has the default 0, immediate hand-over)
#
# 1. genpcap (tests/tools) writes a bulk capture (TLS, HTTP, QUIC-like flows) and its list;
#    the list's names (100k unrelated + the flows' ~10%) are the blocklist of both programs.
#    tcprewrite --seed=K makes one copy per rate step with other addresses (new flows, same
#    names), so a program kept running sees new flows at every step.
# 2. Ground truth, no loss possible: `qorgau scan` of every copy (blocked flows) and Suricata
#    reading the capture (-r: alerts). A step's expected count is the program's own offline one.
# 3. A network namespace made here with a veth pair r0 <-> t0 (MTU 9000). For each program and
#    worker count: the program on t0 (qorgau run mode=tap, workers=N; Suricata af-packet IDS,
#    N capture threads, runmode workers, datasets rule on tls.sni and http.host), then
#    tcpreplay --pps=R of a copy into r0 at each rate in turn. A step is loss-free when the
#    program counted every frame, no capture (kernel) drop, and every expected decision
#    (qorgau: tap.blocks of its stats line; Suricata: detect.alert of eve.json stats). Stepping
#    stops at the first lossy rate. The rate reported is what tcpreplay achieved.
# Prints a markdown report (per-core loss-free rate = rate / workers, and qorgau / Suricata)
# and keeps it in $QG_BENCH_DIR/tapcap.md. Only PIDs started here are stopped; the namespace
# is removed in the EXIT trap. Takes about 2-3 minutes with the defaults.
set -u
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
ROOT=$(CDPATH= cd -- "$HERE/../.." && pwd)
BIN=${1:-$ROOT/build/qorgau}
TOOLS=${2:-$ROOT/build/tools}
OUT=${QG_BENCH_DIR:-$ROOT/build/bench}
PACKETS=${QG_TAPCAP_PACKETS:-100000}
FLOWS=${QG_TAPCAP_FLOWS:-6000}
RATES=${QG_TAPCAP_RATES:-50000 100000 200000 400000 top}
WORKERS=${QG_TAPCAP_WORKERS:-1 2}
PROGS=${QG_TAPCAP_TOOLS:-qorgau qorgau-b1 suricata}
NS=qg-tapcap-$$
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

[ "$(id -u)" = 0 ] || { echo "bench tapcap: SKIP (not root)"; exit 0; }
for t in ip tcpreplay tcprewrite jq python3; do
    command -v $t >/dev/null 2>&1 || { echo "bench tapcap: SKIP ($t not installed)"; exit 0; }
done
case " $PROGS " in *" suricata "*)
    command -v suricata >/dev/null 2>&1 || { echo "bench tapcap: SKIP (suricata not installed: deploy/install-deps.sh --bench)"; exit 0; } ;;
esac
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
[ -x "$BIN" ] || { echo "bench tapcap: $BIN is not built" >&2; exit 2; }
[ -x "$TOOLS/genpcap" ] || { echo "bench tapcap: $TOOLS/genpcap is not built" >&2; exit 2; }
mkdir -p "$OUT" || exit 2
OUT=$(CDPATH= cd -- "$OUT" && pwd)
D=$(mktemp -d /tmp/qg-tapcap-XXXXXX) || exit 2

PIDS=""
stop() { # PID: TERM, KILL after 5 s
    kill -TERM "$1" 2>/dev/null || return 0
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}
finish() {
    trap - EXIT INT TERM HUP
    for p in $PIDS; do stop "$p"; done
    ip netns del "$NS" 2>/dev/null
    rm -rf "$D"
}
trap finish EXIT
trap 'exit 1' INT TERM HUP
f() { awk "BEGIN { printf \"%.${2:-0}f\", $1 }"; }
HZ=$(getconf CLK_TCK)
cputicks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; } # utime+stime, all threads

# ---- capture, copies, list, ground truth ----
"$TOOLS/genpcap" "$D/cap.pcap" --packets "$PACKETS" --flows "$FLOWS" --seed 1 >"$D/gen.out" ||
    { echo "bench tapcap: genpcap failed" >&2; exit 2; }
grep -v '^#' "$D/cap.rules" | grep -v '/' >"$D/names.txt"
# Suricata's string datasets hold base64 lines
python3 -c 'import base64, sys
for l in sys.stdin: sys.stdout.write(base64.b64encode(l.strip().encode()).decode() + "\n")' \
    <"$D/names.txt" >"$D/names.b64" || { echo "bench tapcap: base64 failed" >&2; exit 2; }
NPK=$(sed -n 's/^packets \([0-9]*\).*/\1/p' "$D/gen.out")
echo "bench tapcap: $(cat "$D/gen.out" | tail -n 1); $(wc -l <"$D/names.txt") names"
k=0
for r in $RATES; do
    k=$((k + 1))
    tcprewrite --seed=$k --infile="$D/cap.pcap" --outfile="$D/cap$k.pcap" ||
        { echo "bench tapcap: tcprewrite failed" >&2; exit 2; }
    b=$("$BIN" scan --rules "$D/names.txt" "$D/cap$k.pcap" 2>/dev/null | grep -c '"verdict":"block"')
    eval "EXP_qorgau_$k=$b"
done
echo "bench tapcap: qorgau scan: $EXP_qorgau_1 blocked flows in each copy (first: $EXP_qorgau_1, last: $(eval echo \$EXP_qorgau_$k))"

cat >"$D/suricata.rules" <<RULES
alert tls any any -> any any (msg:"listed sni"; tls.sni; dataset:isset,qgblocked,type string,load $D/names.b64; sid:1; rev:1;)
alert http any any -> any any (msg:"listed host"; http.host; dataset:isset,qgblocked,type string,load $D/names.b64; sid:2; rev:1;)
RULES
suri_yaml() { # THREADS LOGDIR
    cat <<YAML
%YAML 1.1
---
vars:
  address-groups: { HOME_NET: "any", EXTERNAL_NET: "any" }
  port-groups: { HTTP_PORTS: "80" }
default-log-dir: $2
stats: { enabled: yes, interval: 1 }
outputs:
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      types: [ alert, stats: { totals: yes, threads: no, deltas: no } ]
logging: { default-log-level: notice, outputs: [ console: { enabled: yes } ] }
af-packet:
  - interface: t0
    threads: $1
    cluster-id: 98
    cluster-type: cluster_flow
    defrag: yes
    use-mmap: yes
    tpacket-v3: yes
    ring-size: 32768
    checksum-checks: no
app-layer:
  protocols:
    tls: { enabled: yes, detection-ports: { dp: 443 } }
    http: { enabled: yes }
# genpcap's streams stay in syn_sent for Suricata 7 (it does not take their SYN-ACK) and
# nothing is reassembled; async-oneside lets it reassemble each direction (the same alerts
# as qorgau's blocks, less subdomain matches, with it)
stream: { async-oneside: true }
runmode: workers
unix-command: { enabled: no }
YAML
}
EXP_suricata=""
case " $PROGS " in *" suricata "*)
    mkdir -p "$D/soff"
    suri_yaml 1 "$D/soff" >"$D/soff.yaml"
    suricata -c "$D/soff.yaml" -S "$D/suricata.rules" -k none --runmode single -r "$D/cap1.pcap" -l "$D/soff" >"$D/soff.out" 2>&1 ||
        { echo "bench tapcap: suricata -r failed:"; tail -n 20 "$D/soff.out"; exit 1; }
    EXP_suricata=$(grep -c '"event_type":"alert"' "$D/soff/eve.json")
    echo "bench tapcap: suricata -r: $EXP_suricata alerts per copy" ;;
esac

# ---- namespace ----
ip netns add "$NS" || exit 1
ip netns exec "$NS" ip link set lo up
ip -n "$NS" link add r0 type veth peer name t0 || exit 1
for i in r0 t0; do ip -n "$NS" link set "$i" mtu 9000 up; done
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1

# counters NAME LOGFILE -> "frames drops decisions" (cumulative)
counters() {
    if [ "$1" != suricata ]; then
        grep '"msg":"stats"' "$2" | tail -n 1 | jq -r '"\(."tap.frames") \(."tap.capture_drops") \(."tap.blocks")"'
    else
        grep '"event_type":"stats"' "$2" | tail -n 1 |
            jq -r '"\(.stats.capture.kernel_packets) \(.stats.capture.kernel_drops) \(.stats.detect.alert)"'
    fi
}
# settle NAME LOGFILE [BEFORE]: waits until the counters (new every second) differ from BEFORE
# and then stay the same for a whole interval (15 s at most); Suricata's for two intervals: its
# capture counters are read by the packet thread once a second and written by the stats thread
# once a second, so on a loaded box one reading can repeat while frames are still being counted
settle() {
    last=""
    same=0
    need=1
    [ "$1" = suricata ] && need=2
    i=0
    while [ $i -lt 12 ]; do
        sleep 1.2
        now=$(counters "$1" "$2")
        if [ -n "$last" ] && [ "$now" = "$last" ] && [ "$now" != "${3:-}" ]; then
            same=$((same + 1))
            [ $same -ge $need ] && break
        else
            same=0
        fi
        last=$now
        i=$((i + 1))
    done
}

start() { # NAME WORKERS: starts the program on t0, sets LOG and PID, waits for its first stats
    mkdir -p "$D/$1-$2"
    if [ "$1" != suricata ]; then
        batch=${1#qorgau-b}
        [ "$batch" = "$1" ] && batch=0
        cat >"$D/$1-$2/q.conf" <<CONF
mode = tap
workers = $2
user = root
state_dir = $D/$1-$2/state
rules = $D/names.txt
tap.interface = t0
tap.batch_ms = $batch
log.block_rate = 1000000
stats.interval = 1s
CONF
        LOG=$D/$1-$2/out # --foreground: the log lines go to standard output
        ip netns exec "$NS" "$BIN" run -c "$D/$1-$2/q.conf" --foreground >"$D/$1-$2/out" 2>&1 &
    else
        suri_yaml "$2" "$D/$1-$2" >"$D/$1-$2/s.yaml"
        LOG=$D/$1-$2/eve.json
        ip netns exec "$NS" suricata -c "$D/$1-$2/s.yaml" -S "$D/suricata.rules" -k none --af-packet=t0 \
            -l "$D/$1-$2" >"$D/$1-$2/out" 2>&1 &
    fi
    PID=$!
    PIDS="$PIDS $PID"
    i=0
    while [ -z "$(counters "$1" "$LOG" 2>/dev/null)" ] && [ $i -lt 600 ]; do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$(counters "$1" "$LOG" 2>/dev/null)" ] || { echo "bench tapcap: $1 did not start:"; tail -n 20 "$D/$1-$2/out"; return 1; }
    sleep 1
}

RESULT=""
for prog in $PROGS; do
    for nw in $WORKERS; do
        start "$prog" "$nw" || { RESULT="$RESULT$prog $nw failed 0 0
"; continue; }
        best=0 ppc=0
        k=0
        for rate in $RATES; do
            k=$((k + 1))
            settle "$prog" "$LOG"
            set -- $(counters "$prog" "$LOG")
            f0=$1 d0=$2 b0=$3
            speed=--pps=$rate
            [ "$rate" = top ] && speed=--topspeed
            c0=$(cputicks "$PID")
            rep=$(ip netns exec "$NS" tcpreplay -i r0 "$speed" --preload-pcap "$D/cap$k.pcap" 2>&1)
            sent=$(printf '%s\n' "$rep" | sed -n 's/^[[:space:]]*Actual: \([0-9]*\) packets.*/\1/p')
            got=$(printf '%s\n' "$rep" | sed -n 's/^[[:space:]]*Rated: .* \([0-9.]*\) pps.*/\1/p')
            settle "$prog" "$LOG" "$f0 $d0 $b0"
            c1=$(cputicks "$PID")
            set -- $(counters "$prog" "$LOG")
            df=$(($1 - f0)) dd=$(($2 - d0)) db=$(($3 - b0))
            if [ "$prog" = suricata ]; then exp=$EXP_suricata; else exp=$(eval echo \$EXP_qorgau_$k); fi
            ok=yes
            [ "${sent:-0}" -eq "$NPK" ] && [ "$df" -ge "$NPK" ] && [ "$dd" -eq 0 ] && [ "$db" -eq "$exp" ] || ok=no
            cpu=$(f "($c1 - $c0) / $HZ" 2)
            echo "bench tapcap: $prog workers=$nw rate=$rate: sent ${sent:-?} at ${got:-?} pps, frames $df, drops $dd, decisions $db of $exp, CPU $cpu s -> $ok"
            [ $ok = yes ] || break
            if awk -v a="${got:-0}" -v b="$best" 'BEGIN { exit !(a > b) }'; then
                best=$(f "${got:-0}")
                ppc=$(f "$NPK / ($cpu + 0.000001)")
            fi
        done
        stop "$PID"
        RESULT="$RESULT$prog $nw ok $best ${ppc:-0}
"
    done
done

# ---- report ----
# row PROG WORKERS [FIELD]: 4 = highest loss-free rate, 5 = packets per CPU-second there
row() { printf '%s' "$RESULT" | awk -v p="$1" -v w="$2" -v k="${3:-4}" '$1 == p && $2 == w && $3 == "ok" { print $k }'; }
{
    echo "## Tap capacity against Suricata (tests/bench/tapcap.sh, $(date -u +%Y-%m-%d))"
    echo
    echo "Capture: $(tail -n 1 "$D/gen.out"); $(wc -l <"$D/names.txt") listed names;" \
        "expected per copy: qorgau $EXP_qorgau_1 blocked flows, Suricata ${EXP_suricata:-n/a} alerts."
    echo "Rates tried (packets/s): $RATES (a rate is what tcpreplay achieved; when every step is" \
        "loss-free the figure is the replay's limit, not the program's). Load on the box before" \
        "the run: $LOAD0; $(nproc) CPUs shared with tcpreplay. CPU = utime + stime of all the" \
        "program's threads over the step."
    echo
    echo "| program | workers | highest loss-free rate (pps) | per worker (pps) | packets per CPU-second at that rate |"
    echo "|---|---|---|---|---|"
    for prog in $PROGS; do
        for nw in $WORKERS; do
            r=$(row "$prog" "$nw")
            echo "| $prog | $nw | ${r:-failed} | $([ -n "$r" ] && f "$r / $nw") | $(row "$prog" "$nw" 5) |"
        done
    done
    echo
    for prog in $PROGS; do
        [ "$prog" = suricata ] && continue
        for nw in $WORKERS; do
            q=$(row "$prog" "$nw"); s=$(row suricata "$nw")
            qc=$(row "$prog" "$nw" 5); sc=$(row suricata "$nw" 5)
            if [ -n "$q" ] && [ -n "$s" ] && [ "$s" != 0 ] && [ "$sc" != 0 ]; then
                echo "- $prog / Suricata, $nw worker(s): loss-free rate $(f "$q / $s" 2)x," \
                    "packets per CPU-second $(f "$qc / $sc" 2)x (target >= 3x per core)."
            fi
        done
    done
} >"$OUT/tapcap.md"
cat "$OUT/tapcap.md"
