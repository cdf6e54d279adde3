#!/usr/bin/env python3
"""tap_server.py - a tiny HTTP + HTTPS server for tests/scripts/tap.sh whose first response
byte leaves DELAY seconds after the request arrived: the stand-in for a server further away
than the filter (what `tc qdisc netem delay` would model, on kernels without sch_netem).

Usage: tap_server.py CERT KEY DELAY ADDR...   (serves ADDR:80 plain and ADDR:443 TLS)
Answers every request with "HTTP/1.1 200 OK" and the body "far server"; runs until killed."""
import select
import socket
import ssl
import sys
import threading
import time

cert, key, delay, addrs = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
BODY = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nfar server"


def handle(conn, tls):
    try:
        conn.settimeout(5)
        select.select([conn], [], [], 5)  # the ClientHello / request head has arrived
        time.sleep(delay)
        if tls:
            conn = ctx.wrap_socket(conn, server_side=True)
        conn.recv(65536)
        conn.sendall(BODY)
    except (OSError, ssl.SSLError):
        pass
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
        threading.Thread(target=handle, args=(conn, tls), daemon=True).start()


for a in addrs:
    for port, tls in ((80, False), (443, True)):
        threading.Thread(target=serve, args=(a, port, tls), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
