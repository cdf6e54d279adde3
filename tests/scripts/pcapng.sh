#!/bin/sh
# `qorgau scan` reads pcapng exactly like pcap: a corpus capture rewritten as pcapng
# (tests/scripts/pcapng_convert.py) must give byte-identical decisions. libpcap is loaded only
# where it reads (proxy/capture/pcaplib.h): the classic pcap by the own reader without it, the
# pcapng through it (the dynamic loader's own account, LD_DEBUG=files). libcrypto is loaded by
# neither: a scan checks no signature (rules/orders/cryptolib.h), its QUIC ciphers are Nettle's;
# nor are libnetfilter_queue and libmnl, which only queue mode loads (proxy/capture/nfqlib.h).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${QG_BIN:-$top/build/qorgau}
corpus=${CORPUS:-$top/../shared/corpus}
src=$top/tests/fixtures/demo/demo.pcap
rules=$top/tests/fixtures/corpus/blocklist.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
for pcap in "$src" "$corpus/ipv6.pcap"; do
    [ -f "$pcap" ] || continue
    name=$(basename "$pcap" .pcap)
    python3 "$here/pcapng_convert.py" "$pcap" "$tmp/$name.pcapng" || { fail=$((fail + 1)); continue; }
    "$bin" scan --rules "$rules" "$pcap" >"$tmp/a" 2>/dev/null
    "$bin" scan --rules "$rules" "$tmp/$name.pcapng" >"$tmp/b" 2>/dev/null
    if [ -s "$tmp/a" ] && cmp -s "$tmp/a" "$tmp/b"; then
        echo "PASS $name: pcapng gives the same $(wc -l <"$tmp/a") decisions"
        pass=$((pass + 1))
    else
        echo "FAIL $name: pcapng output differs"; diff "$tmp/a" "$tmp/b" | head -5
        fail=$((fail + 1))
    fi
    LD_DEBUG=files "$bin" scan --rules "$rules" "$pcap" 2>"$tmp/lda" >/dev/null
    LD_DEBUG=files "$bin" scan --rules "$rules" "$tmp/$name.pcapng" 2>"$tmp/ldb" >/dev/null
    if grep -q 'file=libnettle' "$tmp/lda" && ! grep -q 'file=libpcap' "$tmp/lda" &&
        grep -q 'file=libpcap.so.0.8 \[0\];  dynamically loaded by' "$tmp/ldb" &&
        ! grep -q 'file=libcrypto\|file=libnetfilter_queue\|file=libmnl' "$tmp/lda" "$tmp/ldb"; then
        echo "PASS $name: libpcap loaded for the pcapng only; libcrypto, libnetfilter_queue, libmnl for neither"
        pass=$((pass + 1))
    else
        echo "FAIL $name: libpcap loaded for the pcap, or not for the pcapng, or another library loaded:"
        grep 'file=libpcap\|file=libcrypto\|file=libnetfilter_queue\|file=libmnl' "$tmp/lda" "$tmp/ldb" | head -4
        fail=$((fail + 1))
    fi
done
echo "pcapng: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
