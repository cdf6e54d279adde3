#!/usr/bin/env python3
"""notify_listener.py - the systemd side of sd_notify(3) for tests/scripts/systemd.sh.

Listens on a Unix datagram socket (the NOTIFY_SOCKET given to the daemon) and appends one JSON
line per datagram to OUT: its receive time (CLOCK_MONOTONIC, seconds), its fields, and for a
READY=1 whether, at that instant, the admin socket exists and each TCP port given accepts a
connection (what readiness promises). Runs until killed.

usage: notify_listener.py SOCKET OUT ADMIN_SOCKET PORT...
"""
import json
import os
import socket
import sys
import time


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except ConnectionResetError:
        return True  # accepted, then closed by the proxy (no original destination): listening
    except OSError as e:
        return str(e)


def main():
    path, out, admin, ports = sys.argv[1], sys.argv[2], sys.argv[3], [int(p) for p in sys.argv[4:]]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o777)  # the daemon has dropped to an unprivileged user when it pings
    with open(out + ".up", "w") as f:
        f.write("up\n")
    while True:
        data = s.recv(65536)
        t = time.monotonic()
        fields = {}
        for line in data.decode("utf-8", "replace").split("\n"):
            if "=" in line:
                k, v = line.split("=", 1)
                fields[k] = v
        rec = {"t": t, "fields": fields}
        if fields.get("READY") == "1":
            rec["admin"] = os.path.exists(admin)
            rec["ports"] = {str(p): accepts(p) for p in ports}
        with open(out, "a") as f:
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
