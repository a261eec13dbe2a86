#!/usr/bin/env python3
"""Density benchmark: how many idle microVMs one host holds, how fast they start, what each costs.

Run by bench/density.sh; see docs/performance.md. Standard library only.

For each VMM kind (mote with the idle PVH guest, mote hvt and Solo5's solo5-hvt with the idle
unikernel, QEMU microvm with the idle PVH guest), VMs are started in parallel batches, ramping
up through the steps (e.g. 20, 100, 500, 1000). At each step, once every VM has printed its
ready line:
  - start rate: VMs started per second in the batches of that step (exec to the ready line);
  - PSS per VM beyond the guest's own pages (/proc/PID/smaps: the guest RAM mapping holds what
    the guest touched; everything else is the VMM's);
  - total CPU of all VMs over an idle window (utime + stime of every VM process, in percent of
    one CPU).
The ramp stops early when a VM fails to start; the reason (its error line, or the host limit
that was hit) is reported as the limit. Then every VM is stopped with SIGTERM and its exit
status checked.

Output: `name: value` lines on stdout (density.KIND.nN.start_per_s, .pss_kib, .idle_cpu_pct,
density.KIND.max_n, density.KIND.limit, density.KIND.stop_ok); progress on stderr. With --data
FILE, one TSV line per kind and step for plotting (bench/density.gp). With --test, pass/fail
lines instead of a benchmark (the functional test in tests/integration/density.sh).
"""

import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Kind:
    """How to start one idle VM of a VMM, and what it prints when ready."""

    def __init__(self, name, argv, ready, stop_status, mem_mib):
        self.name, self.argv, self.ready = name, argv, ready
        self.stop_status, self.mem_mib = stop_status, mem_mib


def kinds(build, mem_mib, qemu, solo5):
    g = os.path.join(build, "guests")
    mote = os.path.join(build, "mote")
    out = {
        "mote": Kind("mote", [mote, "run", "--mem", f"{mem_mib}M", "--cmdline", "ring0",
                              os.path.join(g, "idle.elf")], "idle: ready", 12, mem_mib),
        # mote hvt keeps solo5-hvt's statuses: 1 after a signal (docs/unikernels.md).
        "hvt": Kind("hvt", [mote, "hvt", f"--mem={mem_mib}", os.path.join(g, "hvt", "idle.hvt")],
                    "idle: ready", 1, mem_mib),
    }
    if solo5:
        # solo5-hvt ends on SIGTERM with its own status 1 ("Exiting on signal 15").
        out["solo5-hvt"] = Kind("solo5-hvt", [solo5, f"--mem={mem_mib}",
                                              os.path.join(g, "hvt", "idle.hvt")],
                                "idle: ready", 1, mem_mib)
    if qemu:
        out["qemu"] = Kind("qemu", [qemu, "-M", "microvm,rtc=off", "-enable-kvm", "-cpu",
                                    "host,-arch-capabilities", "-m", f"{mem_mib}M", "-nodefaults",
                                    "-no-user-config", "-nographic", "-serial", "stdio",
                                    "-no-reboot", "-kernel", os.path.join(g, "idle.elf"),
                                    "-append", "ring0"], "idle: ready", 0, mem_mib)
    return out


class VM:
    def __init__(self, kind, tmp, i):
        self.path = os.path.join(tmp, f"{kind.name}-{i}.out")
        self.out = open(self.path, "wb")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(kind.argv, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.ready_at = None

    def output(self):
        with open(self.path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def wait_ready(vms, kind, timeout):
    """Waits until every VM printed its ready line; returns None or the first failure's reason."""
    deadline = time.monotonic() + timeout
    pending = [v for v in vms if v.ready_at is None]
    while pending:
        still = []
        for v in pending:
            if kind.ready in v.output():
                v.ready_at = time.monotonic()
            elif v.proc.poll() is not None:
                last = v.output().strip().splitlines()[-1:] or ["(no output)"]
                return f"a VM exited with status {v.proc.returncode} before it was ready: {last[0]}"
            else:
                still.append(v)
        pending = still
        if pending and time.monotonic() > deadline:
            return f"{len(pending)} VMs not ready within {timeout} s"
        if pending:
            time.sleep(0.02)
    return None


def proc_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (all threads)
    except (OSError, IndexError, ValueError):
        return 0


def pss_beyond_guest(pid, mem_kib):
    """PSS (KiB) of the VMM's own mappings, and of the guest RAM mapping(s): those of at least
    half the guest RAM size (solo5-hvt keeps RAM above its first page tables mapped, QEMU and
    mote all of it); no VMM mapping of its own comes near 16 MiB."""
    vmm = guest = 0
    size = 0
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                if line.startswith("Size:"):
                    size = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
                    if size >= mem_kib // 2:
                        guest += pss
                    else:
                        vmm += pss
    except OSError:
        pass
    return vmm, guest


def host_limit_hint(n):
    """What would stop a ramp of n VMs first on this host (fds, processes, memory)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    nproc, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    hints = []
    if soft < 3 * n + 64:
        hints.append(f"RLIMIT_NOFILE {soft} (3 per VM)")
    if nproc != resource.RLIM_INFINITY and nproc < 4 * n:
        hints.append(f"RLIMIT_NPROC {nproc}")
    return ", ".join(hints)


def ramp(kind, steps, batch, tmp, idle_s, ready_timeout):
    """Starts VMs up to each step; returns (results per step, vms, limit reason or None)."""
    vms, results, limit = [], [], None
    for n in steps:
        step_start = time.monotonic()
        started = len(vms)
        while len(vms) < n and limit is None:
            group = []
            for _ in range(min(batch, n - len(vms))):
                try:
                    group.append(VM(kind, tmp, len(vms) + len(group)))
                except OSError as e:
                    limit = f"cannot start VM {len(vms) + len(group) + 1}: {e}"
                    break
            vms.extend(group)
            reason = wait_ready(group, kind, ready_timeout)
            if reason:
                limit = f"at {len(vms)} VMs: {reason}"
        if limit:
            break
        elapsed = time.monotonic() - step_start
        rate = (n - started) / elapsed if elapsed > 0 else 0.0
        time.sleep(0.5)  # let the last ones settle into their idle loop
        t0 = {v.proc.pid: proc_ticks(v.proc.pid) for v in vms}
        w0 = time.monotonic()
        time.sleep(idle_s)
        ticks = sum(proc_ticks(v.proc.pid) - t0[v.proc.pid] for v in vms)
        cpu_pct = 100.0 * ticks / CLK_TCK / (time.monotonic() - w0)
        mem_kib = kind.mem_mib * 1024
        pss = [pss_beyond_guest(v.proc.pid, mem_kib) for v in vms]
        vmm_pss = sum(p[0] for p in pss) / len(pss)
        guest_pss = sum(p[1] for p in pss) / len(pss)
        results.append({"n": n, "rate": rate, "pss": vmm_pss, "guest_pss": guest_pss,
                        "cpu": cpu_pct})
        log(f"  {kind.name}: {n} VMs, {rate:.0f} started/s, PSS {vmm_pss:.0f} KiB/VM beyond "
            f"{guest_pss:.0f} KiB of guest pages, idle CPU {cpu_pct:.2f}%")
    return results, vms, limit


def stop_all(vms, kind, timeout=30):
    """SIGTERM to every VM; returns (how many ended with the expected status, first bad one)."""
    for v in vms:
        if v.proc.poll() is None:
            try:
                v.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    ok, bad = 0, None
    deadline = time.monotonic() + timeout
    for v in vms:
        try:
            rc = v.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            v.proc.kill()
            rc = v.proc.wait()
            bad = bad or f"a VM did not stop within {timeout} s of SIGTERM"
            continue
        if rc == kind.stop_status:
            ok += 1
        else:
            bad = bad or f"a VM ended with status {rc}, expected {kind.stop_status}"
        v.out.close()
    return ok, bad


def bench(args, ks):
    data = []
    for name in args.kinds:
        kind = ks[name]
        steps = [n for n in args.steps if name != "qemu" or n <= args.qemu_max]
        hint = host_limit_hint(max(steps))
        if hint:
            log(f"  {name}: host limits that may stop the ramp: {hint}")
        with tempfile.TemporaryDirectory(prefix="mote-density-") as tmp:
            results, vms, limit = ramp(kind, steps, args.batch, tmp, args.idle_s, args.ready_timeout)
            ok, bad = stop_all(vms, kind)
        for r in results:
            p = f"density.{name}.n{r['n']}"
            print(f"{p}.start_per_s: {r['rate']:.1f}")
            print(f"{p}.pss_kib: {r['pss']:.0f}")
            print(f"{p}.guest_pss_kib: {r['guest_pss']:.0f}")
            print(f"{p}.idle_cpu_pct: {r['cpu']:.2f}")
            data.append((name, r))
        print(f"density.{name}.max_n: {results[-1]['n'] if results else 0}")
        print(f"density.{name}.limit: {limit or 'none reached (the largest step asked for)'}")
        print(f"density.{name}.stop_ok: {ok}/{len(vms)}" + (f" ({bad})" if bad else ""))
        sys.stdout.flush()
    if args.data:
        with open(args.data, "w") as f:
            f.write("# kind n start_per_s pss_kib guest_pss_kib idle_cpu_pct\n")
            for name, r in data:
                f.write(f"{name}\t{r['n']}\t{r['rate']:.1f}\t{r['pss']:.0f}\t"
                        f"{r['guest_pss']:.0f}\t{r['cpu']:.2f}\n")
    return 0


def test(args, ks):
    """The functional form: N VMs of each kind start, idle at ~0% CPU and stop with their
    status on SIGTERM."""
    failed = 0

    def result(name, ok, why=""):
        nonlocal failed
        print(f"pass {name}" if ok else f"fail {name}: {why}", flush=True)
        failed += not ok

    n = args.steps[-1]
    for name in args.kinds:
        kind = ks[name]
        with tempfile.TemporaryDirectory(prefix="mote-density-") as tmp:
            results, vms, limit = ramp(kind, [n], args.batch, tmp, args.idle_s, args.ready_timeout)
            ok, bad = stop_all(vms, kind)
        result(f"density-{name}-start", not limit and len(results) == 1, limit or "no result")
        cpu = results[0]["cpu"] if results else 100.0
        result(f"density-{name}-idle-cpu", cpu <= args.max_idle_cpu,
               f"{n} idle VMs used {cpu:.2f}% of a CPU (limit {args.max_idle_cpu}%)")
        result(f"density-{name}-stop", ok == n and not bad, bad or f"{ok}/{n} stopped")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--kinds", default="mote,hvt,solo5-hvt,qemu")
    ap.add_argument("--steps", default="20,100,250,500,1000")
    ap.add_argument("--batch", type=int, default=50, help="VMs started at once")
    ap.add_argument("--mem", type=int, default=32, help="guest RAM in MiB (at least 32)")
    ap.add_argument("--idle-s", type=float, default=3.0, help="idle CPU window")
    ap.add_argument("--ready-timeout", type=float, default=60.0)
    ap.add_argument("--qemu-max", type=int, default=100, help="largest step for QEMU")
    ap.add_argument("--qemu", default=shutil.which("qemu-system-x86_64"))
    ap.add_argument("--solo5", default=os.environ.get("DENSITY_SOLO5", ""))
    ap.add_argument("--data", help="TSV file for bench/density.gp")
    ap.add_argument("--test", action="store_true", help="pass/fail lines (tests/integration)")
    ap.add_argument("--max-idle-cpu", type=float, default=1.0, help="--test: idle CPU limit, %%")
    args = ap.parse_args()
    args.steps = sorted({int(s) for s in args.steps.split(",") if s})
    solo5 = args.solo5 if args.solo5 and os.access(args.solo5, os.X_OK) else None
    ks = kinds(args.build, args.mem, args.qemu, solo5)
    wanted = [k for k in args.kinds.split(",") if k]
    args.kinds = []
    for k in wanted:
        if k in ks:
            args.kinds.append(k)
        elif k == "solo5-hvt":
            log("  solo5-hvt: skipped (no Solo5 tender: set DENSITY_SOLO5 to its path)")
        elif k == "qemu":
            log("  qemu: skipped (no qemu-system-x86_64)")
        else:
            log(f"density: unknown kind '{k}' (mote, hvt, solo5-hvt, qemu)")
            return 2
    return test(args, ks) if args.test else bench(args, ks)


if __name__ == "__main__":
    sys.exit(main())
