#!/bin/sh
# End to end over the real-client captures of ../shared/corpus: names and verdicts of every named
# flow must match the ground truth (tests/scripts/corpus_check.py says how); the rules compiled
# to an image (`qorgau rules compile`, `scan --image`) must give the same decisions.
# Env: QG_BIN (the qorgau binary). CORPUS (default ../shared/corpus).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
corpus=${CORPUS:-$top/../shared/corpus}
bin=${QG_BIN:-$top/build/qorgau}
rules=$top/tests/fixtures/corpus/blocklist.txt
if [ ! -d "$corpus" ]; then
    echo "corpus: $corpus not found; this test needs the shared corpus" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0
for pcap in "$corpus"/*.pcap; do
    base=${pcap%.pcap}
    name=$(basename "$base")
    if ! "$bin" scan --rules "$rules" "$pcap" >"$tmp/$name.jsonl" 2>"$tmp/$name.err"; then
        echo "FAIL corpus $name: qorgau scan exited non-zero:"; cat "$tmp/$name.err"; fail=1; continue
    fi
    python3 "$here/corpus_check.py" "$base.json" "$rules" "$tmp/$name.jsonl" || fail=1
    n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "corpus: no captures in $corpus"; exit 1; }
# the same rules compiled beforehand (qorgau rules compile) and loaded as an image: the same
# decisions, line for line
if "$bin" rules compile -o "$tmp/rules.img" "$rules" 2>"$tmp/img.err"; then
    for pcap in "$corpus"/*.pcap; do
        name=$(basename "${pcap%.pcap}")
        [ -f "$tmp/$name.jsonl" ] || continue
        if "$bin" scan --image "$tmp/rules.img" "$pcap" >"$tmp/$name.img.jsonl" 2>>"$tmp/img.err" &&
            cmp -s "$tmp/$name.jsonl" "$tmp/$name.img.jsonl"; then
            echo "corpus $name: scan --image: same decisions as --rules"
        else
            echo "FAIL corpus $name: scan --image differs from --rules"; cat "$tmp/img.err"; fail=1
        fi
    done
else
    echo "FAIL corpus: qorgau rules compile:"; cat "$tmp/img.err"; fail=1
fi
exit $fail
