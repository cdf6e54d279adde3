#!/bin/sh
# End to end over the real-client captures of ../shared/corpus: names and verdicts of every named
# flow must match the ground truth (tests/scripts/corpus_check.py says how).
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
exit $fail
