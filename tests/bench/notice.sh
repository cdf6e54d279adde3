#!/bin/sh
# notice.sh - the notice page server under load: the libmicrohttpd server of this tree against
# the hand-written epoll server it replaced, built from an older commit in the same invocation
# (the machine is shared: only ratios taken in one run mean anything).
#
# Usage: sh tests/bench/notice.sh [BUILD_DIR]      (make bench passes build; needs
#        BUILD_DIR/libqorgau.a, i.e. `make`)
# Env:   QG_NOTICE_OLD_REV  commit of the old server (default 3b58ccd, the last one with it)
#        QG_NOTICE_SECONDS  seconds per run (5)      QG_NOTICE_RUNS  runs per cell, best kept (3)
#        QG_NOTICE_CONNS    concurrent connections, space separated ("64 512")
# For each server and variant (keep-alive: requests follow on one connection; close: a new
# connection per request) noticeload drives N connections on 127.0.0.1; the server's CPU time
# (user + sys of every thread, /proc/PID/stat) over the run gives CPU per request. Prints a
# markdown table: req/s, server CPU µs per request, and new/old ratios.
set -u

BUILD=${1:-build}
OLD_REV=${QG_NOTICE_OLD_REV:-3b58ccd}
SECS=${QG_NOTICE_SECONDS:-5}
RUNS=${QG_NOTICE_RUNS:-3}
CONNS=${QG_NOTICE_CONNS:-64 512}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$BUILD/bench/notice
mkdir -p "$OUT" || exit 2
LIBS=$(pkg-config --libs libpcap libidn2 jansson liburcu libnghttp2 libcrypto libcap libmicrohttpd) || exit 2
LIBS="$LIBS -lpthread -lm"

[ -f "$BUILD/libqorgau.a" ] || { echo "bench notice: $BUILD/libqorgau.a missing (run make)" >&2; exit 2; }
cc -O2 -std=c11 -D_GNU_SOURCE -o "$OUT/noticeload" "$HERE/noticeload.c" ||
    { echo "bench notice: cannot build noticeload" >&2; exit 2; }
cc -O2 -std=c11 -D_GNU_SOURCE -I"$ROOT" -o "$OUT/host_new" "$HERE/notice_host.c" "$BUILD/libqorgau.a" $LIBS ||
    { echo "bench notice: cannot build the new host" >&2; exit 2; }

# the old tree, exported once per commit; its library built with its own Makefile
OLD=$OUT/old-$OLD_REV
if [ ! -f "$OLD/build/libqorgau.a" ]; then
    rm -rf "$OLD" && mkdir -p "$OLD" || exit 2
    git -C "$ROOT" archive "$OLD_REV" | tar -x -C "$OLD" ||
        { echo "bench notice: cannot export $OLD_REV" >&2; exit 2; }
    touch "$OLD/.deps-installed" # the packages are this tree's business
    make -C "$OLD" -j2 build/libqorgau.a >"$OUT/old-build.log" 2>&1 ||
        { echo "bench notice: old tree does not build (see $OUT/old-build.log)" >&2; exit 2; }
fi
cc -O2 -std=c11 -D_GNU_SOURCE -DNOTICE_HOST_OLD -I"$OLD" -o "$OUT/host_old" "$HERE/notice_host.c" \
    "$OLD/build/libqorgau.a" $LIBS || { echo "bench notice: cannot build the old host" >&2; exit 2; }

TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

hostpid=""
cleanup() { [ -n "$hostpid" ] && kill "$hostpid" 2>/dev/null; rm -f "$OUT/port"; }
trap cleanup EXIT
trap 'exit 2' INT TERM

# one_run SERVER MODE CONNS -> "rps cpu_us_per_req errors non200"
one_run() {
    rm -f "$OUT/port"
    "$OUT/host_$1" 127.0.0.1:0 >"$OUT/port" &
    hostpid=$!
    i=0
    while [ ! -s "$OUT/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    port=$(cat "$OUT/port")
    flag=""
    [ "$2" = close ] && flag=--close
    c0=$(cpu_ticks $hostpid)
    line=$(timeout $((SECS + 30)) "$OUT/noticeload" "$port" --conns "$3" --seconds "$SECS" $flag)
    c1=$(cpu_ticks $hostpid)
    kill "$hostpid"
    wait "$hostpid" 2>/dev/null
    hostpid=""
    echo "$line" | awk -v c="$((c1 - c0))" -v tck="$TCK" \
        '{ r = $2; printf "%d %.1f %d %d\n", $10, r ? c * 1e6 / tck / r : 0, $4, $6 }'
}

echo "bench notice: old = $OLD_REV (hand-written epoll HTTP/1 + h2c), new = this tree (libmicrohttpd);"
echo "  ${SECS}s per run, best of $RUNS; $(nproc) CPUs; load client on the same host"
echo
echo "| variant | conns | old req/s | new req/s | new/old req/s | old CPU µs/req | new CPU µs/req | new/old CPU | errors old/new |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
for mode in keepalive close; do
    for n in $CONNS; do
        bo=0 bn=0 co=0 cn=0 eo=0 en=0
        r=0
        while [ $r -lt "$RUNS" ]; do
            for srv in old new; do
                set -- $(one_run $srv $mode "$n")
                rps=$1 cpu=$2 err=$(($3 + $4))
                if [ $srv = old ]; then
                    [ "$rps" -gt "$bo" ] && { bo=$rps; co=$cpu; }
                    eo=$((eo + err))
                else
                    [ "$rps" -gt "$bn" ] && { bn=$rps; cn=$cpu; }
                    en=$((en + err))
                fi
            done
            r=$((r + 1))
        done
        awk -v m="$mode" -v n="$n" -v bo="$bo" -v bn="$bn" -v co="$co" -v cn="$cn" -v eo="$eo" -v en="$en" \
            'BEGIN { rr = bo ? bn / bo : 0; rc = co > 0 ? cn / co : 0
                     printf "| %s | %d | %d | %d | %.2f | %.1f | %.1f | %.2f | %d/%d |\n", m, n, bo, bn, rr, co, cn, rc, eo, en }'
    done
done
