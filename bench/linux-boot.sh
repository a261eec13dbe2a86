#!/bin/sh
# Linux boot benchmark: time from exec to the kernel's "Linux version" banner on the serial
# console, mote vs QEMU microvm, with the same Debian cloud kernel (guest/kernel.sh), the same
# command line and the same hidden CPU features, interleaved in one run (mote, QEMU, mote, ...).
# With BENCH_FULL=1 also the time to the guest kit's /init marker (MOTE-INIT-OK, needs hardware
# virtualization; guest/initramfs.sh), judged against Firecracker's <= 125 ms (exec to a write
# from the guest's init; here init's MOTE-INIT-OK line) on hardware only: on PVM or inside the
# nested test host it prints `host:` and a `note:` that the figures are not hardware timings,
# and `init_verdict: skipped`. Prints `name: value` lines on stdout; progress on stderr.
# See docs/linux.md. Needs `make` (build/mote) and QEMU (qemu-system-x86).
#
# Environment:
#   BENCH_RUNS (5)              runs per VMM
#   BENCH_LINUX_KERNEL (vmlinux) vmlinux (ELF, PVH entry) or bzimage
#   BENCH_MEM (512M)            guest RAM
#   BENCH_CMDLINE (earlyprintk=ttyS0)  our part of the command line; mote adds its own fragments
#                               in front and QEMU gets the complete line mote built
#   BENCH_CPU_FEATURES (-xsave,-cx16)  hidden from both (QEMU: -cpu host,-arch-capabilities,...)
#   BENCH_TIMEOUT (300)         seconds per run
#   BENCH_FULL (0)              1: also boot to MOTE-INIT-OK with the initramfs (mote.cmd=poweroff)
#   BENCH_QEMU (qemu-system-x86_64), BENCH_MOTE ($BUILD/mote), BUILD (build)
#   BENCH_VERBOSE (0)           1: print every sample to stderr
#   BENCH_HOST (guessed)        hardware, pvm or nested: where the figures come from
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BENCH_MOTE="${BENCH_MOTE:-$BUILD/mote}"
[ -x "$BENCH_MOTE" ] || { echo "linux-boot: no $BENCH_MOTE (run make)" >&2; exit 1; }
kout=$(sh guest/kernel.sh) || { echo "linux-boot: guest/kernel.sh failed (no network?)" >&2; exit 1; }
eval "$kout"
case ${BENCH_LINUX_KERNEL:-vmlinux} in
vmlinux) BENCH_KERNEL_FILE=$vmlinux ;;
bzimage | vmlinuz) BENCH_KERNEL_FILE=$vmlinuz ;;
*) echo "linux-boot: BENCH_LINUX_KERNEL must be vmlinux or bzimage" >&2; exit 1 ;;
esac
export BENCH_KERNEL_FILE BENCH_INITRD=""
if [ "${BENCH_FULL:-0}" = 1 ]; then
	iout=$(sh guest/initramfs.sh) || { echo "linux-boot: guest/initramfs.sh failed" >&2; exit 1; }
	eval "$iout"
	BENCH_INITRD=$initramfs
fi
exec python3 - <<'EOF'
import os, re, select, signal, statistics, subprocess, sys, tempfile, time

env = os.environ
runs = int(env.get("BENCH_RUNS", "5"))
mem = env.get("BENCH_MEM", "512M")
user_cmdline = env.get("BENCH_CMDLINE", "earlyprintk=ttyS0")
features = env.get("BENCH_CPU_FEATURES", "-xsave,-cx16")
timeout = float(env.get("BENCH_TIMEOUT", "300"))
qemu = env.get("BENCH_QEMU", "qemu-system-x86_64")
mote = env["BENCH_MOTE"]
kernel = env["BENCH_KERNEL_FILE"]
initrd = env.get("BENCH_INITRD", "")
verbose = env.get("BENCH_VERBOSE", "0") == "1"
full = env.get("BENCH_FULL", "0") == "1"
BANNER = b"Linux version "
INIT = b"MOTE-INIT-OK"


def log(msg):
    print("linux-boot: " + msg, file=sys.stderr, flush=True)


def mote_cmd(cmdline, with_initrd):
    c = [mote, "-v", "run", "--mem", mem, "--cmdline", cmdline]
    if features:
        c += ["--cpu-features", features]
    if with_initrd:
        c += ["--initrd", initrd]
    return c + [kernel]


def qemu_cmd(cmdline, with_initrd):
    cpu = "host,-arch-capabilities" + "".join("," + f for f in features.split(",") if f)
    c = [qemu, "-M", "microvm", "-enable-kvm", "-cpu", cpu, "-m", mem,
         "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot",
         "-kernel", kernel, "-append", cmdline]
    if with_initrd:
        c += ["-initrd", initrd]
    return c


def timed(cmd, marker):
    """Runs cmd, returns (ms from exec to the first stdout line holding marker or None, stdout
    tail, stderr, status). Stops the VMM with SIGTERM once the marker is seen."""
    t0 = time.monotonic()
    errf = tempfile.TemporaryFile()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errf)
    fd = p.stdout.fileno()
    buf = b""
    found = None
    eof = False
    while found is None and not eof:
        left = timeout - (time.monotonic() - t0)
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not r:
            continue
        chunk = os.read(fd, 65536)
        now = time.monotonic()
        if not chunk:
            eof = True
            break
        start = max(0, len(buf) - len(marker))
        buf += chunk
        if buf.find(marker, start) >= 0:
            found = (now - t0) * 1000.0
        buf = buf[-65536:]
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    while True:
        r, _, _ = select.select([fd], [], [], 0)
        chunk = os.read(fd, 65536) if r else b""
        if not chunk:
            break
        buf += chunk
    p.stdout.close()
    errf.seek(0)
    err = errf.read().decode(errors="replace")
    errf.close()
    return found, buf[-2000:].decode(errors="replace"), err, p.returncode


def bench(label, marker, cmdline_for, with_initrd):
    """Interleaved runs; returns {vmm: [ms...]} or raises SystemExit on a failed run."""
    samples = {"mote": [], "qemu": []}
    state = {"cmdline": None}
    for i in range(runs):
        for vmm in ("mote", "qemu"):
            if vmm == "mote":
                cmd = mote_cmd(cmdline_for("mote"), with_initrd)
            else:
                cmd = qemu_cmd(state["cmdline"], with_initrd)
            ms, out, err, rc = timed(cmd, marker)
            if vmm == "mote" and state["cmdline"] is None:
                m = re.search(r"kernel command line: (.*)", err)
                if not m:
                    log("mote printed no 'kernel command line:' line: " + err[-300:])
                    sys.exit(1)
                state["cmdline"] = cmdline_for("qemu", m.group(1).rstrip())
                log("command line (both): " + state["cmdline"])
            if ms is None:
                return None, (vmm, rc, out, err)
            samples[vmm].append(ms)
            if verbose:
                log("%s %s run %d: %.0f ms" % (label, vmm, i + 1, ms))
        log("%s run %d/%d: mote %.0f ms, qemu %.0f ms" % (label, i + 1, runs,
            samples["mote"][-1], samples["qemu"][-1]))
    return samples, None


def report(prefix, samples):
    mm = statistics.median(samples["mote"])
    mq = statistics.median(samples["qemu"])
    print("%s_ms_mote: %.0f" % (prefix, mm))
    print("%s_ms_qemu: %.0f" % (prefix, mq))
    print("%s_ratio: %.2f" % (prefix, mm / mq if mq else float("nan")))
    for vmm in ("mote", "qemu"):
        print("%s_ms_%s_min: %.0f" % (prefix, vmm, min(samples[vmm])))
        print("%s_ms_%s_max: %.0f" % (prefix, vmm, max(samples[vmm])))
    sys.stdout.flush()


def failed(label, info):
    vmm, rc, out, err = info
    log("%s: %s run did not reach its marker (status %s); stderr: %s; stdout tail: %s"
        % (label, vmm, rc, err.strip()[-600:], out.strip()[-600:]))


# Where these figures come from. Only hardware virtualization gives timings to hold against
# Firecracker's bar; the nested test host (QEMU TCG, tests/nested/host.sh; MOTE_LINUX_NESTED=1
# there, or a "QEMU TCG" CPU) emulates everything, so its figures are functional only; a PVM
# host emulates guest ring 0, so its banner figures compare mote with QEMU there and say nothing
# about hardware. BENCH_HOST=hardware|pvm|nested overrides the guess.
def host_kind():
    forced = env.get("BENCH_HOST", "")
    if forced:
        if forced not in ("hardware", "pvm", "nested"):
            log("BENCH_HOST must be hardware, pvm or nested, not '%s'" % forced)
            sys.exit(1)
        return forced
    if env.get("MOTE_LINUX_NESTED", "0") == "1":
        return "nested"
    try:
        if "QEMU TCG" in open("/proc/cpuinfo").read():
            return "nested"
    except OSError:
        pass
    return "pvm" if os.path.isdir("/sys/module/kvm_pvm") else "hardware"


host = host_kind()
INIT_TARGET_MS = 125
print("host: %s" % host)
if host == "nested":
    print("note: nested test host (everything emulated by QEMU TCG): these figures are functional only, not timings")
elif host == "pvm":
    print("note: PVM host (guest ring 0 emulated): figures compare mote with QEMU here, not hardware timings")
print("kernel: %s" % kernel)
print("runs: %d" % runs)
sys.stdout.flush()


def banner_cmdline(vmm, built=None):
    return user_cmdline if vmm == "mote" else built


samples, info = bench("banner", BANNER, banner_cmdline, False)
if samples is None:
    failed("banner", info)
    sys.exit(1)
report("banner", samples)

if full:
    def init_cmdline(vmm, built=None):
        return (user_cmdline + " mote.cmd=poweroff") if vmm == "mote" else built
    if host == "pvm":
        samples, info = None, ("mote", None, "", "could not emulate (PVM host, not tried)")
    else:
        samples, info = bench("init", INIT, init_cmdline, True)
    if samples is None:
        vmm, rc, out, err = info
        if "could not emulate" in err or os.path.isdir("/sys/module/kvm_pvm"):
            log("init: this host cannot run a stock kernel to init (no hardware virtualization)")
            print("init_ms_mote: n/a")
            print("init_ms_qemu: n/a")
        else:
            failed("init", info)
            sys.exit(1)
    else:
        report("init", samples)

# Firecracker's measure: exec to a write from the guest's init. Here the write is init's
# MOTE-INIT-OK line on the serial port (mote has no separate boot-timer device). Judged only
# on hardware.
print("init_target_ms: %d" % INIT_TARGET_MS)
if host != "hardware":
    print("init_verdict: skipped (%s host: functional only, not timings)" % host)
elif not full:
    print("init_verdict: not measured (BENCH_FULL=1 boots to init)")
elif samples is None:
    print("init_verdict: not measured")
else:
    med = statistics.median(samples["mote"])
    print("init_verdict: %s (mote median %.0f ms, target <= %d ms)"
          % ("met" if med <= INIT_TARGET_MS else "not met", med, INIT_TARGET_MS))
EOF
