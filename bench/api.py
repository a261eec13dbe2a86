#!/usr/bin/env python3
"""API benchmark (bench/api.sh): for BENCH_RUNS runs of `mote --api-sock`, measures
  - exec -> the API socket accepting a connection, and -> the first answer (GET /) (wall ms),
    and the CPU ms of all mote threads by then (/proc/PID/task/*/schedstat; Firecracker's
    target is <= 8 CPU ms)
  - mote's RSS before the boot (VmRSS once the socket accepts)
  - InstanceStart sent -> the guest's first byte on mote's stdout (counter guest, spin=1)
and prints medians (and min/max). Numbers are noisy on a shared machine: compare ratios."""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("BUILD", "build")
MOTE = os.environ.get("BENCH_MOTE", os.path.join(BUILD, "mote"))
RUNS = int(os.environ.get("BENCH_RUNS", "20"))
GUEST = os.path.abspath(os.path.join(BUILD, "guests", "counter.elf"))


def http(sock, method, url, body=b""):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(f"{method} {url} HTTP/1.1\r\nHost: l\r\nContent-Length: {len(body)}\r\n"
              f"Connection: close\r\n\r\n".encode() + body)
    data = b""
    while True:
        c = s.recv(4096)
        if not c:
            break
        data += c
    s.close()
    return int(data.split(b" ", 2)[1])


def cpu_ms(pid):
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{t}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e6


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def one(tmp, i):
    sock = os.path.join(tmp, f"b{i}.sock")
    t0 = time.perf_counter()
    p = subprocess.Popen([MOTE, "--api-sock", sock], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    while True:
        try:
            s.connect(sock)
            break
        except OSError:
            if p.poll() is not None:
                raise SystemExit("mote exited before its socket accepted")
    t_accept = (time.perf_counter() - t0) * 1e3
    s.close()
    assert http(sock, "GET", "/") == 200
    t_answer = (time.perf_counter() - t0) * 1e3
    cpu = cpu_ms(p.pid)
    rss = rss_kib(p.pid)
    assert http(sock, "PUT", "/boot-source",
                f'{{"kernel_image_path":"{GUEST}","boot_args":"spin=1 max=1"}}'.encode()) == 204
    assert http(sock, "PUT", "/machine-config", b'{"vcpu_count":1,"mem_size_mib":32}') == 204
    t1 = time.perf_counter()
    assert http(sock, "PUT", "/actions", b'{"action_type":"InstanceStart"}') == 204
    p.stdout.read(1)
    t_first = (time.perf_counter() - t1) * 1e3
    p.stdout.read()
    p.wait()
    return t_accept, cpu, rss, t_first, t_answer


def show(name, unit, xs):
    print(f"{name}: median {statistics.median(xs):.2f} {unit} "
          f"(min {min(xs):.2f}, max {max(xs):.2f}, {len(xs)} runs)")


def main():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("api bench: skipped, no /dev/kvm")
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="mote-bench-api.") as tmp:
        for i in range(RUNS):
            rows.append(one(tmp, i))
    show("exec to API socket accepting", "ms", [r[0] for r in rows])
    show("exec to the first API answer (GET /)", "ms", [r[4] for r in rows])
    show("CPU time of mote until that answer (all threads)", "ms", [r[1] for r in rows])
    show("VMM RSS before boot", "KiB", [r[2] for r in rows])
    show("InstanceStart to first guest output", "ms", [r[3] for r in rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
