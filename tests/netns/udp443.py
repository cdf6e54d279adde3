"""udp443.py MODE [-p PORT] ADDR... - a UDP socket on ADDR:443 (or PORT) for every ADDR, for the QUIC checks of the
live tests (Debian 12 has no QUIC server). Prints "ready" once bound, then:
  echo: prints "got LEN PEER" for each datagram and answers it with a 41-byte long-header packet
  sink: reads and drops everything (no answer, no ICMP error)
Runs until killed."""
import select
import socket
import sys

mode, addrs = sys.argv[1], sys.argv[2:]
port = 443
if addrs[:1] == ["-p"]:
    port, addrs = int(addrs[1]), addrs[2:]
ss = []
for a in addrs:
    s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a, port))
    ss.append(s)
print("ready", flush=True)
while True:
    for s in select.select(ss, [], [])[0]:
        d, peer = s.recvfrom(65535)
        if mode == "echo":
            print("got", len(d), peer[0], flush=True)
            s.sendto(b"\xc0" + bytes(40), peer)
