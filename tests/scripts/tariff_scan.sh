#!/bin/sh
# Child tariffs over a capture (`qorgau scan`, docs/profiles.md): the same client address
# judged as a child and as an adult subscriber, allow-list mode, a schedule driven by the
# capture's own clock, parental allow and deny lists, a regulator order that applies whatever
# the profile, and subscriber ids that never appear in clear unless asked for; the same inputs
# compiled into a tariff image (`qorgau tariff compile`) deciding the same.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${QG_BIN:-$top/build/qorgau}
pcap=$top/tests/fixtures/demo/demo.pcap # client 127.0.0.1; Sat 2026-11-28 19:45 at +05:00
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

mkdir -p "$tmp/cats/gambling" "$tmp/cats/social" "$tmp/cats/video"
echo "casino-online.example" >"$tmp/cats/gambling/domains"
printf 'facebook.com\ninstagram.com\n' >"$tmp/cats/social/domains"
printf 'youtube.com\nytimg.com\n' >"$tmp/cats/video/domains"
echo "blocked-site.example" >"$tmp/regulator.txt"
printf '0123456789abcdef0123\n' >"$tmp/secret"

# scan NAME PROFILES SUBSCRIBERS [extra args]: decisions in $tmp/NAME.json
scan() {
    n=$1 p=$2 s=$3
    shift 3
    printf '%b' "$p" >"$tmp/$n.prof"
    printf '%b' "$s" >"$tmp/$n.subs"
    "$bin" scan --rules "$tmp/regulator.txt" --categories "$tmp/cats" --profiles "$tmp/$n.prof" \
        --subscribers "$tmp/$n.subs" --privacy-secret "$tmp/secret" "$@" "$pcap" \
        >"$tmp/$n.json" 2>"$tmp/$n.err"
}
# count NAME JQ-LIKE-PYTHON-EXPR: decisions of NAME for which the expression holds
count() {
    python3 -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    d = json.loads(l)
    if eval(sys.argv[2]): n += 1
print(n)' "$tmp/$1.json" "$2"
}
expect() { # what got want
    if [ "$2" = "$3" ]; then ok "$1 ($2)"; else bad "$1: got $2, want $3"; fi
}

PROFILES='profile child block=gambling,video\nprofile strict allowlist=yes allow=social\n'
PROFILES="${PROFILES}profile night sched=*@sat/19:00-20:00\nprofile morning sched=*@sat/20:00-21:00\n"
PROFILES="${PROFILES}subscriber 77010000001 profile=child pallow=www.youtube.com pdeny=discord.com\n"
PROFILES="${PROFILES}subscriber 77010000002 profile=strict\nsubscriber 77010000004 profile=night\n"
PROFILES="${PROFILES}subscriber 77010000005 profile=morning\n"

# the child: categories and parental lists; the regulator's order stays the regulator's
scan child "$PROFILES" '127.0.0.1 77010000001\n'
expect "child: gambling blocked by the profile" \
    "$(count child 'd["name"]=="casino-online.example" and d.get("cause")=="profile" and d["category"]=="gambling"')" 4
expect "child: video (i.ytimg.com) blocked by the profile" \
    "$(count child 'd["name"]=="i.ytimg.com" and d.get("cause")=="profile" and d["category"]=="video"')" 4
expect "child: www.youtube.com passes (parental allow over the category)" \
    "$(count child 'd["name"]=="www.youtube.com" and d["verdict"]=="pass"')" 2
expect "child: discord.com blocked by the parental deny list" \
    "$(count child 'd["name"]=="discord.com" and d.get("cause")=="parental"')" 2
expect "child: the regulator's block stays the regulator's" \
    "$(count child 'd["name"]=="blocked-site.example" and d.get("cause")=="regulator" and d["method"]=="domain"')" 4
expect "child: social passes" "$(count child 'd["name"]=="www.facebook.com" and d["verdict"]=="pass"')" 5
expect "child: HTTP blocks answer with the tariff page (no notice URL: 403 page)" \
    "$(count child 'd.get("cause")=="profile" and d["app"]=="http" and d["action"]=="451"')" 2
# (the regulator's blocks do not ask the tariff side: no subscriber lookup for them)
expect "child: the subscriber is a pseudonym, never the MSISDN" \
    "$(count child '"7701" in l or d.get("cause")!="regulator" and not d["subscriber"].startswith("p-")')" 0
expect "child: every other decision names the profile" \
    "$(count child 'd.get("cause")!="regulator" and d["profile"]!="child"')" 0

# an adult (no settings: the default profile) behind the same address: nothing but orders
scan adult "$PROFILES" '127.0.0.1 77010000003\n'
expect "adult: only the regulator's blocks" "$(count adult 'd["verdict"]=="block"')" 4
expect "adult: no tariff cause" "$(count adult 'd.get("cause") not in (None, "regulator")')" 0

# allow-list mode: only social is reachable
scan strict "$PROFILES" '127.0.0.1 77010000002\n'
expect "strict: social passes" "$(count strict 'd["verdict"]=="pass"')" \
    "$(count strict 'd["name"] in ("www.facebook.com","instagram.com")')"
expect "strict: everything else is blocked by the allow list" \
    "$(count strict 'd["verdict"]=="block" and d.get("cause")=="allowlist"')" \
    "$(count strict 'd["name"] not in ("www.facebook.com","instagram.com","blocked-site.example")')"

# schedules, at the capture's time (Saturday 19:45 local)
scan night "$PROFILES" '127.0.0.1 77010000004\n'
expect "schedule 19:00-20:00: everything but orders blocked" \
    "$(count night 'd.get("cause")=="schedule"')" "$(count night 'd["name"]!="blocked-site.example"')"
scan morning "$PROFILES" '127.0.0.1 77010000005\n'
expect "schedule 20:00-21:00: not yet" "$(count morning 'd.get("cause")=="schedule"')" 0
scan nightutc "$PROFILES" '127.0.0.1 77010000004\n' --timezone UTC
expect "the same schedule in UTC (14:45): not in the window" \
    "$(count nightutc 'd.get("cause")=="schedule"')" 0

# ids in clear only when asked for; an unknown client gets the default profile
scan clear "$PROFILES" '127.0.0.1 77010000001\n' --clear-ids
expect "--clear-ids writes the MSISDN" "$(count clear 'd["subscriber"]=="77010000001"')" \
    "$(count clear 'd.get("cause")!="regulator"')"
# a clear id with a quote and a backslash (printable ASCII is a valid id): escaped in the JSON
scan quoted "$PROFILES" '127.0.0.1 u"s\\\\er\n' --clear-ids
expect "--clear-ids escapes a quote and a backslash of an id" \
    "$(count quoted 'd["subscriber"]=="u\"s\\\\er"')" \
    "$(count quoted 'd.get("cause")!="regulator"')"
scan nobody "$PROFILES" '10.9.9.9 77010000001\n'
expect "a client not in the map: no subscriber, the default profile" \
    "$(count nobody 'd["subscriber"] is not None or d["verdict"]=="block" and d.get("cause")!="regulator"')" 0

# bad lines are reported with file:line and skipped; the good ones are kept
scan badline 'profile child block=gambling\nprofile broken block=\nsubscriber 77010000001 profile=child\n' \
    '127.0.0.1 77010000001\nnot-an-address x\n'
if grep -q "badline.prof:2: profile broken" "$tmp/badline.err" &&
    grep -q "badline.subs:2:" "$tmp/badline.err"; then
    ok "bad lines reported with file:line"
else
    bad "bad lines not reported: $(cat "$tmp/badline.err")"
fi
expect "the good lines still apply" "$(count badline 'd.get("cause")=="profile"')" 4

# a subscribers file read ahead of the lines set: comments, CRLF ends, more lines than the
# read-ahead, a bad line named by its number, the client on a last line without a newline
SUBS='# map\r\n10.0.0.1 77019000000\r\n\n'
for i in 1 2 3 4 5 6 7 8 9 10; do SUBS="${SUBS}10.0.1.$i 7701900000$i\n"; done
scan readahead "$PROFILES" "${SUBS}10.0.0.300 77019000099\n127.0.0.1 77010000001"
if grep -q "readahead.subs:14: subscriber address '10.0.0.300'" "$tmp/readahead.err" &&
    [ "$(grep -c '^subscribers:' "$tmp/readahead.err")" -eq 1 ]; then
    ok "read ahead: the bad line named by its number, alone"
else
    bad "read ahead: $(cat "$tmp/readahead.err")"
fi
expect "read ahead: the last line's client is the child" \
    "$(count readahead 'd.get("cause")=="profile" and d["profile"]=="child"')" \
    "$(count child 'd.get("cause")=="profile"')"

# the same inputs compiled into a tariff image: the same decisions, byte for byte (the summary
# line aside); the text options refused beside it; a damaged image refused with its reason
for n in child strict night; do
    if "$bin" tariff compile -o "$tmp/$n.timg" --categories "$tmp/cats" --profiles "$tmp/$n.prof" \
        --subscribers "$tmp/$n.subs" >"$tmp/$n.tc" 2>&1 &&
        "$bin" scan --rules "$tmp/regulator.txt" --tariff-image "$tmp/$n.timg" \
            --privacy-secret "$tmp/secret" "$pcap" >"$tmp/$n.img.json" 2>"$tmp/$n.img.err" &&
        [ "$(grep -v '"summary"' "$tmp/$n.img.json")" = "$(grep -v '"summary"' "$tmp/$n.json")" ]; then
        ok "tariff image: $n decided as from the text files"
    else
        bad "tariff image: $n: $(cat "$tmp/$n.tc" "$tmp/$n.img.err" 2>/dev/null | head -5)"
    fi
done
if grep -q "3 categories, 4 profiles, 4 subscriber settings, 1 address mappings" "$tmp/child.tc"; then
    ok "tariff compile prints the counts"
else
    bad "tariff compile counts: $(cat "$tmp/child.tc")"
fi
# bad lines: reported, the rest compiled, exit 1 (a gate, as rules compile)
"$bin" tariff compile -o "$tmp/badline.timg" --categories "$tmp/cats" \
    --profiles "$tmp/badline.prof" --subscribers "$tmp/badline.subs" >/dev/null 2>"$tmp/bl.err"
rc=$?
if [ "$rc" -eq 1 ] && [ -s "$tmp/badline.timg" ] && grep -q "badline.prof:2: profile broken" "$tmp/bl.err" &&
    grep -q "badline.subs:2:" "$tmp/bl.err" && grep -q "2 lines or definitions were rejected" "$tmp/bl.err"; then
    ok "tariff compile: bad lines named, the rest written, exit 1"
else
    bad "tariff compile with bad lines: exit $rc: $(cat "$tmp/bl.err")"
fi
if ! "$bin" scan --tariff-image "$tmp/child.timg" --profiles "$tmp/child.prof" "$pcap" \
    >/dev/null 2>"$tmp/excl.err" && grep -q "excludes" "$tmp/excl.err"; then
    ok "--tariff-image with the text options refused"
else
    bad "--tariff-image with --profiles: $(cat "$tmp/excl.err")"
fi
cp "$tmp/child.timg" "$tmp/bad.timg"
printf 'X' | dd of="$tmp/bad.timg" bs=1 seek=200 conv=notrunc 2>/dev/null
if ! "$bin" scan --tariff-image "$tmp/bad.timg" "$pcap" >/dev/null 2>"$tmp/bad.err" &&
    grep -q "tariff image $tmp/bad.timg: checksum mismatch" "$tmp/bad.err"; then
    ok "a damaged tariff image refused, named"
else
    bad "damaged tariff image: $(cat "$tmp/bad.err")"
fi

echo "tariff_scan: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
