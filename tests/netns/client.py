#!/usr/bin/env python3
"""Small clients for the namespace tests (run inside the client namespace).

  client.py split NAME ADDR PORT      a real ClientHello for NAME written in two TCP segments,
                                      split inside the server name; prints what came back:
                                      serverhello | alert:<desc> | reset | eof | timeout
  client.py httpbytes HOST ADDR PORT   an HTTP/1.1 GET /small?h=HOST, Host HOST, one byte a segment;
                                      prints http:CODE | reset | eof | timeout
  client.py keepalive ADDR PORT H1 H2 two HTTP/1.1 requests on one connection (Host H1, then
                                      H2); prints the two status codes ("200 302")
  client.py hold NAME ADDR PORT TRIGGER [TRIES]
                                      one TLS connection (name NAME, not verified) that fetches
                                      /small with HTTP/1.1, prints "open", then waits until the
                                      file TRIGGER exists and fetches /small again on the same
                                      connection (up to TRIES times, 0.3 s apart, while answered);
                                      prints http:CODE | reset | eof | timeout
  client.py idle ADDR PORT N SECS     N kept-alive HTTP connections, one request each, then
                                      prints "ready" and holds them SECS seconds
  client.py slow NAME ADDR PORT PIECES PAUSE
                                      a real ClientHello for NAME in PIECES pieces with PAUSE
                                      seconds between them: PIECES - 1 of 20 bytes, then the
                                      rest (with the name); prints what came back (as split)
  client.py flood ADDR PORT N SECS    N connections that each send the first 20 bytes of a
                                      ClientHello and stop; prints "ready OPEN" (OPEN: those
                                      not reset after a second), holds them SECS seconds
  client.py synflood SRC ADDR PORT N  N bare SYNs from SRC (random ports) to ADDR:PORT through
                                      a raw socket (IPv4), as fast as they go; prints the count
  client.py segs NAME ADDR PORT MSS    the ClientHello in one write on a connection with that
                                      MSS (TCP_MAXSEG): back-to-back segments; what came back
  client.py udpflood ADDR PORT N [SRC]
                                      N 32-byte datagrams to ADDR:PORT, each from a new socket
                                      (a new source port; from SRC); prints the count
  client.py initflood ADDR PORT N      20 small datagrams, then N 1200-byte datagrams shaped like
                                      QUIC v1 Initials, from one socket; prints N sent
  client.py syndata SRC NAME ADDR PORT
                                      a SYN carrying a TCP Fast Open option (an 8-byte cookie)
                                      and the ClientHello for NAME, from SRC (a random port)
                                      through a raw socket (IPv4 or IPv6); prints "sent"
  client.py desync FOOL FAKE REAL ADDR PORT
                                      zapret's fake strategy: connect, send a fake ClientHello
                                      for FAKE (an HTTP request when PORT is 80; junk when FAKE is
                                      "zero") at the connection's next sequence number through a
                                      raw socket, fooled so the server drops it (FOOL: badsum,
                                      md5sig, badseq, noack, or ttl1 - IP TTL / hop limit 1, lost
                                      at the first router; "+"-joined, "+repeats" sends the fake
                                      3 times), then the real ClientHello (request) for REAL on
                                      the socket; prints what came back (as split, or http:CODE).
                                      IPv4 and IPv6.
  client.py reuse NAME1 NAME2 ADDR PORT
                                      two connections from one source port (the 4-tuple
                                      reused): a ClientHello for NAME1, the answer read, the
                                      socket closed by a reset (SO_LINGER 0: no TIME_WAIT), then
                                      at once a ClientHello for NAME2 from the same port; prints
                                      both answers ("serverhello reset")
  client.py reopen NAME1 NAME2 ADDR PORT PAUSE MARK
                                      a TLS connection for NAME1 sends a request (Connection:
                                      close), sets SO_MARK MARK on its socket (the caller drops
                                      this host's packets so marked: the server's answer and
                                      FIN are never acknowledged), reads the answer, drops the
                                      socket by a reset that is lost too and, PAUSE seconds later (the
                                      server gave the connection up), a new connection from the
                                      same port sends a ClientHello for NAME2; prints whether
                                      the first answer came and what came back on the second
                                      ("http:200 reset")
  client.py rawsend MODE NAME ADDR PORT
                                      the real ClientHello for NAME sent by hand (IPv4, raw
                                      socket) the way zapret sends it, after queueing it on the
                                      socket in TCP repair mode so the kernel counts it as sent
                                      (it retransmits it only if the hand-made packets are lost):
                                      ipfrag2 (IP fragments, the boundary inside the TCP
                                      header), multidisorder (segments cut inside the name, sent
                                      last first), seqovl (the first segment starts 600 bytes
                                      below the window's left edge, junk in front), hostfakesplit
                                      (the name's piece sent twice, a bad-checksum fake of an
                                      allowed name beside it; "hostfakesplit:ttl1": TTL-1 fakes
                                      instead); prints what came back (as split)
"""
import os
import random
import struct
import socket
import ssl
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def hello_bytes(name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def answer(s):
    try:
        data = s.recv(4096)
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "timeout"
    if not data:
        return "eof"
    if data[0] == 0x15 and len(data) >= 7:
        return "alert:%d" % data[6]
    if data[0] == 0x16:
        return "serverhello"
    if data.startswith(b"HTTP/") and len(data.split()) > 1:
        return "http:" + data.split()[1].decode()
    return "other"


def big_hello(name, pad, sni_last):
    """hello_bytes(name) with a padding extension (21) of PAD zero bytes added, server_name moved
    after it when SNI_LAST (else left first), re-cut into TLS records of at most 16384 bytes
    (OpenSSL takes ClientHellos up to 128 KiB, over several records)."""
    rec = hello_bytes(name)
    assert rec[0] == 0x16
    msg = rec[5:5 + int.from_bytes(rec[3:5], "big")]
    assert msg[0] == 1
    body = msg[4:]
    p = 2 + 32
    p += 1 + body[p]                                   # session id
    p += 2 + int.from_bytes(body[p:p + 2], "big")      # cipher suites
    p += 1 + body[p]                                   # compression methods
    head, exts = body[:p], body[p + 2:p + 2 + int.from_bytes(body[p:p + 2], "big")]
    items, q = [], 0
    while q < len(exts):
        t, n = int.from_bytes(exts[q:q + 2], "big"), int.from_bytes(exts[q + 2:q + 4], "big")
        items.append((t, exts[q:q + 4 + n]))
        q += 4 + n
    sni = [e for t, e in items if t == 0]
    rest = [e for t, e in items if t not in (0, 21)]
    padding = (21).to_bytes(2, "big") + int(pad).to_bytes(2, "big") + bytes(int(pad))
    order = rest + [padding] + sni if sni_last else sni + rest + [padding]
    ext = b"".join(order)
    body = head + len(ext).to_bytes(2, "big") + ext
    msg = b"\x01" + len(body).to_bytes(3, "big") + body
    out = b""
    for i in range(0, len(msg), 16384):
        part = msg[i:i + 16384]
        out += b"\x16\x03\x01" + len(part).to_bytes(2, "big") + part
    return out


def bighello(name, addr, port, pad, where):
    """A ClientHello padded by PAD bytes, its server_name first or last (WHERE); what came back."""
    hello = big_hello(name, pad, where == "last")
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect((addr, int(port)))
    try:
        s.sendall(hello)
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    return answer(s)


def split(name, addr, port):
    hello = hello_bytes(name)
    at = hello.find(name.encode())
    assert at > 0, "no SNI in the hello"
    cut = at + len(name) // 2
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(5)
    s.connect((addr, int(port)))
    s.sendall(hello[:cut])
    time.sleep(0.3)
    try:
        s.sendall(hello[cut:])
    except ConnectionResetError:  # reset on the first piece (a filter that cannot read it)
        return "reset"
    return answer(s)


def slow(name, addr, port, pieces, pause):
    hello = hello_bytes(name)
    n = int(pieces)
    # n - 1 pieces of 20 bytes (the record and handshake headers, the random: no name yet),
    # then the rest, which holds the name
    cuts = [20 * i for i in range(n)] + [len(hello)]
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(5)
    s.connect((addr, int(port)))
    try:
        for i in range(n):
            if i:
                time.sleep(float(pause))
            s.sendall(hello[cuts[i]:cuts[i + 1]])
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    return answer(s)


def segs(name, addr, port, mss):
    """The ClientHello in one write on a connection whose MSS is MSS: the kernel sends it as
    back-to-back segments of MSS bytes; what came back."""
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, int(mss))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(5)
    s.connect((addr, int(port)))
    try:
        s.sendall(hello_bytes(name))
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    return answer(s)


def onebyte(data, addr, port, pause):
    """DATA one byte a segment, PAUSE seconds apart so none coalesce; what came back."""
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(5)
    s.connect((addr, int(port)))
    try:
        for i in range(len(data)):
            s.send(data[i:i + 1])
            time.sleep(float(pause))
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    return answer(s)


def bytewise(name, addr, port, pause="0.001"):
    """The ClientHello one byte a segment (EVASION T2), PAUSE seconds (1 ms) apart."""
    return onebyte(hello_bytes(name), addr, port, pause)


def reuse(name1, name2, addr, port):
    got, sport = [], 0
    for name in (name1, name2):
        s = socket.socket(family(addr), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.settimeout(5)
        if sport:
            s.bind(("::" if family(addr) == socket.AF_INET6 else "0.0.0.0", sport))
        try:
            s.connect((addr, int(port)))
        except OSError as e:
            got.append("connect:%d" % (e.errno or 0))
            s.close()
            continue
        sport = s.getsockname()[1]
        try:
            s.sendall(hello_bytes(name))
            got.append(answer(s))
        except ConnectionResetError:
            got.append("reset")
        s.close()
    return " ".join(got)


def reopen(name1, name2, addr, port, pause, mark):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.socket(family(addr), socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the request leaves at once
    raw.settimeout(5)
    raw.connect((addr, int(port)))
    sport = raw.getsockname()[1]
    first = "none"
    try:
        t = ctx.wrap_socket(raw, server_hostname=name1)
        raw = t
        t.sendall(("GET /small HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % name1).encode())
        # from here on nothing this host sends on the connection leaves (not even the ACK of
        # the answer or of the server's FIN, which could otherwise close it in time)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, int(mark, 0))
        data = t.recv(4096)
        while data and not data.startswith(b"HTTP/"):  # TLS 1.3 session tickets read first
            data = t.recv(4096)
        if data.startswith(b"HTTP/") and len(data.split()) > 1:
            first = "http:" + data.split()[1].decode()
    except ConnectionResetError:
        first = "reset"
    except socket.timeout:
        first = "timeout"
    except ssl.SSLError as e:
        first = "tls:" + (e.reason or "error")
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()
    time.sleep(float(pause))
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(5)
    s.bind(("::" if family(addr) == socket.AF_INET6 else "0.0.0.0", sport))
    try:
        s.connect((addr, int(port)))
        s.sendall(hello_bytes(name2))
        second = answer(s)
    except ConnectionResetError:
        second = "reset"
    except socket.timeout:
        second = "timeout"
    except OSError as e:
        second = "connect:%d" % (e.errno or 0)
    s.close()
    return first + " " + second


def httpbytes(host, addr, port):
    """An HTTP request head one byte a segment (EVASION T2 for Host), 1 ms apart."""
    req = "GET /small?h=%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (host, host)
    return onebyte(req.encode(), addr, port, "0.001")


def flood(addr, port, n, secs):
    part = hello_bytes("blocked.test")[:20]
    socks = []
    for _ in range(int(n)):
        s = socket.socket(family(addr), socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect((addr, int(port)))
            s.sendall(part)
        except OSError:
            s.close()
            continue
        socks.append(s)
    time.sleep(1)
    open_n = 0
    for s in socks:
        s.setblocking(False)
        try:
            s.recv(1)
        except BlockingIOError:
            open_n += 1  # still waiting: the proxy holds it
        except OSError:
            pass
    print("ready %d" % open_n, flush=True)
    time.sleep(float(secs))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff


def synflood(src, addr, port, n):
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sa, da = socket.inet_aton(src), socket.inet_aton(addr)
    sent = 0
    for _ in range(int(n)):
        sport = random.randint(20000, 60000)
        seq = random.getrandbits(32)
        tcp = struct.pack("!HHIIBBHHH", sport, int(port), seq, 0, 5 << 4, 0x02, 64240, 0, 0)
        c = csum(sa + da + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.getrandbits(16), 0, 64, 6, 0, sa, da)
        r.sendto(ip + tcp, (addr, 0))
        sent += 1
    return sent


def udpflood(addr, port, n, src=None):
    """N datagrams to addr:port, each from a socket of its own (a new source port: a new
    connection to conntrack), from src when given; returns how many were sent."""
    sent = 0
    for _ in range(int(n)):
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        try:
            if src:
                s.bind((src, 0))
            s.sendto(b"\0" * 32, (addr, int(port)))
            sent += 1
        except OSError:
            pass
        s.close()
    return sent


def initflood(addr, port, n):
    """One UDP socket: 20 small junk datagrams (a flow the filter decides on its address when
    its budget is spent, and passes), then N datagrams of 1200 bytes shaped like QUIC v1
    Initials (re-queued by the rules on a passed connection), as fast as they go; returns how
    many of those were sent."""
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    for _ in range(20):
        s.sendto(b"\x17" * 20, (addr, int(port)))
    time.sleep(0.5)
    d = b"\xc0\x00\x00\x00\x01" + b"\x08" + b"\x5a" * 1194
    sent = 0
    for _ in range(int(n)):
        try:
            s.sendto(d, (addr, int(port)))
            sent += 1
        except OSError:
            pass
    return sent


def syndata(src, name, addr, port):
    """A Fast Open SYN: data on the SYN, which a server with Fast Open on may take before any
    ACK. Sent by hand: no local socket, so nothing follows it."""
    data = hello_bytes(name)
    opts = bytes([34, 10]) + os.urandom(8) + b"\x01\x01"  # Fast Open cookie, NOP NOP
    sport = random.randint(20000, 60000)
    tcp = struct.pack("!HHIIBBHHH", sport, int(port), random.getrandbits(32), 0, (20 + len(opts)) // 4 << 4,
                      0x02, 64240, 0, 0) + opts + data
    c = csum(pseudo(src, addr, len(tcp)) + tcp)
    send_raw(src, addr, tcp[:16] + struct.pack("!H", c) + tcp[18:])
    return "sent"


TCP_REPAIR, TCP_REPAIR_QUEUE, TCP_QUEUE_SEQ = 19, 20, 21
TCP_RECV_QUEUE, TCP_SEND_QUEUE = 1, 2


def queue_seqs(s):
    """The socket's next send sequence number and next expected receive sequence number (its
    ACK), read in TCP repair mode (needs CAP_NET_ADMIN)."""
    s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    try:
        s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)
        snd = struct.unpack("I", s.getsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ, 4))[0]
        s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE)
        rcv = struct.unpack("I", s.getsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ, 4))[0]
    finally:
        s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 0)
    return snd, rcv


def http_get(name):
    return ("GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: qg-test\r\nAccept: */*\r\n\r\n" % name).encode()


def pseudo(src, dst, n):
    """The TCP checksum's pseudo-header, IPv4 or IPv6."""
    if ":" in src:
        return (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) +
                struct.pack("!I3xB", n, 6))
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, n)


def send_raw(src, dst, tcp, ttl=64):
    """One TCP segment (checksum included) from src to dst with the given TTL / hop limit."""
    if ":" in dst:  # the kernel writes the IPv6 header; the hop limit is a socket option
        r = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_TCP)
        r.bind((src, 0))
        r.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
        r.sendto(tcp, (dst, 0))
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.getrandbits(16), 0x4000, ttl, 6, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
        r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        r.sendto(ip + tcp, (dst, 0))
    r.close()


def desync(fool, fake, real, addr, port):
    fools = set(fool.split("+"))
    first = http_get if int(port) == 80 else hello_bytes
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(5)
    s.connect((addr, int(port)))
    src, sport = s.getsockname()[:2]
    snd, rcv = queue_seqs(s)
    payload = bytes(600) if fake == "zero" else first(fake)
    seq = (snd - 100000) & 0xffffffff if "badseq" in fools else snd
    flags = 0x08 if "noack" in fools else 0x18  # PSH (without ACK) or PSH|ACK
    opts = b""
    if "md5sig" in fools:
        opts = bytes([19, 18]) + os.urandom(16) + b"\x01\x01"  # TCP-MD5, never negotiated
    doff = (20 + len(opts)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, int(port), seq, rcv if flags & 0x10 else 0, doff << 4, flags,
                      502, 0, 0) + opts + payload
    c = csum(pseudo(src, addr, len(tcp)) + tcp)
    if "badsum" in fools:
        c ^= 0x5a5a
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    for _ in range(3 if "repeats" in fools else 1):  # zapret --dpi-desync-repeats=3
        send_raw(src, addr, tcp, 1 if "ttl1" in fools else 64)
    time.sleep(0.05)
    try:
        s.sendall(first(real))
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    return answer(s)


def acks(n, name, addr, port):
    """N bare ACKs on an open connection (raw, at the socket's own sequence numbers: duplicate
    ACKs the server ignores), then the ClientHello for name; what came back."""
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(5)
    s.connect((addr, int(port)))
    src, sport = s.getsockname()[:2]
    snd, rcv = queue_seqs(s)
    tcp = struct.pack("!HHIIBBHHH", sport, int(port), snd, rcv, 5 << 4, 0x10, 502, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo(src, addr, len(tcp)) + tcp)) + tcp[18:]
    if ":" in addr:
        r = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_TCP)
        r.bind((src, 0))
        pkt = tcp
    else:
        r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        pkt = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0,
                          socket.inet_aton(src), socket.inet_aton(addr)) + tcp
    for _ in range(int(n)):
        r.sendto(pkt, (addr, 0))
    r.close()
    time.sleep(0.2)
    try:
        s.sendall(hello_bytes(name))
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    return answer(s)


def tcp_ip(src, dst, sport, dport, seq, ack, payload, bad=False, ident=None, df=True, ttl=64):
    """An IPv4 packet carrying one TCP segment (PSH|ACK); bad: a wrong checksum."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack, 5 << 4, 0x18, 502, 0, 0) + payload
    sa, da = socket.inet_aton(src), socket.inet_aton(dst)
    c = csum(sa + da + struct.pack("!BBH", 0, 6, len(tcp)) + tcp) ^ (0x5a5a if bad else 0)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ident = random.getrandbits(16) if ident is None else ident
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ident, 0x4000 if df else 0, ttl, 6, 0,
                       sa, da) + tcp


def ip_fragments(pkt, cut):
    """pkt (IPv4, 20-byte header) as two fragments, the first with cut bytes of its payload."""
    hdr, body = bytearray(pkt[:20]), pkt[20:]
    out = []
    for off, part, more in ((0, body[:cut], True), (cut, body[cut:], False)):
        h = bytearray(hdr)
        struct.pack_into("!H", h, 2, 20 + len(part))
        struct.pack_into("!H", h, 6, (0x2000 if more else 0) | (off // 8))
        struct.pack_into("!H", h, 10, 0)
        struct.pack_into("!H", h, 10, csum(bytes(h)))
        out.append(bytes(h) + part)
    return out


def rawsend(mode, name, addr, port):
    mode, _, fool = mode.partition(":")
    hello = hello_bytes(name)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(5)
    s.connect((addr, int(port)))
    src, sport = s.getsockname()
    snd, rcv = queue_seqs(s)
    # queue the hello without sending it: the kernel now counts it as sent, so the server's
    # ACK of our hand-made copy is an ACK of data it knows
    s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)
    s.send(hello)
    s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 0)
    port = int(port)
    at = hello.find(name.encode())
    cut = at + len(name) // 2
    pk = []
    if mode == "ipfrag2":
        pk = ip_fragments(tcp_ip(src, addr, sport, port, snd, rcv, hello, df=False), 8)
    elif mode == "multidisorder":
        pk = [tcp_ip(src, addr, sport, port, snd + cut, rcv, hello[cut:]),
              tcp_ip(src, addr, sport, port, snd, rcv, hello[:cut])]
    elif mode == "seqovl":
        junk = bytes(600)
        pk = [tcp_ip(src, addr, sport, port, snd + cut, rcv, hello[cut:]),
              tcp_ip(src, addr, sport, port, snd - len(junk), rcv, junk + hello[:cut])]
    elif mode == "hostfakesplit":
        fake = (("x" * len(name)) + "allowed.test")[-len(name):].encode()
        # the fakes are dropped for a bad checksum, or by the first router (TTL 1)
        fk = {"bad": fool != "ttl1", "ttl": 1 if fool == "ttl1" else 64}
        pk = [tcp_ip(src, addr, sport, port, snd, rcv, hello[:at]),
              tcp_ip(src, addr, sport, port, snd + at, rcv, fake, **fk),
              tcp_ip(src, addr, sport, port, snd + at, rcv, hello[at:at + len(name)]),
              tcp_ip(src, addr, sport, port, snd + at, rcv, fake, **fk),
              tcp_ip(src, addr, sport, port, snd + at + len(name), rcv, hello[at + len(name):])]
    else:
        sys.exit("rawsend: unknown mode " + mode)
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for p in pk:
        r.sendto(p, (addr, 0))
        time.sleep(0.01)
    return answer(s)


def read_response(f):
    line = f.readline()
    if not line:
        return "eof"
    status = line.split()[1].decode()
    length = 0
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    f.read(length)
    return status


def keepalive(addr, port, h1, h2, path1="/small", n1="1"):
    """Requests on one connection: h1's for path1, n1 times (large ones: the last request
    comes after the whole of them), then h2's for /small; the first and last statuses."""
    s = socket.create_connection((addr, int(port)), timeout=5)
    f = s.makefile("rb")
    out = []
    for _ in range(int(n1) - 1):
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: qg-test\r\n\r\n" % (path1, h1)).encode())
        if read_response(f) != "200":
            return "error"
    for h, path in ((h1, path1), (h2, "/small")):
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: qg-test\r\n\r\n" % (path, h)).encode())
        try:
            out.append(read_response(f))
        except (ConnectionResetError, IndexError):
            out.append("reset")
    return " ".join(out)


def hold(name, addr, port, trigger, tries="1"):
    """A connection held open across an event (an order applied while it lasts). TRIES: up to
    that many requests after the trigger, 0.3 s apart, while they are answered (a tap filter
    races the server: its reset may come just after one answer)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((addr, int(port)), timeout=5)
    s = ctx.wrap_socket(raw, server_hostname=name)
    f = s.makefile("rb")
    req = ("GET /small HTTP/1.1\r\nHost: %s\r\nUser-Agent: qg-test\r\n\r\n" % name).encode()
    s.sendall(req)
    if read_response(f) != "200":
        return "error"
    print("open", flush=True)
    end = time.time() + 60
    while not os.path.exists(trigger) and time.time() < end:
        time.sleep(0.05)
    for k in range(int(tries)):
        if k:
            time.sleep(0.3)
        try:
            s.sendall(req)
            got = read_response(f)
        except (socket.timeout, TimeoutError):
            return "timeout"
        except (OSError, IndexError):  # a reset, or OpenSSL's error for one
            got = "eof"
        if got != "200":
            break
    if got != "eof":
        return "http:" + got
    # OpenSSL reads a reset as an end without close_notify: the socket's TCP state tells them
    # apart (TCP_CLOSE after a reset, TCP_CLOSE_WAIT after the server's FIN)
    state = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    return "reset" if state == 7 else "eof"


def idle(addr, port, n, secs):
    socks = []
    # one after the other, as idle connections accumulate in practice: the proxy's first-bytes
    # buffers are reused, so what remains is the per-connection cost
    for _ in range(int(n)):
        s = socket.create_connection((addr, int(port)), timeout=10)
        s.sendall(b"GET /small HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
        f = s.makefile("rb")
        assert read_response(f) == "200"
        socks.append((s, f))
    print("ready", flush=True)
    time.sleep(float(secs))


def hog(name, addr, port, n, secs, src=None):
    """N connections that each send the first 20 bytes of a ClientHello (the record and
    handshake headers and part of the random: no name) and nothing more, kept open SECS seconds:
    they fill a filter's tables of flows waiting for their first request. SRC: the source
    address (another client on the same link)."""
    hello = hello_bytes(name)
    socks = []
    for _ in range(int(n)):
        s = socket.socket(family(addr), socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if src:
            s.bind((src, 0))
        s.connect((addr, int(port)))
        s.sendall(hello[:20])
        socks.append(s)
    print("ready", flush=True)
    time.sleep(float(secs))


def main():
    cmd = sys.argv[1]
    if cmd == "split":
        print(split(*sys.argv[2:5]))
    elif cmd == "keepalive":
        print(keepalive(*sys.argv[2:8]))
    elif cmd == "idle":
        idle(*sys.argv[2:6])
    elif cmd == "hold":
        print(hold(*sys.argv[2:7]), flush=True)
    elif cmd == "hog":
        hog(*sys.argv[2:8])
    elif cmd == "bighello":
        print(bighello(*sys.argv[2:7]))
    elif cmd == "bytewise":
        print(bytewise(*sys.argv[2:6]))
    elif cmd == "httpbytes":
        print(httpbytes(*sys.argv[2:5]))
    elif cmd == "slow":
        print(slow(*sys.argv[2:7]))
    elif cmd == "flood":
        flood(*sys.argv[2:6])
    elif cmd == "synflood":
        print(synflood(*sys.argv[2:6]))
    elif cmd == "segs":
        print(segs(*sys.argv[2:6]))
    elif cmd == "udpflood":
        print(udpflood(*sys.argv[2:6]))
    elif cmd == "initflood":
        print(initflood(*sys.argv[2:5]))
    elif cmd == "syndata":
        print(syndata(*sys.argv[2:6]))
    elif cmd == "acks":
        print(acks(*sys.argv[2:6]))
    elif cmd == "desync":
        print(desync(*sys.argv[2:7]))
    elif cmd == "reuse":
        print(reuse(*sys.argv[2:6]))
    elif cmd == "reopen":
        print(reopen(*sys.argv[2:8]))
    elif cmd == "rawsend":
        print(rawsend(*sys.argv[2:6]))
    else:
        sys.exit("usage: client.py split|bytewise|httpbytes|keepalive|idle|hog|acks|slow|flood|synflood|udpflood|initflood|segs|syndata|desync|rawsend|reuse|reopen ...")


if __name__ == "__main__":
    main()
