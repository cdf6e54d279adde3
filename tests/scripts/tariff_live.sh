#!/bin/sh
# tariff_live.sh - child tariffs on live traffic (docs/profiles.md): client ns -> filter ns
# (nftables TPROXY, `qorgau run` in inline mode, a real redis-server as the store on the
# namespace's loopback) -> server ns (nginx). The client namespace has two addresses: an adult
# (no settings: the default profile) and a child (profile child), mapped to their subscribers
# in the store (`qorgau subscriber set`), which the node follows.
#
# Checks, with curl exit codes and the 302 Location: the child is blocked by category where the
# adult is not (TLS reset, HTTP 302 with reason=tariff); the regulator's order blocks both (no
# reason); a profile change through the store takes effect mid-run without a restart (polled,
# at most 3 s); a reload (SIGHUP, the profiles file edited) keeps the child's profile and
# settings from the store, blocked at once, and a store change after it still applies; a store
# profile over one the file defines, removed from the store: the file's back at once; a
# parental deny list (302 reason=parental) and allow list (over a category);
# allow-list mode (an unlisted name blocked, a listed one served); the parents API on the node's
# admin socket (settings put, read back and enforced, a bad body refused, the day's summary by
# category without sites, delete); the block log names cause
# and profile and never the MSISDN. A second node (tap mode on the same link, following the
# same store, its answers sent into a link that leads nowhere) blocks the same child flows and sees the
# profile change too. Then one node on the directory store (no stream): records present at
# start applied at once, a CLI change live within 2 s without a reload, kept by a reload
# (SIGHUP, which reads the store again), a removal, the parents API, an address mapped and
# unmapped by the CLI while the node runs.
#
# Needs root, network namespaces, nftables, nginx, curl, redis-server; otherwise fails
# (QG_ALLOW_SKIP=1: skips, exit 77). Everything started is stopped by PID, namespaces deleted.
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
ROOT=$(CDPATH= cd -- "$HERE/../.." && pwd)
QG_LIB=$ROOT/tests/netns/lib.sh
. "$QG_LIB"
QG_BIN=${QG_BIN:-$ROOT/build/qorgau}
case $QG_BIN in /*) ;; *) QG_BIN=$ROOT/$QG_BIN ;; esac

. "$ROOT/tests/lib/skip.sh"
if ! why=$(qg_can_run); then
    qg_cannot_run tariff_live "$why"
fi
command -v redis-server >/dev/null 2>&1 || qg_cannot_run tariff_live "redis-server not installed"

qg_checks tariff_live proxy.log proxy2.log proxy3.log node2.log redis.log redis2.log

fl() { ip netns exec "$QG_FLT" "$@"; }
ADULT=10.200.1.2
CHILD=10.200.1.7
# cc ADDR ARGS...: curl from one of the client's addresses
cc() { a=$1; shift; ip netns exec "$QG_CLI" curl -sS -k --max-time 10 --interface "$a" "$@"; }
R="--resolve games.test:443:$QG_SRV4 --resolve games.test:80:$QG_SRV4 --resolve kids.test:443:$QG_SRV4 --resolve kids.test:80:$QG_SRV4 --resolve blocked.test:443:$QG_SRV4 --resolve allowed.test:443:$QG_SRV4 --resolve allowed.test:80:$QG_SRV4"
# tls ADDR NAME: "200" when the page came, "reset" when the connection was reset
tls() {
    out=$(cc "$1" $R -o /dev/null -w '%{http_code}' "https://$2/small" 2>&1)
    case $out in 200) echo 200 ;; *[Rr]eset*) echo reset ;; *) echo "other: $out" ;; esac
}
# http ADDR NAME: "CODE LOCATION"
http() { cc "$1" $R -o /dev/null -w '%{http_code} %{redirect_url}' "http://$2/small" 2>&1; }
# until_tls WANT ADDR NAME: polls (3 s) until tls gives WANT; prints the last answer
until_tls() {
    i=0
    while [ $i -lt 30 ]; do
        got=$(tls "$2" "$3")
        [ "$got" = "$1" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    echo "$got"
}

qg_setup_net || { bad "namespaces" "setup failed"; exit 1; }
qg_in "$QG_CLI" ip addr add $CHILD/24 dev c0
qg_divert tproxy || { bad "nftables" "tproxy ruleset failed"; exit 1; }
qg_start_nginx || { bad "nginx" "did not start"; exit 1; }

PORT=16379
# start_redis LOG: the store, on the filter namespace's loopback (its data kept in QG_DIR's
# dump.rdb by an explicit SAVE only); REDIS_PID is its PID
start_redis() {
    qg_bg "$QG_DIR/$1" ip netns exec "$QG_FLT" redis-server --port $PORT --bind 127.0.0.1 \
        --save '' --appendonly no --dir "$QG_DIR"
    REDIS_PID=$QG_LAST_PID
}
start_redis redis.log
qg_wait_port "$QG_FLT" $PORT || { bad "redis-server" "did not start"; exit 1; }
STORE=redis://127.0.0.1:$PORT

mkdir -p "$QG_DIR/cats/games" "$QG_DIR/cats/kids" "$QG_DIR/state"
echo games.test >"$QG_DIR/cats/games/domains"
echo kids.test >"$QG_DIR/cats/kids/domains"
echo blocked.test >"$QG_DIR/rules.txt"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$QG_DIR/secret"
fl "$QG_BIN" profile --store $STORE set child block=games >/dev/null || bad "profile set"
fl "$QG_BIN" profile --store $STORE set strict allowlist=yes allow=kids >/dev/null ||
    bad "profile set strict"
fl "$QG_BIN" subscriber --store $STORE profile 77010000007 child >/dev/null ||
    bad "subscriber profile"
fl "$QG_BIN" subscriber --store $STORE set $CHILD 77010000007 >/dev/null || bad "map child"
fl "$QG_BIN" subscriber --store $STORE set $ADULT 77010000002 >/dev/null || bad "map adult"

cat >"$QG_DIR/qorgau.conf" <<CONF
mode = inline
workers = 2
user = root
state_dir = $QG_DIR/state
store = $STORE
rules = $QG_DIR/rules.txt
inline.tproxy_port = 15001
inline.redirect_port = 15002
notice.url = http://notice.test/
notice.listen = 127.0.0.1:18080
log.file = $QG_DIR/qorgau.log
categories.dir = $QG_DIR/cats
profiles.file = $QG_DIR/profiles
privacy.secret_file = $QG_DIR/secret
subscribers.failstatic_interval = 1s
CONF
# the node's own file: a subscriber nobody maps (the child's profile and settings are the
# store's)
echo "subscriber 77010000099 profile=child" >"$QG_DIR/profiles"
qg_bg "$QG_DIR/proxy.log" ip netns exec "$QG_FLT" "$QG_BIN" run -c "$QG_DIR/qorgau.conf" --foreground
NODE_PID=$QG_LAST_PID
qg_wait_port "$QG_FLT" 15001 || { bad "proxy" "did not start"; exit 1; }

# a second node following the same store: tap mode on the client-side link, its answers sent
# into a veth pair of its own that leads nowhere (it judges and logs the same flows without
# touching them)
fl ip link add qgsink0 type veth peer name qgsink1 && fl ip link set qgsink0 up &&
    fl ip link set qgsink1 up || bad "second node" "no sink link"
mkdir -p "$QG_DIR/state2"
cat >"$QG_DIR/node2.conf" <<CONF
mode = tap
tap.interface = f0
tap.inject_interface = qgsink0
checksums = auto
workers = 1
user = root
node.id = second
state_dir = $QG_DIR/state2
store = $STORE
rules = $QG_DIR/rules.txt
notice.listen = 127.0.0.1:18081
categories.dir = $QG_DIR/cats
privacy.secret_file = $QG_DIR/secret
CONF
qg_bg "$QG_DIR/node2.log" ip netns exec "$QG_FLT" "$QG_BIN" run -c "$QG_DIR/node2.conf" --foreground
i=0
until grep -q '"msg":"started"' "$QG_DIR/node2.log" 2>/dev/null || [ $i -ge 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
grep -q '"msg":"started"' "$QG_DIR/node2.log" || bad "second node" "did not start"
# node2_blocks NAME CAUSE: the second node's block lines for the child and NAME with CAUSE
node2_blocks() {
    grep '"msg":"block"' "$QG_DIR/node2.log" | grep "\"client\":\"$CHILD:" |
        grep "\"name\":\"$1\"" | grep -c "\"cause\":\"$2\""
}
# until_node2 NAME CAUSE: the child connects to NAME until the second node logs such a block
# (3 s at most; a new connection each time, since a node judges a flow once); yes / no
until_node2() {
    i=0
    n0=$(node2_blocks "$1" "$2")
    while [ $i -lt 15 ]; do
        tls $CHILD "$1" >/dev/null
        sleep 0.2
        [ "$(node2_blocks "$1" "$2")" -gt "$n0" ] && { echo yes; return; }
        i=$((i + 1))
    done
    echo no
}

# the child's mapping and settings reach the node through the store
expect "child: games.test blocked by category (TLS reset)" "$(until_tls reset $CHILD games.test)" reset
expect "adult: games.test served" "$(tls $ADULT games.test)" 200
expect_match "child: http games.test -> 302 reason=tariff" "$(http $CHILD games.test)" \
    '^302 http://notice\.test/\?url=http%3A%2F%2Fgames\.test%2Fsmall&reason=tariff$'
expect "adult: http games.test served" "$(http $ADULT games.test)" "200 "
expect "child: kids.test served" "$(tls $CHILD kids.test)" 200
expect "second node: the child's games.test blocked there too" "$(until_node2 games.test profile)" yes
expect "second node: no tariff block of the adult" \
    "$(grep '"msg":"block"' "$QG_DIR/node2.log" | grep "\"client\":\"$ADULT:" | grep -c '"method":"tariff"')" 0
# the regulator's order, for both, with its own page
expect "regulator: blocked.test reset for the adult" "$(tls $ADULT blocked.test)" reset
expect "regulator: blocked.test reset for the child" "$(tls $CHILD blocked.test)" reset

# a profile change mid-run, through the store
t0=$(date +%s%N)
fl "$QG_BIN" profile --store $STORE set child block=kids >/dev/null
expect "profile change: games.test now served to the child" "$(until_tls 200 $CHILD games.test)" 200
echo "     profile change live on the node after $((($(date +%s%N) - t0) / 1000000)) ms (CLI included)"
expect "profile change: kids.test now blocked for the child" "$(until_tls reset $CHILD kids.test)" reset
expect "profile change reached the second node" "$(until_node2 kids.test profile)" yes
fl "$QG_BIN" profile --store $STORE set child block=games >/dev/null
expect "profile back: games.test blocked again" "$(until_tls reset $CHILD games.test)" reset

# a reload (SIGHUP) with an edited profiles file keeps the store's records on top of the file's:
# the child, whose profile "child" and settings come from the store, stays blocked at once (no
# polling: no table without the store's records is ever published); a change in the store
# after the reload still applies
loads() { grep -c '"msg":"categories and profiles loaded"' "$QG_DIR/proxy.log"; }
n0=$(loads)
echo "subscriber 77010000098 profile=child" >>"$QG_DIR/profiles"
echo "profile pfile block=kids" >>"$QG_DIR/profiles"
kill -HUP $NODE_PID
i=0
while [ "$(loads)" -le "$n0" ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
expect_match "reload: the profiles file read again" \
    "$(grep '"msg":"categories and profiles loaded"' "$QG_DIR/proxy.log" | tail -1)" \
    '"definitions":3'
expect "reload: the child's games.test still blocked (the store's profile kept)" \
    "$(tls $CHILD games.test)" reset
expect_match "reload: still a tariff block (302 reason=tariff)" "$(http $CHILD games.test)" \
    '^302 http://notice\.test/\?url=http%3A%2F%2Fgames\.test%2Fsmall&reason=tariff$'
expect "reload: the adult still served games.test" "$(tls $ADULT games.test)" 200
fl "$QG_BIN" profile --store $STORE set child block=kids >/dev/null
expect "reload, then a store change: games.test served to the child" \
    "$(until_tls 200 $CHILD games.test)" 200
expect "reload, then a store change: kids.test blocked for the child" \
    "$(until_tls reset $CHILD kids.test)" reset
fl "$QG_BIN" profile --store $STORE set child block=games >/dev/null
expect "reload, then the profile back: games.test blocked" "$(until_tls reset $CHILD games.test)" reset

# a store record over a profile the file defines too ("pfile": block=kids in the file), then
# removed from the store: the file's definition is back at once (no reload), not the unfiltered
# default profile
fl "$QG_BIN" profile --store $STORE set pfile block=games >/dev/null || bad "profile set pfile"
fl "$QG_BIN" subscriber --store $STORE profile 77010000007 pfile >/dev/null
expect "store over the file: the store's pfile blocks games.test" \
    "$(until_tls reset $CHILD games.test)" reset
expect "store over the file: kids.test served" "$(until_tls 200 $CHILD kids.test)" 200
fl "$QG_BIN" profile --store $STORE del pfile >/dev/null || bad "profile del pfile"
expect "store removal: the file's pfile back (games.test served)" \
    "$(until_tls 200 $CHILD games.test)" 200
expect "store removal: the file's pfile blocks kids.test (not the default profile)" \
    "$(until_tls reset $CHILD kids.test)" reset
fl "$QG_BIN" subscriber --store $STORE profile 77010000007 child >/dev/null
expect "the child's profile back: games.test blocked" "$(until_tls reset $CHILD games.test)" reset

# parental lists: deny a name the profile allows, allow a name the profile blocks
fl "$QG_BIN" subscriber --store $STORE profile 77010000007 child pdeny=allowed.test \
    pallow=games.test >/dev/null
expect "parental allow: games.test served" "$(until_tls 200 $CHILD games.test)" 200
expect_match "parental deny: http allowed.test -> 302 reason=parental" "$(http $CHILD allowed.test)" \
    '^302 http://notice\.test/\?url=http%3A%2F%2Fallowed\.test%2Fsmall&reason=parental$'
expect "parental deny does not touch the adult" "$(tls $ADULT allowed.test)" 200

# allow-list mode
fl "$QG_BIN" subscriber --store $STORE profile 77010000007 strict >/dev/null
expect "allow list: allowed.test blocked" "$(until_tls reset $CHILD allowed.test)" reset
expect "allow list: kids.test served" "$(tls $CHILD kids.test)" 200
expect "allow list: the adult unaffected" "$(tls $ADULT allowed.test)" 200

# the parents API on the node's admin socket (docs/profiles.md): the self-care app's view
SOCK=$QG_DIR/state/admin.sock
api() { m=$1 path=$2; shift 2; fl curl -sS --max-time 5 --unix-socket "$SOCK" -X "$m" "$@" "http://node/api/v1/parents/$path"; }
api_code() { m=$1 path=$2; shift 2; fl curl -sS --max-time 5 --unix-socket "$SOCK" -o /dev/null -w '%{http_code}' -X "$m" "$@" "http://node/api/v1/parents/$path"; }
expect "parents API: PUT the child's settings" \
    "$(api_code PUT 77010000007 -H 'Content-Type: application/json' \
        --data '{"profile":"child","allow":[],"deny":["kids.test"],"schedules":[]}')" 200
expect_match "parents API: GET gives them back" "$(api GET 77010000007)" \
    '"profile": *"child".*"deny": *\[ *"kids\.test" *\]'
expect "parents API: its deny list reaches the node (kids.test reset)" "$(until_tls reset $CHILD kids.test)" reset
expect "parents API: games.test blocked by the child profile again" "$(until_tls reset $CHILD games.test)" reset
expect "parents API: the adult still served kids.test" "$(tls $ADULT kids.test)" 200
expect "parents API: a malformed body refused (400)" \
    "$(api_code PUT 77010000007/deny --data '{"deny": 5}')" 400
expect "parents API: an unknown resource (404)" "$(api_code GET 77010000007/history)" 404
# the day's summary: counts per category or cause, summed over the nodes (flushed by the heartbeat)
day=$(TZ=Asia/Almaty date +%F)
i=0
sum=""
while [ $i -lt 40 ]; do
    sum=$(api GET "77010000007/summary?day=$day")
    echo "$sum" | grep -q '"games"' && echo "$sum" | grep -q '"parental"' && break
    sleep 0.25
    i=$((i + 1))
done
expect_match "parents API: the day's summary counts games and parental blocks" "$sum" \
    '"blocked": *\{.*"games": *[1-9]'
expect "parents API: the summary names no site" "$(echo "$sum" | grep -c 'games\.test\|kids\.test\|allowed\.test')" 0
expect "parents API: DELETE gives the default profile back (204)" "$(api_code DELETE 77010000007)" 204
expect "parents API: after DELETE, games.test served to the child" "$(until_tls 200 $CHILD games.test)" 200

# the log: cause and profile named, the subscriber pseudonymised
log=$QG_DIR/proxy.log # --foreground: the log goes to standard error
expect_match "log: a tariff block names cause and profile" "$(grep '"cause":"profile"' "$log" | head -1)" \
    '"profile":"child".*"subscriber":"p-[0-9a-f]{16}"'
expect "log: the MSISDN never appears" "$(grep -c 77010000007 "$log")" 0

# the subscriber side's fail-static copy (docs/subscribers.md "The fail-static copy"): the node
# restarted while the store is down keeps enforcing the child's tariff from
# state/subscribers.img, and the store's load replaces it when the store is back
CHILD2=10.200.1.8
UNMAPPED=10.200.1.9
qg_in "$QG_CLI" ip addr add $CHILD2/24 dev c0
qg_in "$QG_CLI" ip addr add $UNMAPPED/24 dev c0
fl "$QG_BIN" subscriber --store $STORE profile 77010000007 child >/dev/null
fl "$QG_BIN" subscriber --store $STORE set $CHILD2 77010000007 >/dev/null || bad "map child2"
expect "fail-static: the child's games.test blocked" "$(until_tls reset $CHILD games.test)" reset
expect "fail-static: the child's second address blocked" "$(until_tls reset $CHILD2 games.test)" reset
expect "fail-static: an unmapped address served" "$(tls $UNMAPPED games.test)" 200
qg_stop $NODE_PID
expect "fail-static: the node wrote state/subscribers.img" \
    "$(test -s "$QG_DIR/state/subscribers.img" && echo yes)" yes
# while the node is down, the store drops the second address; then the store goes down too
fl "$QG_BIN" subscriber --store $STORE del $CHILD2 >/dev/null || bad "unmap child2"
fl redis-cli -p $PORT save >/dev/null || bad "redis save"
qg_stop $REDIS_PID
qg_bg "$QG_DIR/proxy2.log" ip netns exec "$QG_FLT" "$QG_BIN" run -c "$QG_DIR/qorgau.conf" --foreground
NODE_PID=$QG_LAST_PID
qg_wait_port "$QG_FLT" 15001 || { bad "proxy" "did not start again"; exit 1; }
expect "fail-static, store down: the child's games.test blocked" "$(tls $CHILD games.test)" reset
expect "fail-static, store down: the second address (the file's) blocked" \
    "$(tls $CHILD2 games.test)" reset
expect "fail-static, store down: the child's kids.test served" "$(tls $CHILD kids.test)" 200
expect "fail-static, store down: the adult served" "$(tls $ADULT games.test)" 200
expect "fail-static, store down: an unmapped address served" "$(tls $UNMAPPED games.test)" 200
expect_match "fail-static: the node says where its subscribers come from" \
    "$(grep 'store unreachable; enforcing' "$QG_DIR/proxy2.log" | head -1)" \
    'enforcing 3 mappings and [0-9]+ tariff records from .*/state/subscribers\.img written at 20[0-9-]+T[0-9:]+Z'
metric() {
    fl curl -sS --max-time 5 --unix-socket "$SOCK" http://node/metrics |
        grep "^qorgau_subs_failstatic " | cut -d' ' -f2
}
expect "fail-static: qorgau_subs_failstatic 1" "$(metric)" 1
expect_match "fail-static: /api/v1/status subs_failstatic true" \
    "$(fl curl -sS --max-time 5 --unix-socket "$SOCK" http://node/api/v1/status)" '"subs_failstatic":true'
# the store back: the node loads it, the second address goes, the flag clears
start_redis redis2.log
qg_wait_port "$QG_FLT" $PORT || { bad "redis-server" "did not start again"; exit 1; }
i=0
while [ "$(metric)" != 0 ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
expect "store back: qorgau_subs_failstatic 0" "$(metric)" 0
expect_match "store back: the store's load replaced the copy" \
    "$(grep 'replaced the fail-static copy' "$QG_DIR/proxy2.log" | head -1)" '"mappings_removed":1'
expect "store back: the child's games.test still blocked" "$(tls $CHILD games.test)" reset
expect "store back: the second address, gone from the store, served" \
    "$(until_tls 200 $CHILD2 games.test)" 200
expect "store back: the adult served" "$(tls $ADULT games.test)" 200

# the directory store (one node, no tariff stream; docs/profiles.md "Where the settings live"):
# the node lists its mappings and tariff records at start, follows the mappings' log and the
# tariff file's change marker (a CLI change live within about a second, no reload), and reads
# both again on reload
qg_stop $NODE_PID
DSTORE=$QG_DIR/state3
mkdir -p "$DSTORE"
sed -e "s|^state_dir = .*|state_dir = $DSTORE|" -e '/^store = /d' "$QG_DIR/qorgau.conf" \
    >"$QG_DIR/dir.conf"
"$QG_BIN" profile --store "$DSTORE" set child block=games >/dev/null || bad "dir: profile set"
"$QG_BIN" subscriber --store "$DSTORE" set $CHILD 77010000017 >/dev/null 2>&1 || bad "dir: map child"
"$QG_BIN" subscriber --store "$DSTORE" set $CHILD2 77010000018 >/dev/null 2>&1 || bad "dir: map child2"
"$QG_BIN" subscriber --store "$DSTORE" profile 77010000018 child >/dev/null || bad "dir: child2"
qg_bg "$QG_DIR/proxy3.log" ip netns exec "$QG_FLT" "$QG_BIN" run -c "$QG_DIR/dir.conf" --foreground
NODE_PID=$QG_LAST_PID
qg_wait_port "$QG_FLT" 15001 || { bad "proxy" "did not start on the directory store"; exit 1; }
expect "dir store: a record present at start applies at once (child2 blocked)" \
    "$(tls $CHILD2 games.test)" reset
expect "dir store: the child without settings yet served" "$(tls $CHILD games.test)" 200
t0=$(date +%s%N)
"$QG_BIN" subscriber --store "$DSTORE" profile 77010000017 child >/dev/null || bad "dir: profile"
i=0
got=$(tls $CHILD games.test)
while [ "$got" != reset ] && [ $i -lt 20 ]; do
    sleep 0.1
    got=$(tls $CHILD games.test)
    i=$((i + 1))
done
ms=$((($(date +%s%N) - t0) / 1000000))
expect "dir store: the CLI's profile live without a reload (within 2 s)" \
    "$got $([ $ms -le 2000 ] && echo in-time)" "reset in-time"
echo "     the directory store's change live on the node after $ms ms (CLI included)"
n0=$(grep -c 'loaded from the directory store' "$QG_DIR/proxy3.log")
kill -HUP $NODE_PID
i=0
while [ "$(grep -c 'loaded from the directory store' "$QG_DIR/proxy3.log")" -le "$n0" ] &&
    [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
expect "dir store: reload read the store again" \
    "$(grep -c 'loaded from the directory store' "$QG_DIR/proxy3.log")" $((n0 + 1))
expect "dir store: after the reload the child still blocked" "$(tls $CHILD games.test)" reset
expect "dir store: after the reload child2 still blocked" "$(tls $CHILD2 games.test)" reset
"$QG_BIN" subscriber --store "$DSTORE" profile 77010000017 --del >/dev/null || bad "dir: del"
expect "dir store: the settings removed, the child served again" \
    "$(until_tls 200 $CHILD games.test)" 200
expect "dir store: child2 still blocked" "$(tls $CHILD2 games.test)" reset
# the parents API on the node's admin socket writes the same file
SOCK=$DSTORE/admin.sock
expect "dir store: parents API PUT" \
    "$(api_code PUT 77010000017 -H 'Content-Type: application/json' \
        --data '{"profile":"child","allow":[],"deny":[],"schedules":[]}')" 200
expect "dir store: the parents API's settings live (games.test reset)" \
    "$(until_tls reset $CHILD games.test)" reset
# a mapping set by the CLI while the node runs (the store's subs.log)
"$QG_BIN" subscriber --store "$DSTORE" set $UNMAPPED 77010000018 >/dev/null ||
    bad "dir: map a third address"
expect "dir store: an address mapped by the CLI while running blocked" \
    "$(until_tls reset $UNMAPPED games.test)" reset
"$QG_BIN" subscriber --store "$DSTORE" del $UNMAPPED >/dev/null || bad "dir: unmap"
expect "dir store: unmapped by the CLI, served again" "$(until_tls 200 $UNMAPPED games.test)" 200
expect "dir store: no fail-static copy (the store is the node's disk)" \
    "$(test -e "$DSTORE/subscribers.img" && echo yes || echo no)" no
exit 0
