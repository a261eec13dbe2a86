#!/usr/bin/env python3
"""Snapshot benchmark (bench/snapshot.sh; docs/snapshot.md, docs/performance.md). Side by side,
for a 128 MiB and a 2 GiB guest (BENCH_MEMS, MiB):
  - cold boot: exec of `mote run` -> the counter guest's first byte on stdout
  - restore:   exec of `mote restore` -> the restored counter guest's first byte
  - snapshot create: PUT /snapshot/create of the paused guest (wall ms, as the client sees it)
then, from one snapshot of the idle guest (halted, 128 MiB): BENCH_CLONES (50) clones at once,
the PSS of each (/proc/PID/smaps_rollup) once all run, and clones started per second (spawn
-> every clone's vCPU thread up). Medians over BENCH_RUNS (10) runs. Standard library only.
Numbers are noisy on a shared machine: compare the two columns of one run."""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("BUILD", "build")
MOTE = os.environ.get("BENCH_MOTE", os.path.join(BUILD, "mote"))
RUNS = int(os.environ.get("BENCH_RUNS", "10"))
CLONES = int(os.environ.get("BENCH_CLONES", "50"))
MEMS = [int(m) for m in os.environ.get("BENCH_MEMS", "128 2048").split()]
COUNTER = os.path.abspath(os.path.join(BUILD, "guests", "counter.elf"))
IDLE = os.path.abspath(os.path.join(BUILD, "guests", "idle.elf"))
RUNONE = os.path.join(BUILD, "bench", "runone")


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
    status = int(data.split(b" ", 2)[1])
    if status >= 300:
        sys.exit(f"snapshot bench: {method} {url}: {data.decode(errors='replace')}")
    return status


def take(tmp, name, kernel, args, mem, wait_output):
    """Boots kernel through the API, pauses it, snapshots it; returns (state, mem, create ms)."""
    sock = os.path.join(tmp, name + ".sock")
    p = subprocess.Popen([MOTE, "--api-sock", sock], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for _ in range(500):
        if os.path.exists(sock):
            break
        time.sleep(0.01)
    http(sock, "PUT", "/boot-source",
         f'{{"kernel_image_path":"{kernel}","boot_args":"{args}"}}'.encode())
    http(sock, "PUT", "/machine-config", f'{{"vcpu_count":1,"mem_size_mib":{mem}}}'.encode())
    http(sock, "PUT", "/actions", b'{"action_type":"InstanceStart"}')
    if wait_output:
        os.read(p.stdout.fileno(), 64)
    time.sleep(0.2)
    http(sock, "PATCH", "/vm", b'{"state":"Paused"}')
    st, mf = os.path.join(tmp, name + ".state"), os.path.join(tmp, name + ".mem")
    t0 = time.perf_counter()
    http(sock, "PUT", "/snapshot/create",
         f'{{"snapshot_path":"{st}","mem_file_path":"{mf}"}}'.encode())
    ms = (time.perf_counter() - t0) * 1000
    p.kill()
    p.wait()
    return st, mf, ms


def first_byte(args):
    """Exec -> the first byte on stdout, in ms: through bench/runone (RUNONE_FIRST_BYTE=1) when
    `make bench-bins` built it, so that Python's own fork (several ms here) is not counted."""
    if os.access(RUNONE, os.X_OK):
        out = subprocess.run([RUNONE, os.devnull] + args, env=dict(os.environ, RUNONE_FIRST_BYTE="1"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if out.returncode != 0 or not out.stdout.startswith("first_byte_ns="):
            sys.exit(f"snapshot bench: no output from {' '.join(args)}: {out.stderr.strip()}")
        return int(out.stdout.split()[0].split("=")[1]) / 1e6
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    if not os.read(p.stdout.fileno(), 1):
        sys.exit(f"snapshot bench: no output from {' '.join(args)}")
    ms = (time.perf_counter() - t0) * 1000
    p.kill()
    p.wait()
    return ms


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def threads(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def main():
    with tempfile.TemporaryDirectory(prefix="mote-snapbench.") as tmp:
        for mem in MEMS:
            st, mf, create = take(tmp, f"c{mem}", COUNTER, "spin=1", mem, True)
            cold = [first_byte([MOTE, "run", "--mem", str(mem), "--cmdline", "spin=1", COUNTER])
                    for _ in range(RUNS)]
            rest = [first_byte([MOTE, "restore", "--snapshot", st, "--mem-file", mf])
                    for _ in range(RUNS)]
            c, r = statistics.median(cold), statistics.median(rest)
            print(f"{mem} MiB: cold boot to first output {c:.1f} ms, restore to first output "
                  f"{r:.1f} ms ({r / c:.2f}x), snapshot create {create:.0f} ms "
                  f"(memory file {os.stat(mf).st_blocks * 512 >> 10} KiB on disk)")
        st, mf, _ = take(tmp, "idle", IDLE, "ring0", 128, False)
        t0 = time.perf_counter()
        procs = [subprocess.Popen([MOTE, "restore", "--snapshot", st, "--mem-file", mf],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(CLONES)]
        # Up: main thread + the I/O thread + the vCPU thread exist.
        while any(threads(p.pid) < 3 for p in procs):
            if any(p.poll() is not None for p in procs):
                sys.exit("snapshot bench: a clone ended early")
            time.sleep(0.002)
        secs = time.perf_counter() - t0
        time.sleep(0.5)
        pss = [pss_kib(p.pid) for p in procs]
        for p in procs:
            p.kill()
            p.wait()
        print(f"{CLONES} clones of a 128 MiB idle guest: {CLONES / secs:.0f} clones/s started, "
              f"PSS per clone median {statistics.median(pss)} KiB, max {max(pss)} KiB")


if __name__ == "__main__":
    main()
