# The same test-guest files boot under QEMU microvm (the peer) with the same output and status.
. "$(dirname "$0")/lib.sh"

if ! command -v qemu-system-x86_64 >/dev/null; then
	for n in qemu-hello qemu-cmdline qemu-elf32 qemu-echo; do skip $n "qemu-system-x86_64 is not installed"; done
	exit 0
fi
qemu() { # qemu NAME ARGS...: like vm, for QEMU microvm with the debug-exit device
	local name=$1
	shift
	timeout 30 qemu-system-x86_64 -M microvm -enable-kvm -cpu host,-arch-capabilities -m 128M \
		-nodefaults -no-user-config -nographic -serial stdio -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=4 "$@" <"${VM_STDIN:-/dev/null}" \
		>"$TMP/$name.out" 2>"$TMP/$name.err"
	rc=$?
}
same() { # same NAME: QEMU's and mote's output and status agree
	local name=$1
	if [ "$rc" != "$mrc" ]; then fail "$name" "QEMU status $rc, mote status $mrc"
	elif ! diff <(tr -d '\r' <"$TMP/$name.out") <(tr -d '\r' <"$TMP/$name-mote.out") >/dev/null; then
		fail "$name" "output differs: QEMU '$(head -c 200 "$TMP/$name.out")' mote '$(head -c 200 "$TMP/$name-mote.out")'"
	else pass "$name"; fi
}

vm qemu-hello-mote run "$G/hello.elf"; mrc=$rc; qemu qemu-hello -kernel "$G/hello.elf"; same qemu-hello
vm qemu-cmdline-mote run --cmdline "exit=9 a b c" "$G/cmdline.elf"; mrc=$rc
qemu qemu-cmdline -kernel "$G/cmdline.elf" -append "exit=9 a b c"; same qemu-cmdline
vm qemu-elf32-mote run --cmdline "exit=4 elf32" "$G/cmdline32.elf"; mrc=$rc
qemu qemu-elf32 -kernel "$G/cmdline32.elf" -append "exit=4 elf32"; same qemu-elf32
printf 'one two\nquit\n' >"$TMP/in"
VM_STDIN=$TMP/in vm qemu-echo-mote run "$G/echo.elf"; mrc=$rc
VM_STDIN=$TMP/in qemu qemu-echo -kernel "$G/echo.elf"; same qemu-echo
