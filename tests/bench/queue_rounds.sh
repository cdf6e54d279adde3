#!/bin/sh
# queue_rounds.sh - issue 11 §3's queue-mode targets over several runs of tests/bench/inline.sh
# (rows direct, qorgau_q, haproxy, nginx), each run's ratios and their medians. One run's
# whole-machine figures move by a factor of two with the shared VM's other load (the direct row
# is measured minutes before the peers'); the median of several runs is what docs/BENCHMARKS.md
# reports.
#
# Usage: sh tests/bench/queue_rounds.sh [ROUNDS [BIN]]   (root; about a minute a round)
# Env: as tests/bench/inline.sh (QG_BENCH_HS, QG_BENCH_GET, ...); QG_BENCH_ROUNDS_DIR keeps
#   each run's output (a temporary directory otherwise, removed at the end).
set -u
rounds=${1:-5}
bin=${2:-build/qorgau}
dir=${QG_BENCH_ROUNDS_DIR:-}
own=
if [ -z "$dir" ]; then
    dir=$(mktemp -d) || exit 2
    own=1
fi
here=$(dirname "$0")
r=0
while [ "$r" -lt "$rounds" ]; do
    r=$((r + 1))
    QG_BENCH_ROWS="direct qorgau_q haproxy nginx" sh "$here/inline.sh" "$bin" >"$dir/round$r.out" 2>&1 ||
        { echo "queue_rounds: round $r: inline.sh failed (exit $?); its output: $dir/round$r.out" >&2; own=; }
done
# each round: the four ratios of the issue 11 table ("1.02x (...)"), and the QUIC delay
for i in $(seq 1 "$rounds"); do
    f=$dir/round$i.out
    a=$(sed -n 's/^| added CPU per allowed TLS connection.*| \([-0-9.]*\)x .*/\1/p' "$f")
    b=$(sed -n 's/^| CPU per blocked connection <= 0.5x.*| \([-0-9.]*\)x .*/\1/p' "$f")
    t=$(sed -n 's/^| 1 MB throughput >= 0.98x direct | \([-0-9.]*\)x .*/\1/p' "$f")
    g=$(sed -n 's/^| added CPU per GB.*| \([-0-9.]*\)x .*/\1/p' "$f")
    q=$(sed -n 's/^| allowed QUIC Initial delayed.*| \([-0-9]*\) µs .*/\1/p' "$f")
    echo "${a:-nan} ${b:-nan} ${t:-nan} ${g:-nan} ${q:-nan}"
done >"$dir/ratios"
awk -v n="$rounds" '
function med(col,    i, j, t, v, m) {
    m = 0
    for (i = 1; i <= NR; i++) if (x[i, col] != "nan") v[++m] = x[i, col] + 0
    for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    if (!m) return "n/a"
    return sprintf("%.2f (%.2f-%.2f, %d runs)", v[int((m + 1) / 2)], v[1], v[m], m)
}
{ for (c = 1; c <= 5; c++) x[NR, c] = $c; printf "round %d: allowed %sx, blocked %sx, 1 MB %sx direct, per GB %sx, QUIC +%s us\n", NR, $1, $2, $3, $4, $5 }
END {
    printf "median of %d rounds (least-most):\n", n
    printf "  added CPU per allowed TLS connection / best peer (<= 0.25): %s\n", med(1)
    printf "  CPU per blocked connection / best peer (<= 0.5): %s\n", med(2)
    printf "  1 MB throughput / direct (>= 0.98): %s\n", med(3)
    printf "  added CPU per GB / best peer (<= 0.1): %s\n", med(4)
    printf "  allowed QUIC Initial delay, us (< 1000): %s\n", med(5)
}' "$dir/ratios"
[ -n "$own" ] && rm -rf "$dir"
exit 0
