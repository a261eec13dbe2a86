#!/usr/bin/env python3
"""mote startup and exit benchmark, side by side with QEMU and a raw-KVM floor.

Run by bench/startup.sh (`make bench`); see docs/performance.md. Standard library only.

Every guest run goes through $BUILD/bench/runone (a small C program: fork, exec,
wait4), which reports the wall time from fork to the end of wait4 and ru_maxrss
of that one child. Every run's exit status and output are checked; a failed run
fails the whole benchmark with a message saying which command failed and why.

Output: `name: value` lines on stdout; progress and errors on stderr.
"""

import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from jailrow import JailRows

HELLO_TEXT = "Hello from a mote guest"


class BenchError(Exception):
    pass


def env_int(name, default, minimum):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BenchError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise BenchError(f"{name}={value} is below the minimum {minimum}")
    return value


class Runner:
    def __init__(self, build, tmpdir):
        self.runone = os.path.join(build, "bench", "runone")
        self.out = os.path.join(tmpdir, "out.txt")

    def run(self, label, argv, expect_status=1, expect_text=None, env=None):
        """Runs argv once; returns (wall_ns, maxrss_kib, output). Raises BenchError on failure."""
        proc = subprocess.run([self.runone, self.out] + argv, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
        if proc.returncode != 0:
            raise BenchError(f"{label}: runone failed ({proc.returncode}): {proc.stderr.strip()}")
        fields = dict(kv.split("=", 1) for kv in proc.stdout.split())
        wall_ns, rss, status = int(fields["wall_ns"]), int(fields["maxrss_kib"]), int(fields["status"])
        self.last_cpu_us = int(fields.get("cpu_us", 0))  # user + system of the run (and its children)
        with open(self.out, "rb") as f:
            output = f.read().decode("utf-8", "replace")
        problem = None
        if status != expect_status:
            problem = f"exit status {status}, expected {expect_status}"
        elif expect_text is not None and expect_text not in output:
            problem = f"output lacks {expect_text!r}"
        if problem:
            tail = "\n".join(output.rstrip("\n").splitlines()[-15:])
            raise BenchError(f"{label} failed: {problem}\n  command: {shlex.join(argv)}\n"
                             f"  output (last lines):\n{tail}")
        return wall_ns, rss, output


def median(xs):
    return statistics.median(xs)


def p90(xs):
    """90th percentile (linear interpolation); the maximum for fewer than 2 samples."""
    if len(xs) < 2:
        return max(xs)
    return statistics.quantiles(xs, n=10, method="inclusive")[8]


def fmt(x, digits=3):
    return f"{x:.{digits}f}"


def main():
    build = os.environ.get("BUILD", "build")
    runs = env_int("BENCH_RUNS", 20, 1)
    exit_runs = env_int("BENCH_EXIT_RUNS", 4, 1)
    exit_count = env_int("BENCH_EXIT_COUNT", 200000, 1)
    mem = os.environ.get("BENCH_MEM", "128M")
    verbose = os.environ.get("BENCH_VERBOSE", "") not in ("", "0")
    qemu_bin = os.environ.get("BENCH_QEMU", "qemu-system-x86_64")
    mote_bin = os.environ.get("BENCH_MOTE", os.path.join(build, "mote"))
    raw_bin = os.path.join(build, "bench", "rawkvm")
    hello = os.path.join(build, "guests", "hello.elf")
    portloop = os.path.join(build, "guests", "portloop.elf")

    missing = [p for p in (mote_bin, raw_bin, os.path.join(build, "bench", "runone"), hello, portloop)
               if not os.path.exists(p)]
    if missing:
        raise BenchError("missing " + ", ".join(missing) + " (run `make all bench-bins` first)")
    qemu_path = shutil.which(qemu_bin)
    if not qemu_path:
        raise BenchError(f"{qemu_bin} not found (apt-get install qemu-system-x86, or set BENCH_QEMU)")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise BenchError("/dev/kvm is missing or not accessible")

    qemu_base = [qemu_path, "-M", "microvm", "-enable-kvm", "-cpu", "host,-arch-capabilities",
                 "-m", mem, "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
                 "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]

    def mote_cmd(elf, cmdline=None):
        argv = [mote_bin, "run", "--mem", mem]
        if cmdline is not None:
            argv += ["--cmdline", cmdline]
        return argv + [elf]

    def qemu_cmd(elf, cmdline=None):
        argv = qemu_base + ["-kernel", elf]
        if cmdline is not None:
            argv += ["-append", cmdline]
        return argv

    def raw_cmd(elf, cmdline=None):
        return [raw_bin, elf] + ([cmdline] if cmdline is not None else [])

    def mote_pit_cmd(elf, cmdline=None):  # what the in-kernel PIT costs (off by default)
        return mote_cmd(elf, cmdline)[:2] + ["--pit"] + mote_cmd(elf, cmdline)[2:]

    vmms = [("mote", mote_cmd), ("qemu", qemu_cmd), ("raw", raw_cmd)]
    startup_vmms = vmms + [("mote_pit", mote_pit_cmd)]
    total_t0 = time.monotonic()
    results = []

    def emit(name, value):
        results.append((name, value))
        print(f"{name}: {value}", flush=True)

    qemu_version = subprocess.run([qemu_path, "--version"], stdout=subprocess.PIPE, text=True,
                                  check=False).stdout.splitlines()[:1]
    kvm_flavour = "pvm" if os.path.exists("/sys/module/kvm_pvm") else (
        "intel" if os.path.exists("/sys/module/kvm_intel") else (
            "amd" if os.path.exists("/sys/module/kvm_amd") else "unknown"))
    emit("date", time.strftime("%Y-%m-%d %H:%M:%S %z"))
    emit("host_kernel", platform.release())
    emit("host_cpus", os.cpu_count())
    emit("host_kvm", kvm_flavour)
    emit("qemu_version", qemu_version[0] if qemu_version else "unknown")
    emit("host_load_start", loadavg())
    emit("runs", runs)
    emit("exit_runs", exit_runs)
    emit("exit_count", exit_count)
    emit("guest_mem", mem)

    with tempfile.TemporaryDirectory(prefix="mote-bench-") as tmp:
        r = Runner(build, tmp)

        # Self-checks: the floor VMM runs both guests correctly, and the measurement
        # floor of runone itself (peak RSS of a forked /bin/true).
        env = dict(os.environ, RAWKVM_STATS="1")
        _, _, out = r.run("rawkvm self-check (hello)", raw_cmd(hello), expect_text=HELLO_TEXT, env=env)
        guest_kib = parse_stat(out, "guest_resident_kib")
        _, _, out = r.run("rawkvm self-check (portloop count=1000)", raw_cmd(portloop, "count=1000"), env=env)
        if parse_stat(out, "port80_exits") != 1000:
            raise BenchError(f"portloop count=1000 made {parse_stat(out, 'port80_exits')} "
                             f"exits to port 0x80, expected 1000")
        floor_rss = median([r.run("/bin/true", ["true"], expect_status=0)[1] for _ in range(5)])
        emit("rss_floor_kib", floor_rss)
        emit("guest_touched_kib", guest_kib)

        # 1. Exec to exit of the hello guest, interleaved; mote also through mote-jailer.
        jail = JailRows(build, mote_bin, tmp)
        jail_why = jail.available()
        jrows = [] if jail_why else [("mote_jailed", lambda elf: jail.cmd(elf, mem))]
        if not jail_why and jail.cg:
            jrows.append(("mote_jailed_cgroup", lambda elf: jail.cmd(elf, mem, cgroup=True)))
        print(f"bench: startup, {runs} runs each of mote, qemu, raw, mote --pit"
              + "".join(", " + n for n, _ in jrows), file=sys.stderr, flush=True)
        wall = {name: [] for name, _ in startup_vmms + jrows}
        rss = {name: [] for name, _ in startup_vmms + jrows}
        cpu = {name: [] for name, _ in startup_vmms + jrows}
        try:
            for _ in range(runs):
                for name, cmd in startup_vmms + jrows:
                    w, m, _ = r.run(f"{name} hello", cmd(hello), expect_text=HELLO_TEXT)
                    wall[name].append(w)
                    rss[name].append(m)
                    cpu[name].append(r.last_cpu_us)
        finally:
            jail.cleanup()
        if jail_why:
            emit("startup_mote_jailed_ms", f"skipped ({jail_why})")
        for name, _ in jrows:
            emit(f"startup_{name}_ms", fmt(median(wall[name]) / 1e6))
            emit(f"startup_{name}_min_ms", fmt(min(wall[name]) / 1e6))
            emit(f"{name[5:]}_overhead_ms", fmt((median(wall[name]) - median(wall["mote"])) / 1e6))
            emit(f"{name[5:]}_overhead_min_ms", fmt((min(wall[name]) - min(wall["mote"])) / 1e6))
            # CPU time is what a loaded host cannot inflate by making a process wait for a CPU
            emit(f"{name[5:]}_overhead_cpu_ms", fmt((median(cpu[name]) - median(cpu["mote"])) / 1e3))
        for name, _ in startup_vmms:
            emit(f"startup_{name}_ms", fmt(median(wall[name]) / 1e6))
        for name, _ in startup_vmms:
            emit(f"startup_{name}_min_ms", fmt(min(wall[name]) / 1e6))
        for name, _ in startup_vmms:
            emit(f"startup_{name}_p90_ms", fmt(p90(wall[name]) / 1e6))
        if verbose:
            for name, _ in startup_vmms:
                print(f"bench: startup {name} ms: " + " ".join(fmt(w / 1e6, 1) for w in wall[name]),
                      file=sys.stderr)
        startup_ratio = median(wall["mote"]) / median(wall["qemu"])
        emit("startup_ratio", fmt(startup_ratio))
        raw_ratio = median(wall["mote"]) / median(wall["raw"])
        emit("startup_ratio_mote_raw", fmt(raw_ratio))
        emit("startup_ratio_mote_pit_raw", fmt(median(wall["mote_pit"]) / median(wall["raw"])))
        for name, _ in startup_vmms:
            emit(f"rss_{name}_kib", int(median(rss[name])))
        for name, _ in startup_vmms:
            emit(f"rss_{name}_max_kib", max(rss[name]))
        mote_over_guest = max(rss["mote"]) - guest_kib  # the goal holds for every run
        emit("rss_mote_max_beyond_guest_kib", mote_over_guest)
        emit("rss_mote_beyond_guest_kib", mote_over_guest)
        emit("rss_qemu_beyond_guest_kib", int(median(rss["qemu"])) - guest_kib)
        emit("rss_raw_beyond_guest_kib", int(median(rss["raw"])) - guest_kib)

        # 2. Port-exit round trip: count=N minus count=0, interleaved.
        print(f"bench: port exits, {exit_runs} runs each of mote, qemu, raw at count={exit_count} "
              f"and count=0", file=sys.stderr, flush=True)
        loop = {(name, n): [] for name, _ in vmms for n in (exit_count, 0)}
        for _ in range(exit_runs):
            for name, cmd in vmms:
                for n in (exit_count, 0):
                    w, _, _ = r.run(f"{name} portloop count={n}", cmd(portloop, f"count={n}"))
                    loop[(name, n)].append(w)
        if verbose:
            for (name, n), ws in loop.items():
                print(f"bench: portloop {name} count={n} ms: " + " ".join(fmt(w / 1e6, 1) for w in ws),
                      file=sys.stderr)
        per_exit = {}
        for name, _ in vmms:
            per_exit[name] = (median(loop[(name, exit_count)]) - median(loop[(name, 0)])) / exit_count
            emit(f"exit_ns_{name}", int(round(per_exit[name])))
        for name, _ in vmms:
            best = (min(loop[(name, exit_count)]) - min(loop[(name, 0)])) / exit_count
            emit(f"exit_ns_{name}_min", int(round(best)))
        exit_ratio = per_exit["mote"] / per_exit["raw"]
        emit("exit_ratio_mote_raw", fmt(exit_ratio))
        emit("exit_ratio_qemu_raw", fmt(per_exit["qemu"] / per_exit["raw"]))
        emit("exit_ratio_mote_qemu", fmt(per_exit["mote"] / per_exit["qemu"]))

    # 3. Targets, for reference (they do not change the exit status).
    emit("target_startup_ratio_mote_raw", "<= 1.2")
    emit("target_startup_ratio", "<= 0.35")
    emit("target_rss_max_beyond_guest_kib", "<= 2048")
    emit("target_exit_ratio_mote_raw", "<= 1.10")
    emit("meets_startup_ratio_mote_raw", "yes" if raw_ratio <= 1.2 else "no")
    emit("meets_startup_ratio", "yes" if startup_ratio <= 0.35 else "no")
    emit("meets_rss_beyond_guest", "yes" if mote_over_guest <= 2048 else "no")
    emit("meets_exit_ratio", "yes" if exit_ratio <= 1.10 else "no")
    if "mote_jailed" in wall:
        jail_over = (median(wall["mote_jailed"]) - median(wall["mote"])) / 1e6
        emit("target_jailed_overhead_ms", "<= 2")
        emit("meets_jailed_overhead", "yes" if jail_over <= 2 else "no")
    emit("host_load_end", loadavg())
    emit("bench_seconds", fmt(time.monotonic() - total_t0, 1))
    return 0


def loadavg():
    """1-, 5- and 15-minute load averages: other work on the host makes every number noisier."""
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def parse_stat(output, key):
    for line in output.splitlines():
        if line.startswith("rawkvm: ") and f"{key}=" in line:
            for kv in line[len("rawkvm: "):].split():
                k, _, v = kv.partition("=")
                if k == key:
                    return int(v)
    raise BenchError(f"rawkvm did not report {key} (RAWKVM_STATS=1)")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
