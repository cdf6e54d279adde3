#!/bin/sh
# syscalls.sh - system calls per connection, CPU per connection and keep-alive throughput of
# `qorgau run` in inline mode against nginx stream (ssl_preread + map) and http (map, 302),
# ONE worker each, both diverted by nftables REDIRECT in the same namespaces
# (tests/netns/lib.sh: client ns -> filter ns -> server ns with nginx), same 100k-name list.
#
# Usage: sh tests/bench/syscalls.sh [QORGAU_BIN]       (root; else prints SKIP and exits 0)
# Env:   QG_BENCH_DIR (build/bench)  QG_SC_NAMES (100000)  QG_SC_TRACE (300 allowed TLS
#        connections under strace)  QG_SC_BLOCKS (200 blocked HTTP requests under strace)
#        QG_SC_CPU (1500 allowed TLS connections for CPU)  QG_SC_GETS (200 x 1 MB per connection)
#        QG_SC_ROUNDS (5 rounds of the get step)
#
# For each proxy (and a direct run without one, for throughput):
#   allowed  QG_SC_TRACE connections, one at a time: TLS 1.3 handshake with an allowed SNI +
#            GET /small (Connection: close), with `strace -c` attached to the proxy's worker
#            (qorgau: the thread that used the most CPU in the cpu step; nginx: its worker
#            process) -> calls per connection by kind. The same span idle is traced next and
#            subtracted (timers).
#   blocked  QG_SC_BLOCKS plain HTTP requests naming a listed host, one at a time (curl):
#            qorgau answers 302 (inline.http_block = redirect), nginx `return 302`
#   cpu      QG_SC_CPU allowed TLS connections, 4 client threads, no strace: utime+stime of the
#            proxy's processes per connection (/proc/PID/stat)
#   get      4 keep-alive HTTPS connections (curl, one per connection) fetching 1 MB objects
#            QG_SC_GETS times each -> MB/s, against the same without a proxy. QG_SC_ROUNDS
#            rounds, each round running direct, qorgau and nginx one after another (both
#            proxies stay up; only the REDIRECT rule changes; the order rotates round by round)
#            -> each round's ratio to that round's direct run, and their median: on a shared
#            machine one run of each moves by more than the difference being measured
# Prints a markdown report and keeps it in $QG_BENCH_DIR/syscalls.md. Everything started is
# stopped by PID and every namespace removed in the EXIT trap. Takes about a minute.
set -u
BENCH=syscalls
. "$(dirname -- "$0")/netbench.sh"
NAMES=${QG_SC_NAMES:-100000}
N_TRACE=${QG_SC_TRACE:-300}
N_BLOCK=${QG_SC_BLOCKS:-200}
N_CPU=${QG_SC_CPU:-1500}
N_GETS=${QG_SC_GETS:-200}
ROUNDS=${QG_SC_ROUNDS:-5}
TRACED=""
NGX_STREAM=/usr/lib/nginx/modules/ngx_stream_module.so
B=blocked.test
for t in strace curl; do
    command -v $t >/dev/null 2>&1 || { echo "bench syscalls: SKIP ($t not installed)"; exit 0; }
done
[ -f "$NGX_STREAM" ] || { echo "bench syscalls: SKIP ($NGX_STREAM missing: libnginx-mod-stream)"; exit 0; }

qg_setup_net || { echo "bench syscalls: namespace setup failed" >&2; exit 1; }
qg_start_nginx || { echo "bench syscalls: server nginx did not start" >&2; exit 1; }
D=$QG_DIR
head -c 1048576 /dev/urandom >"$D/www/1m.bin"
cl sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
fl sysctl -qw net.ipv4.ip_local_reserved_ports="15001-15002,17080,17443,18080"

# the list: the blocked name and NAMES-1 others; allowed SNIs are none of them
awk -v n="$NAMES" -v b="$B" 'BEGIN { print b; for (i = 1; i < n; i++) printf "n%d-%x.list%d.kz\n", i, (i * 7919) % 4096, i % 89 }' >"$D/list.txt"
awk -v n="$N_CPU" 'BEGIN { for (i = 1; i <= n; i++) printf "a%d.ok%d.example\n", i, i % 211 }' >"$D/sni.txt"

cat >"$D/qorgau.conf" <<CONF
mode = inline
workers = 1
user = root
state_dir = $D/state
rules = $D/list.txt
inline.tproxy_port = 15001
inline.redirect_port = 15002
inline.https_block = rst
inline.http_block = redirect
notice.url = http://notice.test/
notice.listen = 127.0.0.1:18080
log.file = $D/qorgau.log
CONF

{
    echo "load_module $NGX_STREAM; user root; daemon off; worker_processes 1;"
    echo "pid $D/ngx.pid; error_log $D/ngx-error.log error; worker_rlimit_nofile 65536;"
    echo "events { worker_connections 30000; }"
    echo "stream { map_hash_max_size 262144; map_hash_bucket_size 128;"
    echo "  map \$ssl_preread_server_name \$up { hostnames; default $QG_SRV4:443; include $D/s.map; }"
    echo "  server { listen 17443 backlog=4096; ssl_preread on; proxy_pass \$up; } }"
    echo "http { access_log off; client_body_temp_path $D/nb; proxy_temp_path $D/np;"
    echo "  fastcgi_temp_path $D/nf; uwsgi_temp_path $D/nu; scgi_temp_path $D/ns;"
    echo "  map_hash_max_size 262144; map_hash_bucket_size 128;"
    echo "  map \$host \$blk { hostnames; default 0; include $D/h.map; }"
    echo "  upstream origin { server $QG_SRV4:80; keepalive 64; }"
    echo "  server { listen 17080 backlog=4096; location / {"
    echo "    if (\$blk) { return 302 http://notice.test/; }"
    echo "    proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection \"\"; } } }"
} >"$D/ngx.conf"
sed 's/.*/.& 127.0.0.1:9;/' "$D/list.txt" >"$D/s.map"
sed 's/.*/.& 1;/' "$D/list.txt" >"$D/h.map"

redirect_to() { # P443 P80, or nothing for no diversion
    fl nft delete table ip qg_sc 2>/dev/null
    [ $# -eq 2 ] || return 0
    fl nft -f - <<NFT
table ip qg_sc {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "f0" tcp dport 443 redirect to :$1
        iifname "f0" tcp dport 80 redirect to :$2
    }
}
NFT
}

# busiest PID: the thread of PID with the most utime+stime (a qorgau inline worker under load)
busiest() {
    for t in /proc/$1/task/*; do
        echo "$(sed 's/^.*) //' "$t/stat" | awk '{ print $12 + $13 }') ${t##*/}"
    done | sort -n | tail -n 1 | cut -d' ' -f2
}

# trace NAME WHAT CMD...: strace -c on $TRACED while CMD runs, then the same span idle; writes
# "syscall calls" lines (load minus idle) to $D/sc.NAME.WHAT
trace() {
    name=$1; what=$2; shift 2
    tp=""
    for p in $TRACED; do tp="$tp -p $p"; done
    # shellcheck disable=SC2086
    strace -q -c -o "$D/st.load" $tp &
    spid=$!
    sleep 1
    s0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    s1=$(date +%s.%N)
    kill -INT $spid; wait $spid 2>/dev/null
    # shellcheck disable=SC2086
    strace -q -c -o "$D/st.idle" $tp &
    spid=$!
    sleep 1
    sleep "$(f "$s1 - $s0")"
    kill -INT $spid; wait $spid 2>/dev/null
    awk 'FNR == 1 { k++ } $1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { c[$NF] += (k == 1 ? $4 : -$4) }
         END { for (s in c) if (c[s] > 0) print s, c[s] }' "$D/st.load" "$D/st.idle" |
        sort >"$D/sc.$name.$what"
}

allowed_one_by_one() { cl "$TL" hs "$QG_SRV4" 443 "$D/sni.txt" "$N_TRACE" 1; }
blocked_one_by_one() {
    i=0
    while [ $i -lt "$N_BLOCK" ]; do
        cl curl -s -o /dev/null -H "Host: $B" "http://$QG_SRV4/"
        i=$((i + 1))
    done
}
# get_keepalive: 4 connections, each fetching N_GETS x 1 MB in a row; prints "bytes secs"
get_keepalive() {
    urls=""
    i=0
    while [ $i -lt "$N_GETS" ]; do urls="$urls -o /dev/null https://allowed.test/1m.bin"; i=$((i + 1)); done
    s0=$(date +%s.%N)
    for k in 1 2 3 4; do
        # shellcheck disable=SC2086
        cl curl -sk --resolve "allowed.test:443:$QG_SRV4" -w '%{size_download}\n' $urls >"$D/get.$k" &
        eval "g$k=\$!"
    done
    wait $g1 $g2 $g3 $g4
    s1=$(date +%s.%N)
    echo "$(cat "$D/get.1" "$D/get.2" "$D/get.3" "$D/get.4" | awk '{ s += $1 } END { print s + 0 }') $(f "$s1 - $s0")"
}

# divert NAME: the REDIRECT rule of row NAME (direct: none), and PIDS set to its processes
divert() {
    case $1 in
    direct) redirect_to; PIDS="" ;;
    qorgau) redirect_to 15002 15002; PIDS=$qpid ;;
    nginx) redirect_to 17443 17080; PIDS="$npid $(pgrep -P "$npid" | tr '\n' ' ')" ;;
    esac
}

# get_round ROUND NAME: one get step through row NAME -> "ROUND NAME bytes secs ticks" in
# $D/rounds (ticks: the proxy's CPU over the step)
get_round() {
    divert "$2"
    g0=$(ticks)
    r=$(get_keepalive)
    g1=$(ticks)
    echo "bench syscalls: round $1 $2: get ${r% *} bytes in ${r#* } s, proxy ticks $((g1 - g0))"
    echo "$1 $2 $r $((g1 - g0))" >>"$D/rounds"
}

measure() { # NAME: CPU per connection and the traces
    name=$1
    divert "$name"
    t0=$(ticks); r=$(cl "$TL" hs "$QG_SRV4" 443 "$D/sni.txt" "$N_CPU" 4); t1=$(ticks)
    echo "bench syscalls: $name: cpu $r, ticks $((t1 - t0))"
    eval "CPU_$name=$(f "($t1 - $t0) / $HZ * 1e6 / ($(kv "$r" ok) + 0.000001)")"
    [ "$name" = qorgau ] && TRACED=$(busiest "$qpid")
    trace "$name" allowed allowed_one_by_one
    trace "$name" blocked blocked_one_by_one
}

# both proxies up for the whole run: the rows differ only by the REDIRECT rule
qg_bg "$D/qorgau.out" ip netns exec "$QG_FLT" "$BIN" run -c "$D/qorgau.conf" --foreground
qpid=$QG_LAST_PID
qg_wait_port "$QG_FLT" 15002 >/dev/null || { echo "bench syscalls: qorgau did not start"; tail -n 20 "$D/qorgau.out"; exit 1; }
qg_bg "$D/ngx.out" ip netns exec "$QG_FLT" nginx -c "$D/ngx.conf"
npid=$QG_LAST_PID
qg_wait_port "$QG_FLT" 17443 >/dev/null || { echo "bench syscalls: nginx did not start"; tail -n 20 "$D/ngx.out" "$D/ngx-error.log"; exit 1; }
sleep 0.5

TRACED=$qpid
measure qorgau
TRACED=$(pgrep -P "$npid" | tr '\n' ' ')
measure nginx

: >"$D/rounds"
k=0
while [ "$k" -lt "$ROUNDS" ]; do
    k=$((k + 1))
    case $((k % 3)) in
    1) order="direct qorgau nginx" ;;
    2) order="qorgau nginx direct" ;;
    0) order="nginx direct qorgau" ;;
    esac
    for name in $order; do get_round "$k" "$name"; done
done
redirect_to
qg_stop "$qpid"
qg_stop "$npid"

# medians over the rounds: MB/s of each row, each proxy's MB/s / that round's direct, its CPU
# per GB relayed
med() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) printf "%.2f", a[(NR + 1) / 2]; else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for name in direct qorgau nginx; do
    eval "MBS_$name=$(awk -v n="$name" '$2 == n { print $3 / $4 / 1e6 }' "$D/rounds" | med)"
done
for name in qorgau nginx; do
    eval "RATIO_$name=$(awk -v n="$name" '{ mbs[$1, $2] = $3 / $4 / 1e6 } $2 == n { r[$1] = 1 }
        END { for (k in r) if (mbs[k, "direct"] > 0) print mbs[k, n] / mbs[k, "direct"] }' "$D/rounds" | med)"
    eval "GB_$name=$(awk -v n="$name" -v hz="$HZ" '$2 == n && $3 > 0 { print $5 / hz / ($3 / 1e9) }' "$D/rounds" | med)"
done

# ---- report ----
per() { # FILE SYSCALL N -> calls per connection
    c=$(awk -v s="$2" '$1 == s { print $2 }' "$1" 2>/dev/null)
    f "${c:-0} / $3"
}
{
    echo "## Inline proxy system calls (tests/bench/syscalls.sh, $(date -u +%Y-%m-%d), one worker each, REDIRECT)"
    echo
    echo "Load on the box: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min), $(nproc) CPUs."
    for what in allowed blocked; do
        n=$N_TRACE; [ $what = blocked ] && n=$N_BLOCK
        echo
        if [ $what = allowed ]; then
            echo "Allowed TLS connection (handshake + GET /small, Connection: close), calls per connection over $n:"
        else
            echo "Blocked HTTP request (302), calls per request over $n:"
        fi
        echo
        echo "| system call | qorgau | nginx |"
        echo "|---|---|---|"
        cat "$D/sc.qorgau.$what" "$D/sc.nginx.$what" | awk '{ print $1 }' | sort -u | while read -r s; do
            echo "| $s | $(per "$D/sc.qorgau.$what" "$s" $n) | $(per "$D/sc.nginx.$what" "$s" $n) |"
        done
        tq=$(awk '{ s += $2 } END { print s + 0 }' "$D/sc.qorgau.$what")
        tn=$(awk '{ s += $2 } END { print s + 0 }' "$D/sc.nginx.$what")
        echo "| **total** | **$(f "$tq / $n")** | **$(f "$tn / $n")** |"
    done
    echo
    echo "| measure | qorgau | nginx | direct |"
    echo "|---|---|---|---|"
    echo "| CPU per allowed TLS connection ($N_CPU, 4 client threads) | ${CPU_qorgau:-n/a} us | ${CPU_nginx:-n/a} us | |"
    echo "| 4 keep-alive HTTPS connections x $N_GETS x 1 MB, median of $ROUNDS rounds | ${MBS_qorgau:-n/a} MB/s | ${MBS_nginx:-n/a} MB/s | ${MBS_direct:-n/a} MB/s |"
    echo "| proxy CPU per GB relayed, median | ${GB_qorgau:-n/a} s | ${GB_nginx:-n/a} s | |"
    echo
    echo "Throughput, MB/s, round by round (each proxy's ratio to the same round's direct run):"
    echo
    echo "| round | direct | qorgau | nginx |"
    echo "|---|---|---|---|"
    awk '{ mbs[$1, $2] = $3 / $4 / 1e6; if ($1 > n) n = $1 }
        END { for (k = 1; k <= n; k++) { d = mbs[k, "direct"]
            printf "| %d | %.0f | %.0f (%.2fx) | %.0f (%.2fx) |\n", k, d, mbs[k, "qorgau"], (d > 0 ? mbs[k, "qorgau"] / d : 0), mbs[k, "nginx"], (d > 0 ? mbs[k, "nginx"] / d : 0) } }' "$D/rounds"
    echo
    echo "CPU per connection qorgau/nginx: $(f "${CPU_qorgau:-0} / (${CPU_nginx:-0} + 0.000001)")x;" \
        "throughput qorgau/direct: median ${RATIO_qorgau:-n/a}x of $ROUNDS rounds," \
        "nginx/direct: median ${RATIO_nginx:-n/a}x."
} >"$OUT/syscalls.md"
cat "$OUT/syscalls.md"
