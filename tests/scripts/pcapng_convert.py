#!/usr/bin/env python3
"""Rewrites a classic pcap file as pcapng (SHB, one IDB, one EPB per packet), keeping every
packet byte and timestamp, so `qorgau scan` can be checked to read both formats the same.

usage: pcapng_convert.py IN.pcap OUT.pcapng"""
import struct
import sys


def block(btype, body):
    pad = (-len(body)) % 4
    total = 12 + len(body) + pad
    return struct.pack('<II', btype, total) + body + b'\0' * pad + struct.pack('<I', total)


def main():
    data = open(sys.argv[1], 'rb').read()
    magic, _, _, _, _, snaplen, linktype = struct.unpack('<IHHiIII', data[:24])
    if magic != 0xa1b2c3d4:
        sys.exit('pcapng_convert: %s: not a little-endian microsecond pcap' % sys.argv[1])
    out = [block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1)),
           block(0x00000001, struct.pack('<HHI', linktype, 0, snaplen))]
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack('<IIII', data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ts = sec * 1000000 + usec  # default if_tsresol: microseconds
        out.append(block(0x00000006, struct.pack('<IIIII', 0, ts >> 32, ts & 0xffffffff, incl, orig) + pkt))
    open(sys.argv[2], 'wb').write(b''.join(out))


if __name__ == '__main__':
    main()
