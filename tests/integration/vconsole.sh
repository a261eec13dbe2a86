# virtio-console (--virtio-console) through real KVM exits: terminal input reaches the guest's
# receive buffers (with back-pressure), transmitq and emerg_wr output reaches stdout, COM1
# keeps printing but gets no input, and the other devices keep their addresses.
. "$(dirname "$0")/lib.sh"

check help-virtio-console 0 "--virtio-console" "" --help

printf 'abc\nquit\n' >"$TMP/vc.in"
VM_STDIN=$TMP/vc.in check vconsole 1 "vconsole: bye" "" run --virtio-console "$G/vconsole.elf"
for t in "hello:vconsole: hello from hvc0" "emerg-wr:vconsole: emerg_wr ok" "echo:abc"; do
	name=vconsole-${t%%:*} want=${t#*:}
	has vconsole "$want" && pass "$name" || fail "$name" "stdout lacks '$want': $(cat "$TMP/vconsole.out")"
done
has_err vconsole "guest error" && fail vconsole-clean "$(cat "$TMP/vconsole.err")" || pass vconsole-clean

VM_STDIN=$TMP/vc.in check vconsole-no-event-idx 1 "vconsole: bye" "" run --virtio-console \
	--cmdline event_idx=0 "$G/vconsole.elf"

# More input than the guest's receive buffers (8 x 16 bytes) and the console's 256-byte
# holding buffer: everything arrives, in order, exactly once.
python3 -c '
import sys
for i in range(300):
    sys.stdout.write("line %04d abcdefghijklmnopqrstuvwxyz\n" % i)
sys.stdout.write("quit\n")' >"$TMP/vc-big.in"
VM_STDIN=$TMP/vc-big.in check vconsole-backpressure 1 "vconsole: bye" "" run --virtio-console "$G/vconsole.elf"
if [ -f "$TMP/vconsole-backpressure.out" ] &&
	grep -E '^(line|quit)' "$TMP/vconsole-backpressure.out" | cmp -s - "$TMP/vc-big.in"; then
	pass vconsole-backpressure-intact
else
	fail vconsole-backpressure-intact "echo differs from the input"
fi

# Input arriving in pieces, after the guest is waiting: each piece wakes the device.
{ sleep 0.2; printf 'one\n'; sleep 0.3; printf 'two\n'; sleep 0.3; printf 'quit\n'; } |
	timeout 20 "$MOTE" run --virtio-console "$G/vconsole.elf" >"$TMP/vc-slow.out" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q '^two$' "$TMP/vc-slow.out" && grep -q 'vconsole: bye' "$TMP/vc-slow.out"; then
	pass vconsole-slow-input
else
	fail vconsole-slow-input "status $rc: $(cat "$TMP/vc-slow.out")"
fi

# Without input the guest waits: still running when the (bounded) timeout stops it.
timeout 3 "$MOTE" run --virtio-console "$G/vconsole.elf" </dev/null >"$TMP/vc-wait.out" 2>&1
rc=$?
if [ $rc = 124 ] && grep -q 'hello from hvc0' "$TMP/vc-wait.out" && ! grep -q 'bye' "$TMP/vc-wait.out"; then
	pass vconsole-waits-for-input
else
	fail vconsole-waits-for-input "status $rc: $(cat "$TMP/vc-wait.out")"
fi

# With --virtio-console, COM1 still prints but its input side gets nothing: the UART echo
# guest never sees `quit`. Without the option it does (the UART path is unchanged).
printf 'quit\n' | timeout 3 "$MOTE" run --virtio-console "$G/echo.elf" >"$TMP/vc-uart.out" 2>&1
rc=$?
if [ $rc = 124 ] && grep -q 'echo: ready' "$TMP/vc-uart.out" && ! grep -q 'echo: bye' "$TMP/vc-uart.out"; then
	pass vconsole-uart-gets-no-input
else
	fail vconsole-uart-gets-no-input "status $rc: $(cat "$TMP/vc-uart.out")"
fi
VM_STDIN=$TMP/vc.in check vconsole-uart-without-option 1 "echo: bye" "" run "$G/echo.elf"

# No device without the option (exit value 1: status 3).
check vconsole-absent 3 "no virtio console" "" run "$G/vconsole.elf"

# The console comes after the disks and rng: their addresses do not move.
truncate -s 1M "$TMP/disk.img"
VM_STDIN=$TMP/vc.in check vconsole-with-others 1 "vconsole: bye" "" run --disk "$TMP/disk.img" --rng \
	--virtio-console "$G/vconsole.elf"
if has vconsole-with-others "found device id 2 at 0xd0000000" &&
	has vconsole-with-others "found device id 4 at 0xd0001000" &&
	has vconsole-with-others "found device id 3 at 0xd0002000"; then
	pass vconsole-addresses
else
	fail vconsole-addresses "$(grep found "$TMP/vconsole-with-others.out")"
fi
check vconsole-rng-still-works 1 "rng: ok" "" run --rng --virtio-console "$G/rng.elf"

# On a terminal: typed input is echoed through hvc0, and Ctrl-A x still quits (status 12).
python3 - "$MOTE" "$G/vconsole.elf" <<'PY'
import os, select, subprocess, sys, time
mote, guest = sys.argv[1], sys.argv[2]
master, slave = os.openpty()
p = subprocess.Popen([mote, "run", "--virtio-console", guest], stdin=slave, stdout=slave,
                     stderr=slave, start_new_session=True)
out = b""
def wait_for(text, timeout=10.0):
    global out
    end = time.time() + timeout
    while text not in out and time.time() < end:
        if select.select([master], [], [], 0.1)[0]:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
    return text in out
ok = wait_for(b"hello from hvc0")
os.write(master, b"typed\r")
ok = ok and wait_for(b"typed")
print(("pass" if ok else "fail") + " vconsole-tty-echo" + ("" if ok else ": %r" % out))
os.write(master, b"\x01x")
try:
    rc = p.wait(10)
except subprocess.TimeoutExpired:
    p.kill()
    rc = p.wait()
print(("pass" if rc == 12 else "fail") + " vconsole-tty-escape" + ("" if rc == 12 else ": status %s" % rc))
os.close(master)
os.close(slave)
PY
