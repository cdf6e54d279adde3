#!/bin/sh
# evasion.sh - runs `qorgau scan` over the crafted evasion captures and checks each verdict.
#
# Env: QG_BIN   path of the qorgau binary   (default build/qorgau)
#      QG_TOOLS directory of the built tools (default build/tools), must hold mkevasion
#      QG_EVASION_KEEP=1 keeps the temporary directory (captures, scan output) for debugging
# The captures and expected.tsv come from `mkevasion DIR`; the generated table must equal the
# reviewed copy tests/fixtures/evasion/expected.tsv. For each row the decisive flow is the one whose
# "dst" is the row's server endpoint; its verdict is block if any of its lines says block.
# Prints "PASS|FAIL id description [(reason)]" per row and "evasion: N passed, M failed";
# exits 1 if any row failed, 2 if it could not run.
set -u

QG_BIN=${QG_BIN:-build/qorgau}
QG_TOOLS=${QG_TOOLS:-build/tools}
root=$(cd "$(dirname "$0")/../.." && pwd)
fix=$root/tests/fixtures/evasion

if [ ! -x "$QG_BIN" ]; then
    echo "evasion: $QG_BIN is not an executable (set QG_BIN)" >&2
    exit 2
fi
if [ ! -x "$QG_TOOLS/mkevasion" ]; then
    echo "evasion: $QG_TOOLS/mkevasion is not built (set QG_TOOLS)" >&2
    exit 2
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "evasion: python3 is needed to read the scan output" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qg-evasion.XXXXXX") || exit 2
if [ "${QG_EVASION_KEEP:-0}" = 1 ]; then
    echo "evasion: keeping $tmp"
else
    trap 'rm -rf "$tmp"' EXIT
    trap 'rm -rf "$tmp"; exit 2' INT TERM
fi

"$QG_TOOLS/mkevasion" "$tmp" || { echo "evasion: mkevasion failed" >&2; exit 2; }
if ! diff -u "$fix/expected.tsv" "$tmp/expected.tsv" >&2; then
    echo "evasion: mkevasion's expected.tsv differs from tests/fixtures/evasion/expected.tsv" >&2
    echo "evasion: (update the fixture when a row is added or changed on purpose)" >&2
    exit 2
fi

# Scan every capture; keep stdout, stderr and the exit code per file.
grep -v '^#' "$tmp/expected.tsv" | cut -f1 | while read -r f; do
    "$QG_BIN" scan --rules "$fix/rules.txt" "$tmp/$f" >"$tmp/$f.out" 2>"$tmp/$f.err"
    echo $? >"$tmp/$f.rc"
done

python3 - "$tmp" <<'EOF'
import json
import sys

d = sys.argv[1]


def endpoint(s):
    """'10.0.0.1:443', '[fd00::1]:443' or 'fd00::1:443' -> ('fd00::1', '443')."""
    host, _, port = s.rpartition(":")
    return host.strip("[]"), port


passed = failed = 0
for line in open(f"{d}/expected.tsv", encoding="utf-8"):
    if line.startswith("#") or not line.strip():
        continue
    f, want, method, name, server, rid, desc = line.rstrip("\n").split("\t")
    why = None
    rc = open(f"{d}/{f}.rc").read().strip()
    events = []
    if rc != "0":
        err = open(f"{d}/{f}.err", errors="replace").read().strip().splitlines()
        why = f"scan exited {rc}: {err[-1] if err else ''}"
    else:
        for n, raw in enumerate(open(f"{d}/{f}.out", errors="replace"), 1):
            raw = raw.strip()
            if not raw:
                continue
            try:
                ev = json.loads(raw)
            except ValueError:
                why = f"line {n} of the output is not JSON"
                break
            if isinstance(ev, dict) and endpoint(str(ev.get("dst", ""))) == endpoint(server):
                events.append(ev)
    if why is None:
        if not events:
            why = f"no decision for the flow to {server}"
        else:
            blocks = [e for e in events if e.get("verdict") == "block"]
            got = "block" if blocks else "pass"
            if got != want:
                names = ",".join(sorted({str(e.get("name")) for e in events}))
                why = f"got {got}, want {want} (names seen: {names})"
            elif want == "block":
                b = blocks[0]
                if method != "-" and b.get("method") != method:
                    why = f"blocked by method {b.get('method')}, want {method}"
                elif name != "-" and b.get("name") != name:
                    why = f"blocked with name {b.get('name')}, want {name}"
            elif name != "-" and not any(e.get("name") == name for e in events):
                names = ",".join(sorted({str(e.get("name")) for e in events}))
                why = f"passed, but name {name} never reported (names seen: {names})"
    if why is None:
        passed += 1
        print(f"PASS {rid} {desc}")
    else:
        failed += 1
        print(f"FAIL {rid} {desc} ({why})")
print(f"evasion: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
EOF
