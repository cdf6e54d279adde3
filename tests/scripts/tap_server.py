#!/usr/bin/env python3
"""tap_server.py - a tiny HTTP + HTTPS (HTTP/1.1 and h2) server for tests/scripts/tap.sh whose
first response byte leaves DELAY seconds after the whole request (HTTP head, or TLS ClientHello
record, however many TCP segments it came in) arrived: the stand-in for a server further away
than the filter (what `tc qdisc netem delay` would model, on kernels without sch_netem).

Usage: tap_server.py CERT KEY DELAY ADDR...   (serves ADDR:80 and :8080 plain, ADDR:443 and :8443
TLS)
Answers every request with status 200 and the body "far server" (over TLS, h2 when the client
offers it in ALPN, else HTTP/1.1); runs until killed. For every connection it prints one line
"conn PORT reset" when the connection had been reset (an RST received) by the time the answer
was due - nothing was sent - or "conn PORT answered" when the answer was sent (or begun: "answered (then ERROR)")."""
import select
import socket
import ssl
import struct
import sys
import threading
import time

cert, key, delay, addrs = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols(["h2", "http/1.1"])
BODY = b"far server"
H1 = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n" + BODY
TCP_CLOSE = 7
out_lock = threading.Lock()


def say(line):
    with out_lock:
        print(line, flush=True)


def wait_request(conn, tls):
    """Waits (5 s at most) until the whole ClientHello record or HTTP head is in the socket's
    receive queue, without reading it."""
    end = time.monotonic() + 5
    while time.monotonic() < end:
        select.select([conn], [], [], max(0.0, end - time.monotonic()))
        data = conn.recv(65536, socket.MSG_PEEK)
        if not data:
            return
        if tls and len(data) >= 5 and len(data) >= 5 + struct.unpack(">H", data[3:5])[0]:
            return
        if not tls and b"\r\n\r\n" in data:
            return
        if len(data) >= 65536:
            return
        time.sleep(0.001)


def frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def answer_h2(conn):
    """Minimal HTTP/2: reads up to the client's first HEADERS frame, answers that stream with
    :status 200 (HPACK static index 8) and the body, then GOAWAY."""
    buf, sid = b"", 0
    while not sid:
        data = conn.recv(65536)
        if not data:
            return
        buf += data
        off = 24
        while len(buf) >= off + 9:
            n = struct.unpack(">I", b"\0" + buf[off:off + 3])[0]
            if buf[off + 3] == 1:
                sid = struct.unpack(">I", buf[off + 5:off + 9])[0] & 0x7FFFFFFF
                break
            off += 9 + n
    conn.sendall(frame(4, 0, 0, b"") + frame(4, 1, 0, b"") + frame(1, 4, sid, b"\x88") +
                 frame(0, 1, sid, BODY) + frame(7, 0, 0, struct.pack(">II", sid, 0)))


def handle(conn, port, tls):
    answering = False
    try:
        conn.settimeout(5)
        wait_request(conn, tls)
        time.sleep(delay)
        if conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == TCP_CLOSE:
            say("conn %d reset" % port)
            return
        answering = True
        if tls:
            conn = ctx.wrap_socket(conn, server_side=True)
            if conn.selected_alpn_protocol() == "h2":
                answer_h2(conn)
                say("conn %d answered" % port)
                return
        conn.recv(65536)
        conn.sendall(H1)
        say("conn %d answered" % port)
    except (OSError, ssl.SSLError) as e:
        # once answering, the client may end the exchange early (client.py split stops after
        # the ServerHello); the server did answer
        if answering:
            say("conn %d answered (then %s)" % (port, e))
        elif isinstance(e, ConnectionResetError):
            say("conn %d reset" % port)
        else:
            say("conn %d error %s" % (port, e))
    finally:
        conn.close()


def serve(addr, port, tls):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(512)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=handle, args=(conn, port, tls), daemon=True).start()


for a in addrs:
    for p, t in ((80, False), (443, True), (8080, False), (8443, True)):
        threading.Thread(target=serve, args=(a, p, t), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
