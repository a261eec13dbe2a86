#!/bin/bash
# The GDB stub (docs/debugging.md) with Debian's gdb in batch mode: mote run --gdb-socket and
# --gdb-tcp against the gdbtarget test guest (break by name, registers, a global, stepi,
# watchpoints, threads of a 2-vCPU guest, interrupting a spinning guest, the exit status,
# detach, kill), a hostile client's malformed packets (gdb_client.py), refused addresses, and
# mote hvt --gdb-socket= with a Solo5 test unikernel.
# On PVM hosts (/sys/module/kvm_pvm) guest ring-3 code runs natively and its #BP/#DB go to the
# guest, not to KVM: the tests that need debug exits run the guest at ring 0 there (`ring0`,
# emulated, where KVM checks breakpoints and single steps), and data watchpoints, which the
# emulator does not check, are skipped.
. "$(dirname "$0")/lib.sh"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

if ! command -v gdb >/dev/null; then
	skip gdb "gdb is not installed (apt-get install gdb)"
	exit 0
fi
ELF=$G/gdbtarget.elf
HVT=$G/hvt/hello.hvt
PVM=0
[ -d /sys/module/kvm_pvm ] && PVM=1
RING=
[ $PVM = 1 ] && RING=ring0

# start NAME ARGS...: mote ARGS in the background (stdout/stderr in $TMP/NAME.out/.err);
# waits until the socket $TMP/NAME.sock exists (the ARGS name it). MPID is its pid.
start() {
	local name=$1 i
	shift
	rm -f "$TMP/$name.sock"
	timeout 60 "$MOTE" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	MPID=$!
	PIDS+=("$MPID")
	for i in $(seq 100); do
		[ -S "$TMP/$name.sock" ] || grep -qs "waiting for gdb on [0-9]" "$TMP/$name.err" && return 0
		sleep 0.05
	done
	return 1
}

# gdbrun NAME TARGET FILE GDB-ARGS...: gdb -batch against TARGET; output in $TMP/NAME.gdb.
gdbrun() {
	local name=$1 target=$2 file=$3
	shift 3
	timeout -k 5 60 gdb -batch -nx -ex "set pagination off" -ex "target remote $target" "$@" \
		"$file" >"$TMP/$name.gdb" 2>&1
}

# finish: waits for mote; mrc is its status.
finish() {
	wait "$MPID"
	mrc=$?
}

gdb_has() { grep -qF -- "$2" "$TMP/$1.gdb"; }
why() { echo "$1; gdb: $(tail -c 400 "$TMP/$2.gdb" | tr '\n' '|'); mote: $(tail -c 300 "$TMP/$2.err" | tr '\n' '|')"; }

# Break on a function by name, continue, a global and a register, stepi, the exit status.
t=gdb-break
start $t run --gdb-socket "$TMP/$t.sock" --cmdline "$RING" "$ELF"
sleep 0.3
if [ -s "$TMP/$t.out" ]; then
	fail gdb-waits "the guest ran before gdb attached: $(head -c 100 "$TMP/$t.out")"
else
	pass gdb-waits
fi
mode=$(stat -c %a "$TMP/$t.sock" 2>/dev/null)
[ "$mode" = 600 ] && pass gdb-socket-mode || fail gdb-socket-mode "socket mode '$mode', want 600"
: >"$TMP/gdb-exists.sock"
refuse gdb-socket-exists 2 "exists" run --gdb-socket "$TMP/gdb-exists.sock" "$ELF"
fn=$(nm "$ELF" | awk '$3 == "gdb_target_func" {print $1}' | sed 's/^0*//')
gdbrun $t "$TMP/$t.sock" "$ELF" -ex 'break gdb_target_func' -ex continue -ex continue \
	-ex 'print gdb_counter' -ex 'print/x $rip' -ex 'print/x $cr0' -ex stepi -ex 'print/x $rip' \
	-ex delete -ex continue
finish
if ! gdb_has $t "Breakpoint 1, gdb_target_func (x=x@entry=2)"; then
	fail gdb-break-by-name "$(why "no second stop at gdb_target_func" $t)"
else
	pass gdb-break-by-name
fi
if gdb_has $t '$1 = 1' && gdb_has $t "\$2 = 0x$fn" && gdb_has $t '$3 = 0x80000011'; then
	pass gdb-global-and-registers
else
	fail gdb-global-and-registers "$(why "want gdb_counter 1, rip 0x$fn, cr0 0x80000011" $t)"
fi
if gdb_has $t '$4 = 0x' && ! gdb_has $t "\$4 = 0x$fn"; then
	pass gdb-stepi
else
	fail gdb-stepi "$(why "rip did not advance past 0x$fn" $t)"
fi
if gdb_has $t "exited with code 015" && [ "$mrc" = 13 ]; then
	pass gdb-exit-status
else
	fail gdb-exit-status "$(why "want 'exited with code 015' and mote status 13, got $mrc" $t)"
fi

# A hardware watchpoint stops on the write.
t=gdb-watch
if [ $PVM = 1 ]; then
	skip $t "PVM host: its instruction emulator (guest ring 0) checks no data breakpoints and ring-3 #DB goes to the guest"
else
	start $t run --gdb-socket "$TMP/$t.sock" "$ELF"
	gdbrun $t "$TMP/$t.sock" "$ELF" -ex 'watch gdb_counter' -ex continue -ex continue -ex delete \
		-ex continue
	finish
	if gdb_has $t "Hardware watchpoint 1: gdb_counter" && gdb_has $t "New value = 3" &&
		[ "$mrc" = 13 ]; then
		pass $t
	else
		fail $t "$(why "want stops with New value = 1 then 3" $t)"
	fi
fi

# Two vCPUs are two threads; SIGINT to gdb (Ctrl-C) interrupts the spinning guest at ring 3;
# kill ends the VM.
t=gdb-threads
start $t run --gdb-socket "$TMP/$t.sock" --cpus 2 --cmdline spin "$ELF"
timeout --foreground -k 5 -s INT 2 gdb -batch -nx -ex "target remote $TMP/$t.sock" -ex continue \
	-ex 'print gdb_spins > 0' -ex 'info threads' -ex kill "$ELF" >"$TMP/$t.gdb" 2>&1
finish
if gdb_has $t "Thread 2 (vCPU 1)" && gdb_has $t "Thread 1 (vCPU 0)"; then
	pass gdb-threads
else
	fail gdb-threads "$(why "info threads lacks two vCPUs" $t)"
fi
if gdb_has $t "received signal SIGINT" && gdb_has $t '$1 = 1'; then
	pass gdb-interrupt
else
	fail gdb-interrupt "$(why "the spinning guest was not interrupted" $t)"
fi
if gdb_has $t "killed" && [ "$mrc" = 12 ]; then
	pass gdb-kill
else
	fail gdb-kill "$(why "want mote status 12 after kill, got $mrc" $t)"
fi

# detach: the guest runs on to its end.
t=gdb-detach
start $t run --gdb-socket "$TMP/$t.sock" --cmdline "$RING" "$ELF"
gdbrun $t "$TMP/$t.sock" "$ELF" -ex 'break gdb_target_func' -ex continue -ex detach
finish
if gdb_has $t "Breakpoint 1, gdb_target_func" && gdb_has $t "detached]" && [ "$mrc" = 13 ] &&
	grep -qF "gdbtarget: counter 6" "$TMP/$t.out"; then
	pass $t
else
	fail $t "$(why "want the guest to finish after detach (status 13), got $mrc" $t)"
fi

# --gdb-tcp on a loopback port the kernel picks.
t=gdb-tcp
start $t run --gdb-tcp 127.0.0.1:0 "$ELF"
port=$(sed -n 's/.*waiting for gdb on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/$t.err" | head -1)
gdbrun $t "127.0.0.1:$port" "$ELF" -ex continue
finish
if [ -n "$port" ] && gdb_has $t "exited with code 015" && [ "$mrc" = 13 ]; then
	pass $t
else
	fail $t "$(why "port '$port', status $mrc" $t)"
fi

# Malformed packets get error replies; mote survives them and obeys the final 'k'.
t=gdb-client
start $t run --gdb-socket "$TMP/$t.sock" "$ELF"
timeout 30 python3 "$(dirname "$0")/gdb_client.py" "$TMP/$t.sock" >"$TMP/$t.gdb" 2>&1
crc=$?
finish
cat "$TMP/$t.gdb" | grep -E '^(pass|fail) '
if [ "$crc" = 0 ] && [ "$mrc" = 12 ]; then
	pass gdb-client-mote-survives
else
	fail gdb-client-mote-survives "$(why "client $crc, mote $mrc" $t)"
fi

# Refused addresses and values: one line each, status 2, nothing run.
refuse gdb-tcp-not-loopback 2 "refusing a non-loopback address" run --gdb-tcp 0.0.0.0:1234 "$ELF"
refuse gdb-tcp-bad-port 2 "the port must be a number" run --gdb-tcp 127.0.0.1:70000 "$ELF"
refuse gdb-tcp-no-port 2 "give HOST:PORT" run --gdb-tcp 127.0.0.1 "$ELF"
refuse gdb-socket-empty 2 "--gdb-socket needs a path" run --gdb-socket "" "$ELF"
refuse gdb-both 2 "give one of --gdb-socket and --gdb-tcp" run --gdb-socket "$TMP/x" \
	--gdb-tcp 127.0.0.1:1 "$ELF"
long=$(printf 'a%.0s' $(seq 120))
refuse gdb-socket-long 2 "longer than 107 bytes" run --gdb-socket "/tmp/$long" "$ELF"
vm gdb-hvt-empty hvt --gdb-socket= "$HVT"
if [ "$rc" = 1 ] && has_err gdb-hvt-empty "--gdb-socket needs a path"; then
	pass gdb-hvt-empty
else
	fail gdb-hvt-empty "status $rc: $(cat "$TMP/gdb-hvt-empty.err")"
fi

# A Solo5 unikernel through mote hvt --gdb-socket=: break, a register, the exit status.
t=gdb-hvt
if [ -f "$HVT" ]; then
	start $t hvt --gdb-socket="$TMP/$t.sock" "$HVT" exit=7
	main=$(nm "$HVT" | awk '$3 == "hvt_main" {print $1}' | sed 's/^0*//')
	gdbrun $t "$TMP/$t.sock" "$HVT" -ex 'break hvt_main' -ex continue -ex 'print/x $rip' \
		-ex 'x/s $rdi' -ex continue
	finish
	if gdb_has $t "Breakpoint 1, 0x" && gdb_has $t "\$1 = 0x$main" && gdb_has $t '"exit=7"' &&
		gdb_has $t "exited with code 07" && [ "$mrc" = 7 ]; then
		pass $t
	else
		fail $t "$(why "want a stop at hvt_main (0x$main), its argument, status 7; got $mrc" $t)"
	fi
else
	skip $t "no $HVT (make guests)"
fi

# The gdb thread runs in its own seccomp class: a forbidden call there ends mote (status 10).
t=gdb-sandbox
MOTE_SANDBOX_SELFTEST=gdb timeout 60 "$MOTE" run --gdb-socket "$TMP/$t.sock" "$ELF" \
	>"$TMP/$t.out" 2>"$TMP/$t.err" &
MPID=$!
PIDS+=("$MPID")
for i in $(seq 100); do [ -S "$TMP/$t.sock" ] && break; sleep 0.05; done
gdbrun $t "$TMP/$t.sock" "$ELF" -ex 'info registers rip'
finish
if [ "$mrc" = 10 ] && grep -qF "seccomp: gdb thread made forbidden system call" "$TMP/$t.err"; then
	pass $t
else
	fail $t "$(why "want status 10 and the seccomp report, got $mrc" $t)"
fi

# The API's machine-config gdb_socket_path (Firecracker's name), here from a config file.
t=gdb-api
printf '{"boot-source":{"kernel_image_path":"%s","boot_args":"%s"},"machine-config":{"vcpu_count":1,"mem_size_mib":128,"gdb_socket_path":"%s"}}\n' \
	"$ELF" "$RING" "$TMP/$t.sock" >"$TMP/$t.json"
start $t --config-file "$TMP/$t.json"
gdbrun $t "$TMP/$t.sock" "$ELF" -ex 'break gdb_target_func' -ex continue -ex 'print x' -ex delete \
	-ex continue
finish
if gdb_has $t '$1 = 1' && gdb_has $t "exited with code 015" && [ "$mrc" = 13 ]; then
	pass $t
else
	fail $t "$(why "want a stop in gdb_target_func and status 13, got $mrc" $t)"
fi

# gdb vanishes (no detach) while the guest runs with a breakpoint armed: mote takes the
# breakpoints out and the guest runs to its end.
t=gdb-vanish
start $t run --gdb-socket "$TMP/$t.sock" --cmdline "$RING" "$ELF"
timeout 20 python3 - "$TMP/$t.sock" "$fn" <<'PY' >"$TMP/$t.gdb" 2>&1
import socket, sys
def frame(p):
    return b"$" + p + b"#%02x" % (sum(p) & 0xff)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(frame(b"Z1,%s,1" % sys.argv[2].encode()))
buf = b""
while b"#" not in buf:
    buf += s.recv(100)
print("Z1 reply", buf)
s.sendall(b"+" + frame(b"c"))
s.close()
PY
finish
if grep -q 'OK' "$TMP/$t.gdb" && [ "$mrc" = 13 ] && grep -qF "gdbtarget: counter 6" "$TMP/$t.out"; then
	pass $t
else
	fail $t "$(why "want the guest to finish (status 13), got $mrc" $t)"
fi

# A guest that crashes its vCPU (triple): gdb sees SIGSEGV at the faulting instruction (ud2)
# and may look; continuing ends the VM with mote's status 8.
t=gdb-crash
start $t run --gdb-socket "$TMP/$t.sock" "$G/triple.elf"
gdbrun $t "$TMP/$t.sock" "$G/triple.elf" -ex continue -ex 'x/2xb $pc' -ex continue
finish
if gdb_has $t "received signal SIGSEGV" && gdb_has $t "0x0f	0x0b" && gdb_has $t "exited with code 010" &&
	[ "$mrc" = 8 ]; then
	pass $t
else
	fail $t "$(why "want SIGSEGV at the ud2, then status 8; got $mrc" $t)"
fi

# A Linux vmlinux (Debian's cloud kernel, when guest/kernel.sh has cached it; nothing is
# fetched here): gdb stops at the PVH entry its ELF note names, and a hardware breakpoint on
# the ELF entry (startup_64) catches it in long mode.
t=gdb-linux
vmlinux=$(ls "${MOTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mote}"/linux/*/vmlinux 2>/dev/null | head -1)
if [ -z "$vmlinux" ]; then
	skip $t "no cached kernel (sh guest/kernel.sh fetches one)"
else
	pvh=$(readelf -n "$vmlinux" | awk '/\(0x00000012\)/ { getline; print "0x" $6 $5 $4 $3 }' |
		sed 's/^0x0*/0x/')
	entry=$(readelf -h "$vmlinux" | awk '/Entry point/ { print $4 }')
	start $t run --gdb-socket "$TMP/$t.sock" --mem 512M --cmdline nokaslr "$vmlinux"
	gdbrun $t "$TMP/$t.sock" "$vmlinux" -ex 'print/x $pc' -ex "hbreak *$entry" -ex continue \
		-ex 'print/x $pc' -ex 'print/x $cr0' -ex kill
	finish
	if gdb_has $t "\$1 = $pvh" && gdb_has $t "\$2 = $entry" && gdb_has $t '$3 = 0x80000011' &&
		[ "$mrc" = 12 ]; then
		pass $t
	else
		fail $t "$(why "want a stop at the PVH entry $pvh, then at $entry in long mode" $t)"
	fi
fi
