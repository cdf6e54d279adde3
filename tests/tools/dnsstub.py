#!/usr/bin/env python3
"""dnsstub.py - a small authoritative DNS server on loopback for the resolver tests and bench.

Usage: dnsstub.py ZONE.json [PORT]   (PORT 0 or absent: a free port; the port is printed on
stdout's first line). The zone file is read again whenever its mtime changes, so a test changes
the answers by rewriting it (write a new file and rename it over the old one: the zone is read
again for every query). Format:
  {"names": {"x.kz": {"A": ["192.0.2.1"], "AAAA": ["2001:db8::1"], "ttl": 30,
                      "rcode": 0, "drop": false}},
   "synth": {"suffix": ".bench", "ttl": 300}}
rcode: 0 answers, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED; drop: no answer at all (a timeout).
synth: any name ending in suffix gets one A (10.x.y.z from a hash of the name) and one AAAA.
Names neither listed nor synthesized get NXDOMAIN. Standard library only (socket, struct)."""
import json
import os
import socket
import struct
import sys
import zlib


def load(path, cache):
    """The zone, read again for every query (a change is seen at once, even one that keeps the
    file's size and time stamp); the last good one while the file is missing or half-written."""
    try:
        with open(path) as f:
            cache[1] = json.load(f)
    except (OSError, ValueError):
        pass
    return cache[1]


def parse_question(q):
    labels, i = [], 12
    while True:
        n = q[i]
        if n == 0:
            i += 1
            break
        if n & 0xC0:
            return None
        labels.append(q[i + 1:i + 1 + n].decode('ascii', 'replace').lower())
        i += 1 + n
    qtype, qclass = struct.unpack('!HH', q[i:i + 4])
    return '.'.join(labels), qtype, qclass, q[12:i + 4]


def answer(zone, q):
    if len(q) < 17:
        return None
    ident, flags, qd = struct.unpack('!HHH', q[:6])
    if qd != 1 or flags & 0x8000:
        return None
    p = parse_question(q)
    if not p:
        return None
    name, qtype, _, question = p
    rec = zone.get('names', {}).get(name)
    synth = zone.get('synth')
    if rec is None and synth and name.endswith(synth['suffix']):
        h = zlib.crc32(name.encode())
        rec = {'A': ['10.%d.%d.%d' % ((h >> 16) & 255, (h >> 8) & 255, h & 255)],
               'AAAA': ['fd00::%x:%x' % ((h >> 16) & 0xffff, h & 0xffff)],
               'ttl': synth.get('ttl', 300)}
    rcode, rrs = 3, []
    if rec is not None:
        if rec.get('drop'):
            return None
        rcode = rec.get('rcode', 0)
        ttl = rec.get('ttl', 300)
        if rcode == 0 and qtype == 1:
            rrs = [struct.pack('!HHHIH', 0xC00C, 1, 1, ttl, 4) + socket.inet_pton(socket.AF_INET, a)
                   for a in rec.get('A', [])]
        elif rcode == 0 and qtype == 28:
            rrs = [struct.pack('!HHHIH', 0xC00C, 28, 1, ttl, 16) +
                   socket.inet_pton(socket.AF_INET6, a) for a in rec.get('AAAA', [])]
    head = struct.pack('!HHHHHH', ident, 0x8400 | (flags & 0x0100) | 0x0080 | rcode, 1,
                       len(rrs), 0, 0)
    return head + question + b''.join(rrs)


def main():
    path = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(('127.0.0.1', port))
    # one write, so a reader never sees half of it; the reader may close the pipe afterwards
    os.write(1, b'%d\n' % s.getsockname()[1])
    cache = [None, {}]
    while True:
        q, peer = s.recvfrom(4096)
        try:
            r = answer(load(path, cache), q)
        except (ValueError, IndexError, struct.error):
            r = None
        if r:
            s.sendto(r, peer)


if __name__ == '__main__':
    main()
