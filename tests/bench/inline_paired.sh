# inline_paired.sh - issue 11 §3's queue-mode targets in interleaved rounds, sourced by
# tests/bench/inline.sh when QG_BENCH_PAIRED=ROUNDS (its namespaces, list, configurations and
# helpers set up, nothing measured yet).
#
# One run of inline.sh measures each row once, minutes apart: the whole-machine figures of the
# direct row and of the peers' rows are then taken under different load from other jobs on the
# shared VM, and "added over direct" moved by a factor of two between runs. Here Qorgau (queue
# mode), haproxy and nginx all stay up for the whole run and only the filter namespace's rules
# change between rows (none: direct; the queue rules; a REDIRECT to haproxy's or nginx's
# ports). Each round runs the four rows one after another, in an order that rotates round by
# round, each row doing the same three steps:
#   hs     QG_BENCH_HS allowed TLS connections (handshake + GET /small), 4 client threads
#   get    QG_BENCH_GET x 1 MB over TLS (a new connection each), 2 client threads
#   block  QG_BENCH_BLOCK_SECS seconds of blocked ClientHellos, 64 in flight (not direct)
# and each round gives the four ratios of the issue from that round's rows alone: added
# machine CPU per allowed connection (the row's minus the direct row's of the same round) over
# the best peer's, machine CPU per blocked connection over the best peer's, 1 MB throughput
# over direct's, added machine CPU per GB over the best peer's. The report is each round's
# ratios and their medians ($OUT/inline_paired.md).

rows_paired="direct qorgau_q haproxy nginx"
command -v haproxy >/dev/null 2>&1 || { echo "bench inline: paired rounds need haproxy (Debian package haproxy)" >&2; exit 2; }
[ -f "$NGX_STREAM" ] || { echo "bench inline: paired rounds need $NGX_STREAM (Debian package libnginx-mod-stream)" >&2; exit 2; }

# all three up at once; the queue rules loaded while Qorgau starts (it reads them at start)
divert queue "${QG_BENCH_Q_RULES:-}"
qg_bg "$D/qorgau_q.out" ip netns exec "$QG_FLT" "$BIN" run -c "$D/qorgau_q.conf" --foreground
qpid=$QG_LAST_PID
qg_wait_verdict "$BIN" "$D/qorgau_q.conf" "$B" block ||
    { echo "bench inline: qorgau (queue) did not start:"; tail -n 20 "$D/qorgau_q.out"; exit 1; }
qg_bg "$D/haproxy.out" ip netns exec "$QG_FLT" haproxy -db -f "$D/haproxy.cfg"
hpid=$QG_LAST_PID
qg_wait_port "$QG_FLT" 16443 >/dev/null || { echo "bench inline: haproxy did not start:"; tail -n 20 "$D/haproxy.out"; exit 1; }
qg_bg "$D/nginx.out" ip netns exec "$QG_FLT" nginx -c "$D/nginx-peer.conf"
npid=$QG_LAST_PID
qg_wait_port "$QG_FLT" 17443 >/dev/null ||
    { echo "bench inline: peer nginx did not start:"; tail -n 20 "$D/nginx.out" "$D/nginx-peer-error.log"; exit 1; }
sleep 0.5

# row NAME: its rules, and PIDS set to its processes
row_on() {
    case $1 in
    direct) divert none; PIDS="" ;;
    qorgau_q) divert queue "${QG_BENCH_Q_RULES:-}"; PIDS=$qpid ;;
    haproxy) divert redirect 16443 16080; PIDS=$(proxy_pids "$hpid") ;;
    nginx) divert redirect 17443 17080; PIDS=$(proxy_pids "$npid") ;;
    esac
}

# step_row ROUND NAME: the three steps through row NAME, one line in $D/paired:
#   ROUND NAME hs_ok hs_mticks hs_pticks get_bytes get_secs get_mticks get_pticks bl_done bl_mticks bl_pticks
step_row() {
    row_on "$2"
    m0=$(mticks); t0=$(ticks); r=$(cl "$TL" hs "$QG_SRV4" 443 "$D/allowed-sni.txt" "$N_HS" 4); t1=$(ticks); m1=$(mticks)
    hs="$(kv "$r" ok) $((m1 - m0)) $((t1 - t0))"
    [ "$(kv "$r" fail)" -gt 0 ] && echo "bench inline: round $1 $2: hs: $r"
    m0=$(mticks); t0=$(ticks); r=$(cl "$TL" get "$QG_SRV4" 443 /1m.bin "$N_GET" 2); t1=$(ticks); m1=$(mticks)
    get="$(kv "$r" bytes) $(kv "$r" secs) $((m1 - m0)) $((t1 - t0))"
    [ "$(kv "$r" fail)" -gt 0 ] && echo "bench inline: round $1 $2: get: $r"
    bl="0 0 0"
    if [ "$2" != direct ]; then
        m0=$(mticks); t0=$(ticks); r=$(cl "$TL" block "$QG_SRV4" 443 "$D/blocked-sni.txt" "$BLOCK_SECS" 64); t1=$(ticks); m1=$(mticks)
        bl="$(kv "$r" done) $((m1 - m0)) $((t1 - t0))"
        [ "$(kv "$r" serverhello)" -gt 0 ] && echo "bench inline: round $1 $2: block: a listed name served: $r"
    fi
    echo "$1 $2 $hs $get $bl" >>"$D/paired"
    echo "bench inline: round $1 $2: $hs | $get | $bl"
}

: >"$D/paired"
k=0
while [ "$k" -lt "$QG_BENCH_PAIRED" ]; do
    k=$((k + 1))
    case $((k % 4)) in
    1) order="direct qorgau_q haproxy nginx" ;;
    2) order="qorgau_q haproxy nginx direct" ;;
    3) order="haproxy nginx direct qorgau_q" ;;
    0) order="nginx direct qorgau_q haproxy" ;;
    esac
    for name in $order; do
        step_row "$k" "$name"
        for p in $PIDS; do kill -0 "$p" 2>/dev/null || { echo "bench inline: $name: process $p exited"; cat "$D/$name.out"; exit 1; }; done
    done
done
divert none
qg_stop "$qpid"
qg_stop "$hpid"
qg_stop "$npid"

# per round: the figures of each row, then the issue's four ratios (a round whose best peer
# added nothing measurable - its denominator not above 0 - gives no ratio for that target)
awk -v hz="$HZ" '
{ k = $1; n = $2; seen[k] = 1
  hs[k, n] = ($3 > 0) ? $4 / hz * 1e6 / $3 : 0
  mbs[k, n] = ($7 > 0) ? $6 / $7 / 1e6 : 0
  gb[k, n] = ($6 > 0) ? $8 / hz / ($6 / 1e9) : 0
  bl[k, n] = ($10 > 0) ? $11 / hz * 1e6 / $10 : 0 }
function min2(a, b) { return a < b ? a : b }
function r(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "nan" }
END {
  for (k in seen) {
    ah = hs[k, "qorgau_q"] - hs[k, "direct"]
    ap = min2(hs[k, "haproxy"], hs[k, "nginx"]) - hs[k, "direct"]
    bq = bl[k, "qorgau_q"]; bp = min2(bl[k, "haproxy"], bl[k, "nginx"])
    gq = gb[k, "qorgau_q"] - gb[k, "direct"]
    gp = min2(gb[k, "haproxy"], gb[k, "nginx"]) - gb[k, "direct"]
    printf "%d %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.2f %.2f %s %s %s %s\n", k, hs[k, "direct"], ah, ap,
      bq, bp, mbs[k, "direct"], mbs[k, "qorgau_q"], gq, gp, r(ah, ap), r(bq, bp),
      r(mbs[k, "qorgau_q"], mbs[k, "direct"]), r(gq, gp)
  } }' "$D/paired" | sort -n >"$D/paired.rounds"

pmed() { # COLUMN of $D/paired.rounds -> median over the rounds that have it (empty: none)
    awk -v c="$1" '$c != "nan" { print $c }' "$D/paired.rounds" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) printf "%.2f", a[(NR + 1) / 2]; else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
{
    echo "Queue mode in interleaved rounds (tests/bench/inline.sh, QG_BENCH_PAIRED=$QG_BENCH_PAIRED): $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r), $(wc -l <"$D/list.txt") listed names;"
    echo "each round: $N_HS allowed TLS connections, $N_GET x 1 MB, ${BLOCK_SECS}s of blocked ones (64 in flight) per row. Load at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "| round | direct: machine CPU per allowed conn, µs | added per allowed conn: queue / best peer, µs | machine CPU per blocked conn: queue / best peer, µs | 1 MB: direct / queue, MB/s | added per GB: queue / best peer, s | allowed ratio | blocked ratio | 1 MB ratio | per-GB ratio |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    awk '{ printf "| %d | %s | %s / %s | %s / %s | %s / %s | %s / %s | %sx | %sx | %sx | %sx |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 }' "$D/paired.rounds"
    echo
    echo "| target (issue 11 §3, whole-machine CPU), median of the rounds' ratios | measured | |"
    echo "|---|---|---|"
    m=$(pmed 11); echo "| added CPU per allowed TLS connection <= 0.25x best peer's | ${m:-n/a}x | $(target "$m" '<=' 0.25) |"
    m=$(pmed 12); echo "| CPU per blocked connection <= 0.5x best peer's | ${m:-n/a}x | $(target "$m" '<=' 0.5) |"
    m=$(pmed 13); echo "| 1 MB throughput >= 0.98x direct | ${m:-n/a}x | $(target "$m" '>=' 0.98) |"
    m=$(pmed 14); echo "| added CPU per GB <= 0.1x best peer's | ${m:-n/a}x | $(target "$m" '<=' 0.1) |"
} >"$OUT/inline_paired.md"
echo
cat "$OUT/inline_paired.md"
exit 0
