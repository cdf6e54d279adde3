#!/bin/sh
# inline.sh - in-path benchmark: a direct connection, `qorgau run` in inline mode (TPROXY),
# `qorgau run` in queue mode (NFQUEUE, deploy/iptables-queue.rules), haproxy (TCP mode, req.ssl_sni against the list in an exact-match tree) and nginx (stream +
# ssl_preread + map, http + map), side by side in ONE run, same 100k-name blocklist, same
# namespaces (tests/netns/lib.sh: client ns -> filter ns -> server ns with nginx TLS 1.3).
#
# Usage: sh tests/bench/inline.sh [QORGAU_BIN]        (root; else prints SKIP and exits 0)
# Env:   QG_BENCH_DIR (build/bench)  QG_BENCH_NAMES (100000)  QG_BENCH_HS (3000 allowed TLS
#        connections)  QG_BENCH_BLOCK_SECS (4)  QG_BENCH_GET (300 x 1 MB)  QG_BENCH_IDLE (5000)
#        QG_BENCH_QUIC (200 timed QUIC Initials)  QG_BENCH_ROWS (every row: "direct qorgau
#        qorgau_r qorgau_q haproxy nginx"; direct always runs, the others' added CPU is over it)
#        QG_BENCH_Q0_BIN, QG_BENCH_Q0_RULES: a second queue-mode row, qorgau_q0 (before qorgau_q),
#        with another binary and iptables rule set - a baseline measured in the same run;
#        QG_BENCH_Q_RULES: qorgau_q's rule set (deploy/iptables-queue.rules);
#        QG_BENCH_Q0_CONF, QG_BENCH_Q_CONF: configuration lines added for qorgau_q0 / qorgau_q
#        only (with QG_BENCH_Q0_BIN the same binary, the cost of a setting: "ip.kernel_drop =
#        off" in one, "ip.kernel_drop = on" in the other, swapped between invocations);
#        QG_BENCH_IPS (0): IP entries (addresses in 100.64.0.0/10, no traffic goes there) added
#        to Qorgau's rules, so that the kernel drop table (docs/queue.md) holds that many
#        QG_BENCH_PAIRED (0): ROUNDS of the queue-mode targets with direct, qorgau_q, haproxy and
#        nginx interleaved, all up at once and only the rules changing between rows, instead
#        of the rows one after another (tests/bench/inline_paired.sh; about 20 s a round at
#        QG_BENCH_HS=1000 QG_BENCH_GET=200 QG_BENCH_BLOCK_SECS=2)
#
# For every proxy, with utime+stime of all its processes read from /proc/PID/stat around each
# step (the proxy's own CPU, not the client's or the server's):
#   hs     QG_BENCH_HS connections, 4 client threads: full TLS 1.3 handshake with a different
#          allowed SNI each + GET /small (Connection: close)  -> conns/s, proxy CPU per conn
#   block  QG_BENCH_BLOCK_SECS seconds, 64 in flight: a ClientHello naming a listed name (half
#          of them a subdomain of one) -> blocked conns/s, what the client saw, CPU per block
#   get    QG_BENCH_GET transfers of a 1 MB file over TLS, 2 client threads -> MB/s, CPU per GB
#   probes the evasion probes of ../shared/EVASION.md (tests/bench/tlsload.c `probe`), each
#          with the listed name (must not reach the server) and an allowed control (must)
#   idle   QG_BENCH_IDLE TLS connections (handshake + one kept-alive GET) held open -> Rss and
#          Pss growth of the proxy's processes (/proc/PID/smaps_rollup) per connection
#   quic   (direct and queue rows) QG_BENCH_QUIC allowed QUIC Initials to a UDP echo on the
#          server, one at a time (tests/tools/quic_initial time) -> median round trip; the queue
#          row's minus the direct row's is the delay queue mode adds to an allowed Initial
# Around hs, block and get the whole machine's CPU is read too (/proc/stat, all CPUs: user,
# nice, system, irq, softirq, steal): queue mode's work is mostly the kernel's (netfilter,
# the queue, conntrack), which no process's utime/stime shows. Each row's machine CPU per
# connection and per GB is reported, and what it adds over the direct row (the same clients and
# server without a filter). The machine is shared: other load shows in these figures, so
# compare rows of one invocation. Around the same steps the packets the filter's NFQUEUEs took
# are counted (the kernel's id_sequence): queue mode's crossings per connection, which the
# load does not move.
# Interception: qorgau by nftables TPROXY (deploy/nftables-tproxy.nft), then once more by
# REDIRECT like the peers; haproxy and nginx by nftables REDIRECT to their own ports (neither
# listens with IP_TRANSPARENT here). The targets compare the TPROXY row. Prints a
# markdown report and keeps it in $QG_BENCH_DIR/inline.md. Everything started is stopped by
# PID and every namespace removed in the EXIT trap. Takes about 3-4 minutes.
set -u
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
BENCH=inline
# namespaces library, BIN, OUT, tlsload, the EXIT trap, cl / fl / f (tests/bench/netbench.sh)
. "$HERE/netbench.sh"
NAMES=${QG_BENCH_NAMES:-100000}
N_HS=${QG_BENCH_HS:-3000}
BLOCK_SECS=${QG_BENCH_BLOCK_SECS:-4}
N_GET=${QG_BENCH_GET:-300}
N_IDLE=${QG_BENCH_IDLE:-5000}
N_QUIC=${QG_BENCH_QUIC:-200}
ROWS=${QG_BENCH_ROWS:-direct qorgau qorgau_r qorgau_q haproxy nginx}
QI=${QG_TOOLS:-$ROOT/build/tools}/quic_initial
want() { case " $ROWS " in *" $1 "*) return 0 ;; esac; return 1; }
NGX_STREAM=/usr/lib/nginx/modules/ngx_stream_module.so
B=blocked.test
A=allowed.test


qg_setup_net || { echo "bench inline: namespace setup failed" >&2; exit 1; }
qg_start_nginx || { echo "bench inline: server nginx did not start" >&2; exit 1; }
head -c 1048576 /dev/urandom >"$QG_DIR/www/1m.bin"
cl sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
# the proxies connect onward from the filter namespace: keep their ephemeral ports off the
# ports the proxies listen on, or a later proxy cannot bind after an earlier one's connections
qg_in "$QG_FLT" sysctl -qw net.ipv4.ip_local_reserved_ports="8080,15001-15002,16080,16443,17080,17443,18080"
D=$QG_DIR

# ---- the blocklist and the names the clients use ----
awk -v n="$NAMES" -v b="$B" 'BEGIN {
    split("kz ru com net org info xyz io top online site shop", t, " ")
    split("casino bet news film torrent proxy vpn shop stream book music video game lottery poker", w, " ")
    print b
    for (i = 1; i < n; i++) {
        if (i % 5 == 0)
            printf "m%x.%s%d.%s\n", (i * 2654435761) % 65536, w[i % 15 + 1], i, t[i % 12 + 1]
        else
            printf "%s%d-%x.%s\n", w[i % 15 + 1], i, (i * 40503) % 65536, t[i % 12 + 1]
    }
}' >"$D/list.txt"
awk 'NR % 25 == 2 { print ((NR % 50 == 2) ? "www." : "") $0 }' "$D/list.txt" >"$D/blocked-sni.txt"
awk -v n="$N_HS" 'BEGIN { for (i = 1; i <= n; i++) printf "s%d.site%d.example\n", i, i % 997 }' >"$D/allowed-sni.txt"
sed 's/.*/.& 127.0.0.1:9;/' "$D/list.txt" >"$D/ngx-stream.map"
sed 's/.*/.& 1;/' "$D/list.txt" >"$D/ngx-http.map"
echo "bench inline: $(wc -l <"$D/list.txt") listed names, $(wc -l <"$D/blocked-sni.txt") blocked SNIs (half subdomains), $(wc -l <"$D/allowed-sni.txt") allowed SNIs"

# ---- proxy configurations ----
cat >"$D/qorgau.conf" <<CONF
mode = inline
workers = 2
user = root
state_dir = $D/state
rules = $D/list.txt
inline.tproxy_port = 15001
inline.redirect_port = 15002
inline.https_block = rst
inline.http_block = redirect
inline.quic = drop-all
notice.url = http://notice.test/
notice.listen = 127.0.0.1:18080
log.file = $D/qorgau.log
CONF
if [ "${QG_BENCH_IPS:-0}" -gt 0 ]; then
    awk -v n="$QG_BENCH_IPS" 'BEGIN { for (i = 0; i < n; i++) printf "100.%d.%d.%d\n", 64 + int(i / 65536) % 64, int(i / 256) % 256, i % 256 }' >"$D/ips.txt"
    echo "rules = $D/ips.txt" >>"$D/qorgau.conf"
fi

sed -e 's/^mode = inline$/mode = queue/' -e 's/^inline.quic = drop-all$/inline.quic = drop-blocked/' \
    -e "s#^log.file = .*#log.file = $D/qorgau_q.log#" "$D/qorgau.conf" >"$D/qorgau_q.conf"
{ cat "$D/qorgau_q.conf"; printf '%s\n' "${QG_BENCH_Q0_CONF:-}"; } >"$D/qorgau_q0.conf"
printf '%s\n' "${QG_BENCH_Q_CONF:-}" >>"$D/qorgau_q.conf"

# haproxy: exact-match lookups (-m str -f builds an ebtree) of the name and of its last 2, 3
# and 4 labels (field(-1,.,K)), so a listed name blocks its subdomains; no linear -m end/dom.
hap_acls() { # SAMPLE ACL
    echo "    acl $2 $1,lower -m str -f $D/list.txt"
    for k in 2 3 4; do echo "    acl $2 $1,lower,field(-1,.,$k) -m str -f $D/list.txt"; done
}
{
    cat <<CFG
global
    maxconn 9000
    nbthread 2
defaults
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend tls_in
    mode tcp
    bind :16443
    tcp-request inspect-delay 5s
CFG
    hap_acls req.ssl_sni blk
    cat <<CFG
    tcp-request content reject if blk
    tcp-request content accept if { req.ssl_hello_type 1 }
    default_backend tls_out
backend tls_out
    mode tcp
    server origin 0.0.0.0:443
frontend http_in
    mode http
    bind :16080
    option http-keep-alive
CFG
    hap_acls 'req.hdr(host),field(1,:)' hblk
    cat <<CFG
    http-request redirect location http://notice.test/ code 302 if hblk
    default_backend http_out
backend http_out
    mode http
    server origin 0.0.0.0:80
CFG
} >"$D/haproxy.cfg"

# nginx: stream { ssl_preread + map (hostnames: ".name" = the name and its subdomains) }
# for 443, http { map $host } for 80. nginx cannot read the original destination after a
# REDIRECT (no SO_ORIGINAL_DST), so its upstream is the server's address, written in.
cat >"$D/nginx-peer.conf" <<CONF
load_module $NGX_STREAM;
user root;
daemon off;
worker_processes 2;
pid $D/nginx-peer.pid;
error_log $D/nginx-peer-error.log error;
worker_rlimit_nofile 65536;
events { worker_connections 30000; }
stream {
    map_hash_max_size 262144;
    map_hash_bucket_size 128;
    map \$ssl_preread_server_name \$qg_upstream {
        hostnames;
        default $QG_SRV4:443;
        include $D/ngx-stream.map;
    }
    server {
        listen 17443 backlog=4096;
        ssl_preread on;
        proxy_pass \$qg_upstream;
    }
}
http {
    access_log off;
    client_body_temp_path $D/pbody;
    proxy_temp_path $D/pproxy;
    fastcgi_temp_path $D/pfastcgi;
    uwsgi_temp_path $D/puwsgi;
    scgi_temp_path $D/pscgi;
    map_hash_max_size 262144;
    map_hash_bucket_size 128;
    map \$host \$qg_blocked {
        hostnames;
        default 0;
        include $D/ngx-http.map;
    }
    upstream origin { server $QG_SRV4:80; keepalive 64; }
    server {
        listen 17080 backlog=4096;
        location / {
            if (\$qg_blocked) { return 302 http://notice.test/; }
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
        }
    }
}
CONF

# ---- diversion in the filter namespace ----
divert() { # none | tproxy | queue | redirect P443 P80
    fl nft delete table inet qorgau 2>/dev/null
    fl nft delete table ip qg_bench 2>/dev/null
    for t in iptables ip6tables; do
        fl $t -F FORWARD 2>/dev/null
        fl $t -F QORGAU 2>/dev/null
        fl $t -X QORGAU 2>/dev/null
    done
    case $1 in
    tproxy) qg_divert tproxy ;;
    queue) # [RULES]: the per-source limits (rule 6: new connections, packets to the queues)
        # left out - the load generator is one source doing thousands of connections a second,
        # what they exist to stop; the limits themselves are a hash lookup per queued packet
        sed '/--hashlimit-name qorgau_/d' "${2:-$ROOT/deploy/iptables-queue.rules}" >"$D/queue.rules" &&
            fl iptables-restore --noflush <"$D/queue.rules" &&
            fl ip6tables-restore --noflush <"$D/queue.rules"
        ;;
    redirect)
        fl nft -f - <<NFT
table ip qg_bench {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "f0" tcp dport 443 redirect to :$2
        iifname "f0" tcp dport 80 redirect to :$3
    }
}
NFT
        ;;
    esac
}

# ---- measurement helpers ----
PIDS=""
# all processes of the proxy under test: the PID started and its children (nginx workers)
proxy_pids() { echo "$1 $(pgrep -P "$1" | tr '\n' ' ')"; }
ticks() { # [user]: utime+stime (or utime only) of the proxy's processes, in clock ticks
    t=0
    for p in $PIDS; do
        v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk -v u="${1:-}" '{ print $12 + (u == "" ? $13 : 0) }')
        t=$((t + ${v:-0}))
    done
    echo $t
}
# FIELD (Rss|Pss_Anon), KiB summed over the proxy's processes. Pss_Anon counts a page that
# nginx's workers still share with their master once, and ignores the libraries (libcrypto)
# whose Pss falls when the client tool maps them too.
mem() {
    t=0
    for p in $PIDS; do
        v=$(awk -v k="$1:" '$1 == k { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
        t=$((t + ${v:-0}))
    done
    echo $t
}
# the whole machine's busy CPU, clock ticks over all CPUs (/proc/stat: user nice system irq
# softirq steal)
mticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
kv() { v=$(printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1); echo "${v:-0}"; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'; }
target() { # VALUE OP LIMIT
    [ -n "$1" ] || { echo "n/a"; return; }
    if awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { exit !((op == "<=") ? a <= b : a >= b) }'; then echo met; else echo "**missed**"; fi
}

PROBES="sni:tls:$B:$A sni-subdomain:tls:www.$B:www.$A sni-mixed-case:tls-case:$B:$A \
sni-split-2-segments:tls-split:$B:$A sni-1-byte-segments:tls-bytes:$B:$A \
sni-2-records:tls-tworec:$B:$A sni-trailing-dot:tls-dot:$B:$A \
host:http:$B:$A host-subdomain:http:www.$B:www.$A host-mixed-case:http-case:$B:$A \
host-no-space-hOsT:http-ows:$B:$A host-trailing-dot:http-dot:$B:$A host-port:http-port:$B:$A \
host-split-2-segments:http-split:$B:$A absolute-uri:http-abs:$B:$A keepalive-2nd-request:http-keepalive:$B:$A"

served() { [ "$1" = serverhello ] || [ "$1" = 200 ]; }

# run_probes NAME: one line per probe into $D/probe.NAME ("label verdict blocked-outcome control-outcome")
run_probes() {
    : >"$D/probe.$1"
    for p in $PROBES; do
        label=${p%%:*}; r=${p#*:}; kind=${r%%:*}; r=${r#*:}; bn=${r%%:*}; an=${r#*:}
        port=443; case $kind in http*) port=80 ;; esac
        ob=$(cl "$TL" probe "$kind" "$QG_SRV4" $port "$bn" "$A")
        oa=$(cl "$TL" probe "$kind" "$QG_SRV4" $port "$an" "$A")
        if [ "$1" = direct ]; then
            if served "$ob" && served "$oa"; then v=accepted; else v="NOT-ACCEPTED"; fi
        elif served "$ob"; then v=MISSED
        elif ! served "$oa"; then v=OVERBLOCK
        else v=right; fi
        echo "$label $v $ob $oa" >>"$D/probe.$1"
    done
}

# alive NAME: are all the proxy's processes still there? (else says so, keeps its logs)
alive() {
    for p in $PIDS; do
        kill -0 "$p" 2>/dev/null && continue
        echo "bench inline: $1: process $p exited during the run; its logs are in $OUT/inline-$1.log"
        cat "$D/$1.out" "$D/nginx-peer-error.log" "$D/qorgau.log" >"$OUT/inline-$1.log" 2>/dev/null
        eval "DIED_$1=1"
        return 1
    done
    return 0
}

# bench NAME: the measurements against the proxy whose processes are $PIDS (none for direct)
# queued: the packets the filter namespace's NFQUEUEs have taken so far (qg_queued); a step's
# difference over its connections is queue mode's crossings per connection
queued() { qg_queued "$QG_FLT"; }

bench() {
    name=$1
    echo "bench inline: == $name"
    q0=$(queued)
    m0=$(mticks); u0=$(ticks user); t0=$(ticks); r=$(cl "$TL" hs "$QG_SRV4" 443 "$D/allowed-sni.txt" "$N_HS" 4)
    t1=$(ticks); u1=$(ticks user); m1=$(mticks)
    eval "HS_QX_$name=$(f "($(queued) - $q0) / ($(kv "$r" ok) + 0.000001)")"
    echo "  hs:    $r, proxy ticks $((t1 - t0)) (user $((u1 - u0)))"
    eval "HS_RATE_$name=$(kv "$r" rate) HS_FAIL_$name=$(kv "$r" fail)"
    eval "HS_CPU_$name=$(f "($t1 - $t0) / $HZ * 1e6 / ($(kv "$r" ok) + 0.000001)")"
    eval "HS_USR_$name=$(f "($u1 - $u0) / $HZ * 1e6 / ($(kv "$r" ok) + 0.000001)")"
    eval "HS_MCPU_$name=$(f "($m1 - $m0) / $HZ * 1e6 / ($(kv "$r" ok) + 0.000001)")"
    alive "$name" || return 1

    q0=$(queued)
    m0=$(mticks); t0=$(ticks); r=$(cl "$TL" get "$QG_SRV4" 443 /1m.bin "$N_GET" 2); t1=$(ticks); m1=$(mticks)
    eval "GET_QX_$name=$(f "($(queued) - $q0) / ($(kv "$r" ok) + 0.000001)")"
    echo "  get:   $r, proxy ticks $((t1 - t0))"
    eval "GET_MBS_$name=$(f "$(kv "$r" bytes) / $(kv "$r" secs) / 1e6") GET_FAIL_$name=$(kv "$r" fail)"
    eval "GET_CPU_$name=$(f "($t1 - $t0) / $HZ / ($(kv "$r" bytes) / 1e9)")"
    eval "GET_MCPU_$name=$(f "($m1 - $m0) / $HZ / ($(kv "$r" bytes) / 1e9)")"
    alive "$name" || return 1

    if [ "$name" != direct ]; then
        q0=$(queued)
        m0=$(mticks); t0=$(ticks); r=$(cl "$TL" block "$QG_SRV4" 443 "$D/blocked-sni.txt" "$BLOCK_SECS" 64); t1=$(ticks); m1=$(mticks)
        eval "BL_QX_$name=$(f "($(queued) - $q0) / ($(kv "$r" done) + 0.000001)")"
        echo "  block: $r, proxy ticks $((t1 - t0))"
        eval "BL_RATE_$name=$(kv "$r" rate)"
        eval "BL_CPU_$name=$(f "($t1 - $t0) / $HZ * 1e6 / ($(kv "$r" done) + 0.000001)")"
        eval "BL_MCPU_$name=$(f "($m1 - $m0) / $HZ * 1e6 / ($(kv "$r" done) + 0.000001)")"
        seen=""
        for o in reset eof alert serverhello timeout refused other; do
            c=$(kv "$r" $o)
            [ "${c:-0}" -gt 0 ] && seen="$seen${seen:+, }$o $c"
        done
        eval "BL_SEEN_$name=\"\$seen\""
        alive "$name" || return 1
    fi

    if { [ "$name" = direct ] || [ "$name" = qorgau_q ] || [ "$name" = qorgau_q0 ]; } && [ -x "$QI" ] && [ "$N_QUIC" -gt 0 ]; then
        : >"$D/quic.$name"
        i=0
        while [ $i -lt "$N_QUIC" ]; do
            cl "$QI" "s$i.quic.example" "$QG_SRV4" 443 time >>"$D/quic.$name"
            i=$((i + 1))
        done
        med=$(sed -n 's/^rtt_us //p' "$D/quic.$name" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
        echo "  quic:  $(grep -c rtt_us "$D/quic.$name") of $N_QUIC Initials answered, median round trip ${med:-n/a} us"
        eval "QUIC_RTT_$name=${med:-}"
    fi

    run_probes "$name"
    sed 's/^/  probe: /' "$D/probe.$name"

    if [ "$name" != direct ]; then
        rss0=$(mem Rss); pss0=$(mem Pss_Anon)
        qg_bg "$D/idle.$name" ip netns exec "$QG_CLI" "$TL" idle "$QG_SRV4" 443 "$N_IDLE" 120
        ipid=$QG_LAST_PID
        i=0
        while ! grep -qs ready "$D/idle.$name" && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done
        sleep 1
        rss1=$(mem Rss); pss1=$(mem Pss_Anon)
        held=$(sed -n 's/^ready ok=\([0-9]*\).*/\1/p' "$D/idle.$name")
        held=${held:-0}
        echo "  idle:  $(cat "$D/idle.$name"), Rss $rss0 -> $rss1 KiB, Pss_Anon $pss0 -> $pss1 KiB"
        eval "IDLE_RSS_$name=$(f "($rss1 - $rss0) * 1024 / ($held + 0.000001)") IDLE_PSS_$name=$(f "($pss1 - $pss0) * 1024 / ($held + 0.000001)") IDLE_N_$name=$held"
        qg_stop "$ipid"
        alive "$name" || return 1
    fi
}

# a UDP echo on the server's :443 for the timed QUIC Initials
qg_bg "$D/echo.out" ip netns exec "$QG_SRV" python3 "$ROOT/tests/netns/udp443.py" echo "$QG_SRV4"

# QG_BENCH_PAIRED=ROUNDS: the queue-mode targets in interleaved rounds instead of the rows
# one after another (tests/bench/inline_paired.sh)
if [ "${QG_BENCH_PAIRED:-0}" -gt 0 ]; then
    . "$HERE/inline_paired.sh"
fi

RUN=""
# direct: no diversion, the filter only routes
divert none
bench direct
RUN="direct"

# qorgau inline (TPROXY)
if want qorgau; then
divert tproxy
qg_bg "$D/qorgau.out" ip netns exec "$QG_FLT" "$BIN" run -c "$D/qorgau.conf" --foreground
qpid=$QG_LAST_PID
if qg_wait_port "$QG_FLT" 15001 >/dev/null; then
    PIDS=$(proxy_pids "$qpid")
    bench qorgau
    RUN="$RUN qorgau"
else
    echo "bench inline: qorgau did not start:"; tail -n 20 "$D/qorgau.out"
fi
qg_stop "$qpid"
fi

# qorgau inline again, diverted like the peers (REDIRECT to inline.redirect_port): separates
# the cost of the diversion from the cost of the proxy
if want qorgau_r; then
divert redirect 15002 15002
qg_bg "$D/qorgau_r.out" ip netns exec "$QG_FLT" "$BIN" run -c "$D/qorgau.conf" --foreground
qpid=$QG_LAST_PID
if qg_wait_port "$QG_FLT" 15002 >/dev/null; then
    PIDS=$(proxy_pids "$qpid")
    bench qorgau_r
    RUN="$RUN qorgau_r"
else
    echo "bench inline: qorgau (redirect) did not start:"; tail -n 20 "$D/qorgau_r.out"
fi
qg_stop "$qpid"
fi

# queue_row NAME BIN RULES CONF: qorgau in queue mode - the filter routes, the first packets of each
# flow go through NFQUEUE (RULES, default deploy/iptables-queue.rules: 2 queues for the 2
# workers), the rest stays in the kernel
queue_row() {
    divert queue "$3"
    qg_bg "$D/$1.out" ip netns exec "$QG_FLT" "$2" run -c "$4" --foreground
    qpid=$QG_LAST_PID
    if qg_wait_verdict "$2" "$4" "$B" block; then
        PIDS=$(proxy_pids "$qpid")
        bench "$1"
        RUN="$RUN $1"
    else
        echo "bench inline: qorgau ($1) did not start:"; tail -n 20 "$D/$1.out"
    fi
    qg_stop "$qpid"
}
# a baseline queue-mode row first: another binary and rule set (QG_BENCH_Q0_BIN, _RULES)
[ -n "${QG_BENCH_Q0_BIN:-}" ] && queue_row qorgau_q0 "$QG_BENCH_Q0_BIN" "${QG_BENCH_Q0_RULES:-}" "$D/qorgau_q0.conf"
want qorgau_q && queue_row qorgau_q "$BIN" "${QG_BENCH_Q_RULES:-}" "$D/qorgau_q.conf"

# haproxy (REDIRECT)
if ! want haproxy; then
    :
elif command -v haproxy >/dev/null 2>&1; then
    divert redirect 16443 16080
    qg_bg "$D/haproxy.out" ip netns exec "$QG_FLT" haproxy -db -f "$D/haproxy.cfg"
    hpid=$QG_LAST_PID
    if qg_wait_port "$QG_FLT" 16443 >/dev/null; then
        PIDS=$(proxy_pids "$hpid")
        HAP_VER=$(haproxy -v | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p')
        bench haproxy
        RUN="$RUN haproxy"
    else
        echo "bench inline: haproxy did not start:"; tail -n 20 "$D/haproxy.out"
    fi
    qg_stop "$hpid"
else
    echo "bench inline: haproxy not installed (Debian package haproxy): skipped"
fi

# nginx stream (REDIRECT)
if ! want nginx; then
    :
elif [ -f "$NGX_STREAM" ]; then
    divert redirect 17443 17080
    qg_bg "$D/nginx.out" ip netns exec "$QG_FLT" nginx -c "$D/nginx-peer.conf"
    npid=$QG_LAST_PID
    if qg_wait_port "$QG_FLT" 17443 >/dev/null; then
        sleep 0.3
        PIDS=$(proxy_pids "$npid")
        NGX_VER=$(nginx -v 2>&1 | sed -n 's/^nginx version: nginx\/\([^ ]*\).*/\1/p')
        bench nginx
        RUN="$RUN nginx"
    else
        echo "bench inline: peer nginx did not start:"; tail -n 20 "$D/nginx.out" "$D/nginx-peer-error.log"
    fi
    qg_stop "$npid"
else
    echo "bench inline: $NGX_STREAM missing (Debian package libnginx-mod-stream): nginx skipped"
fi
divert none

# ---- report ----
g() { eval "printf '%s' \"\${$1_$2:-}\""; }
for p in $RUN; do
    [ -n "$(g HS_MCPU $p)" ] && [ -n "$(g HS_MCPU direct)" ] && eval "HS_ADD_$p=$(f "$(g HS_MCPU $p) - $(g HS_MCPU direct)")"
    [ -n "$(g GET_MCPU $p)" ] && [ -n "$(g GET_MCPU direct)" ] && eval "GET_ADD_$p=$(f "$(g GET_MCPU $p) - $(g GET_MCPU direct)")"
done
label() { case $1 in direct) echo "direct (no proxy)" ;; qorgau) echo "qorgau inline (TPROXY)" ;; qorgau_r) echo "qorgau inline (REDIRECT)" ;; qorgau_q) echo "qorgau queue (NFQUEUE)" ;; qorgau_q0) echo "qorgau queue, baseline ($(basename "$QG_BENCH_Q0_BIN"))" ;;
    haproxy) echo "haproxy ${HAP_VER:-} (REDIRECT)" ;; nginx) echo "nginx ${NGX_VER:-} stream (REDIRECT)" ;; esac
    [ -n "$(g DIED "$1")" ] && echo " **exited during the run**"; }
# best (lowest or highest) value of VAR over the peers that ran
best() { # VAR min|max
    b=""
    for p in haproxy nginx; do
        v=$(g "$1" $p)
        [ -n "$v" ] && [ -z "$(g DIED $p)" ] || continue
        if [ -z "$b" ] || awk -v a="$v" -v c="$b" -v m="$2" 'BEGIN { exit !((m == "min") ? a < c : a > c) }'; then b=$v; fi
    done
    echo "$b"
}

{
    echo "Inline benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r), $(wc -l <"$D/list.txt") listed names;"
    echo "$N_HS allowed TLS connections, ${BLOCK_SECS}s of blocked ones (64 in flight), $N_GET x 1 MB, $N_IDLE idle."
    echo
    echo "| | $(for p in $RUN; do printf '%s | ' "$(label $p | tr -d '\n')"; done)"
    echo "|---|$(for p in $RUN; do printf -- '---|'; done)"
    row() { printf '| %s |' "$1"; for p in $RUN; do printf ' %s |' "$(g "$2" $p)$3"; done; echo; }
    row "allowed TLS conns/s (handshake + GET, client-bound)" HS_RATE ""
    row "allowed: failed connections" HS_FAIL ""
    row "**proxy CPU per allowed connection, µs**" HS_CPU ""
    row "of which user space, µs" HS_USR ""
    row "whole-machine CPU per allowed connection, µs" HS_MCPU ""
    row "**added over direct, µs**" HS_ADD ""
    row "queue crossings per allowed connection (NFQUEUE)" HS_QX ""
    row "**blocked conns/s**" BL_RATE ""
    row "proxy CPU per blocked connection, µs" BL_CPU ""
    row "whole-machine CPU per blocked connection, µs" BL_MCPU ""
    row "what the blocked client saw (count)" BL_SEEN ""
    row "queue crossings per blocked connection" BL_QX ""
    row "**1 MB over TLS, MB/s**" GET_MBS ""
    row "1 MB: failed transfers" GET_FAIL ""
    row "**proxy CPU per GB, s**" GET_CPU ""
    row "whole-machine CPU per GB, s" GET_MCPU ""
    row "**added over direct per GB, s**" GET_ADD ""
    row "queue crossings per 1 MB transfer" GET_QX ""
    row "QUIC Initial round trip, median µs" QUIC_RTT ""
    row "idle connections held" IDLE_N ""
    row "Rss per idle connection, bytes" IDLE_RSS ""
    row "**Pss_Anon per idle connection, bytes**" IDLE_PSS ""
    echo
    echo "| probe (listed name / allowed control) | $(for p in $RUN; do printf '%s | ' "$p"; done)"
    echo "|---|$(for p in $RUN; do printf -- '---|'; done)"
    for pr in $PROBES; do
        l=${pr%%:*}
        printf '| %s |' "$l"
        for p in $RUN; do
            printf ' %s |' "$(awk -v l="$l" '$1 == l { printf "%s (%s / %s)", $2, $3, $4 }' "$D/probe.$p")"
        done
        echo
    done
    echo
    q_cpu=$(g HS_CPU qorgau); p_cpu=$(best HS_CPU min)
    q_bl=$(g BL_RATE qorgau); p_bl=$(best BL_RATE max)
    q_mbs=$(g GET_MBS qorgau); d_mbs=$(g GET_MBS direct)
    q_gb=$(g GET_CPU qorgau); p_gb=$(best GET_CPU min)
    q_idle=$(awk -v a="$(g IDLE_RSS qorgau)" -v b="$(g IDLE_PSS qorgau)" 'BEGIN { if (a != "" || b != "") printf "%.0f", (a > b) ? a : b }')
    r1=$(ratio "$q_cpu" "$p_cpu"); r2=$(ratio "$q_bl" "$p_bl"); r3=$(ratio "$q_mbs" "$d_mbs"); r4=$(ratio "$q_gb" "$p_gb")
    wrong=$(awk '$2 != "right"' "$D/probe.qorgau" 2>/dev/null | wc -l)
    echo "| target (issue 3) | measured | |"
    echo "|---|---|---|"
    echo "| CPU per allowed connection <= 0.5x best peer | ${r1:-n/a}x ($q_cpu vs $p_cpu µs) | $(target "$r1" '<=' 0.5) |"
    echo "| blocked conns/s >= 1.5x best peer | ${r2:-n/a}x ($q_bl vs $p_bl /s) | $(target "$r2" '>=' 1.5) |"
    echo "| 1 MB throughput >= 0.95x direct | ${r3:-n/a}x ($q_mbs vs $d_mbs MB/s) | $(target "$r3" '>=' 0.95) |"
    echo "| CPU per GB <= 0.5x best peer | ${r4:-n/a}x ($q_gb vs $p_gb s) | $(target "$r4" '<=' 0.5) |"
    echo "| <= 2 KiB per idle connection (larger of Rss, Pss_Anon) | ${q_idle:-n/a} bytes | $(target "$q_idle" '<=' 2048) |"
    echo "| every probe right | $([ -f "$D/probe.qorgau" ] && echo "$wrong wrong" || echo n/a) | $([ -f "$D/probe.qorgau" ] && [ "$wrong" -eq 0 ] && echo met || echo "**missed**") |"
    if want qorgau_q; then
        a_q=$(g HS_ADD qorgau_q); a_p=$(best HS_ADD min)
        b_q=$(g BL_MCPU qorgau_q); b_p=$(best BL_MCPU min)
        m_q=$(g GET_MBS qorgau_q)
        g_q=$(g GET_ADD qorgau_q); g_p=$(best GET_ADD min)
        qd=""
        [ -n "$(g QUIC_RTT qorgau_q)" ] && [ -n "$(g QUIC_RTT direct)" ] && qd=$(($(g QUIC_RTT qorgau_q) - $(g QUIC_RTT direct)))
        q1=$(ratio "$a_q" "$a_p"); q2=$(ratio "$b_q" "$b_p"); q3=$(ratio "$m_q" "$d_mbs"); q4=$(ratio "$g_q" "$g_p")
        wq=$(awk '$2 != "right"' "$D/probe.qorgau_q" 2>/dev/null | wc -l)
        echo
        echo "| target (issue 11, queue mode; whole-machine CPU) | measured | |"
        echo "|---|---|---|"
        echo "| added CPU per allowed TLS connection <= 0.25x best peer's | ${q1:-n/a}x ($a_q vs $a_p µs) | $(target "$q1" '<=' 0.25) |"
        echo "| CPU per blocked connection <= 0.5x best peer's | ${q2:-n/a}x ($b_q vs $b_p µs) | $(target "$q2" '<=' 0.5) |"
        echo "| 1 MB throughput >= 0.98x direct | ${q3:-n/a}x ($m_q vs $d_mbs MB/s) | $(target "$q3" '>=' 0.98) |"
        echo "| added CPU per GB <= 0.1x best peer's | ${q4:-n/a}x ($g_q vs $g_p s) | $(target "$q4" '<=' 0.1) |"
        echo "| allowed QUIC Initial delayed < 1 ms (median round trip minus direct's) | ${qd:-n/a} µs | $(target "$qd" '<=' 999) |"
        echo "| every probe right | $([ -f "$D/probe.qorgau_q" ] && echo "$wq wrong" || echo n/a) | $([ -f "$D/probe.qorgau_q" ] && [ "$wq" -eq 0 ] && echo met || echo "**missed**") |"
    fi
} >"$OUT/inline.md"
echo
cat "$OUT/inline.md"
