# netbench.sh - shared start of the benchmarks in the namespaces of tests/netns/lib.sh, sourced
# by a script in tests/bench with BENCH (its name in messages) set and its arguments intact:
#   - sources tests/netns/lib.sh; prints "bench BENCH: SKIP (why)" and exits 0 when this
#     environment cannot build namespaces (not root, a tool missing)
#   - BIN (argument 1, default build/qorgau; absolute), OUT ($QG_BENCH_DIR, default
#     build/bench; created, absolute), HERE, ROOT, HZ
#   - TL: tests/bench/tlsload.c built into $OUT (it needs libssl, which the Makefile's tool rule
#     does not link)
#   - an EXIT trap that stops every PID started with qg_bg and removes the namespaces
#   - helpers: cl / fl CMD (run in the client / filter namespace), f EXPR (awk arithmetic, two
#     decimals), kv "k=v k=v" KEY, ticks (utime+stime of $PIDS in clock ticks)
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
ROOT=$(CDPATH= cd -- "$HERE/../.." && pwd)
QG_LIB=$ROOT/tests/netns/lib.sh
. "$QG_LIB"
BIN=${1:-$ROOT/build/qorgau}
OUT=${QG_BENCH_DIR:-$ROOT/build/bench}
HZ=$(getconf CLK_TCK)
PIDS=""

if ! why=$(qg_can_run); then
    echo "bench $BENCH: SKIP ($why)"
    exit 0
fi
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
[ -x "$BIN" ] || { echo "bench $BENCH: $BIN is not built" >&2; exit 2; }
mkdir -p "$OUT" || exit 2
OUT=$(CDPATH= cd -- "$OUT" && pwd)

TL=$OUT/tlsload
if [ ! -x "$TL" ] || [ "$HERE/tlsload.c" -nt "$TL" ]; then
    ${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 "$HERE/tlsload.c" -o "$TL" -lssl -lcrypto -lpthread ||
        { echo "bench $BENCH: cannot build tlsload" >&2; exit 2; }
fi

netbench_finish() {
    trap - EXIT INT TERM HUP
    qg_cleanup
}
trap netbench_finish EXIT
trap 'exit 1' INT TERM HUP
ulimit -n 65536 2>/dev/null || true

cl() { ip netns exec "$QG_CLI" "$@"; }
fl() { ip netns exec "$QG_FLT" "$@"; }
f() { awk "BEGIN { printf \"%.2f\", $1 }"; }
kv() { printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { v = $2; exit } END { print v == "" ? 0 : v }'; }
ticks() {
    for p in $PIDS; do
        sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null
    done | awk '{ t += $12 + $13 } END { print t + 0 }'
}
