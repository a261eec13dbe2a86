#!/usr/bin/env python3
"""Raw HTTP/1.1 clients over a Unix socket for tests/integration/api.sh.

  client.py load SOCK TOTAL CLIENTS   TOTAL requests from CLIENTS threads (one connection per
                                      request); prints "ok" or the first bad answer; exit 1 on error
  client.py idle SOCK N SECONDS        holds N connections open, sending nothing, for SECONDS
  client.py slow SOCK                  sends half a request and waits: prints the seconds until
                                       mote closed the connection (or "open" after 30 s)
  client.py stale PATH                 leaves a socket file nobody listens on (a crashed server)
"""
import socket
import sys
import threading
import time

REQS = [
    ("GET", "/", None, 200),
    ("GET", "/machine-config", None, 200),
    ("GET", "/vm/config", None, 200),
    ("GET", "/version", None, 200),
    ("PUT", "/actions", b'{"action_type":"FlushMetrics"}', 204),
    ("PUT", "/drives/x", b'{"drive_id":1}', 400),
]


def request(path, method, url, body):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    head = f"{method} {url} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    s.sendall(head.encode() + b"\r\n" + (body or b""))
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    return status, data


def load(path, total, clients):
    errors = []
    per = total // clients

    def worker(k):
        for i in range(per):
            m, u, b, want = REQS[(k + i) % len(REQS)]
            try:
                st, data = request(path, m, u, b)
            except OSError as e:
                errors.append(f"{m} {u}: {e}")
                return
            if st != want:
                errors.append(f"{m} {u}: status {st}, expected {want}: {data[:200]!r}")
                return

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("ok" if not errors else errors[0])
    return 0 if not errors else 1


def idle(path, n, secs):
    conns = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
        except OSError:
            s.close()
            continue
        conns.append(s)
    time.sleep(secs)
    for s in conns:
        s.close()
    print(len(conns))
    return 0


def slow(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b"PUT /actions HTTP/1.1\r\nHost: localhost\r\nContent-Le")
    t0 = time.monotonic()
    s.settimeout(30)
    try:
        while s.recv(4096):
            pass
        print(f"{time.monotonic() - t0:.1f}")
    except socket.timeout:
        print("open")
    except OSError:
        print(f"{time.monotonic() - t0:.1f}")
    return 0


def stale(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # the file stays; nobody listens
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "load":
        return load(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    if cmd == "idle":
        return idle(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    if cmd == "slow":
        return slow(sys.argv[2])
    if cmd == "stale":
        return stale(sys.argv[2])
    return 2


if __name__ == "__main__":
    sys.exit(main())
