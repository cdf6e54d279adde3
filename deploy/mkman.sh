#!/bin/sh
# mkman.sh - builds the manual pages into OUTDIR: qorgau.8 with the version filled in, and
# qorgau.conf.5 whose KEYS section is the key table of `qorgau config doc` (one .TP entry a
# key), so the page cannot drift from the binary.
# usage: deploy/mkman.sh QORGAU_BINARY OUTDIR
set -eu
bin=$1 out=$2
src=$(cd "$(dirname "$0")/.." && pwd)/docs/man
mkdir -p "$out"
ver=$("$bin" version | sed 's/^qorgau //')
sed "s/@VERSION@/$ver/" "$src/qorgau.8" >"$out/qorgau.8"
# A markdown row "| `key` | type | allowed | default | sighup | description |" becomes
#   .TP / .B key / type; allowed; default; on SIGHUP / description
# with backslashes escaped, backquotes dropped and a leading dot or quote made literal.
"$bin" config doc | awk '
function esc(s) {
    gsub(/\\/, "\\e", s)
    gsub(/`/, "", s)
    gsub(/-/, "\\-", s)
    sub(/^[.'"'"']/, "\\\\\\&&", s)
    return s
}
NR > 2 && /^\| / {
    line = substr($0, 3, length($0) - 4)
    n = split(line, f, / \| /)
    if (n < 6) { print "mkman: cannot read config doc line " NR > "/dev/stderr"; exit 1 }
    desc = f[6]
    for (i = 7; i <= n; i++) desc = desc " | " f[i]
    print ".TP"
    print ".B " esc(f[1])
    print "\\fI" esc(f[2]) "\\fR; " esc(f[3]) "; default " esc(f[4]) "; on SIGHUP: " esc(f[5]) "."
    print ".br"
    print esc(desc)
}' >"$out/keys.roff"
[ -s "$out/keys.roff" ] || { echo "mkman: no keys from $bin config doc" >&2; exit 1; }
awk -v keys="$out/keys.roff" '
/^@KEYS@$/ { while ((getline l < keys) > 0) print l; next }
{ print }' "$src/qorgau.conf.5.in" | sed "s/@VERSION@/$ver/" >"$out/qorgau.conf.5"
rm -f "$out/keys.roff"
