#!/bin/sh
# layers.sh - fails on an include that reaches up the layering.
#
# The source folders, lowest first. A file may include headers of its own folder and of the
# folders listed before it, never of a folder listed after it; every project include is written
# from the top of the tree ("proxy/flow/flowtab.h") so the check can see where it points.
# docs/architecture.md draws the same order. A folder that is not listed here fails the check
# too, so a new folder has to be given its place.
#
# Usage: tests/lint/layers.sh [FILE...]   (default: every tracked .c/.h under common rules proxy)
# Output: one line per violation, "FILE:LINE: includes HEADER (layer L) from layer K", exit 1.
set -u
LAYERS='
common
rules/match
rules/orders
rules/lists
rules/store
rules/report
rules/resolve
rules/subs
proxy/packet
proxy/capture
proxy/flow
proxy/dissect
proxy/judge
proxy/engine
proxy/enforce
proxy/daemon
proxy
'
cd "$(dirname "$0")/../.." || exit 2
if [ $# -eq 0 ]; then
    set -- $(git ls-files 'common/*.[ch]' 'rules/*.[ch]' 'proxy/*.[ch]')
fi
printf '%s\n' "$@" | awk -v layers="$LAYERS" '
function dir(p,   d) { d = p; sub(/\/[^\/]*$/, "", d); return (d == p) ? "." : d }
BEGIN {
    n = split(layers, L, "\n"); k = 0
    for (i = 1; i <= n; i++) if (L[i] != "") rank[L[i]] = ++k
    bad = 0
}
{
    file = $0; d = dir(file)
    if (!(d in rank)) { printf "%s: folder %s has no place in tests/lint/layers.sh\n", file, d; bad = 1; next }
    line = 0
    while ((getline s < file) > 0) {
        line++
        if (s !~ /^[ \t]*#[ \t]*include[ \t]*"/) continue
        h = s; sub(/^[^"]*"/, "", h); sub(/".*$/, "", h)
        hd = dir(h)
        if (hd == ".") { printf "%s:%d: include \"%s\" is not written from the top of the tree\n", file, line, h; bad = 1; continue }
        if ((getline t < h) < 0) { printf "%s:%d: include \"%s\": no such file from the top of the tree\n", file, line, h; bad = 1; continue }
        close(h)
        if (!(hd in rank)) { printf "%s:%d: include \"%s\": folder %s has no place in tests/lint/layers.sh\n", file, line, h, hd; bad = 1; continue }
        if (rank[hd] > rank[d]) { printf "%s:%d: includes %s (layer %s) from layer %s, which is below it\n", file, line, h, hd, d; bad = 1 }
    }
    close(file)
}
END { exit bad }
'
