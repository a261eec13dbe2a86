#!/bin/sh
# `make demo-linux` inside the nested test host (tests/nested/init.sh runs this for
# mote.demo=tty|script; busybox sh). Boots the payload kernel with the guest kit's busybox
# initramfs under mote, its console on this VM's console (QEMU's stdio):
#   tty     the user types; Ctrl-A x quits mote (or `poweroff -f` in the guest)
#   script  no terminal: waits for the guest's shell prompt, types a few commands, powers off
# Then the nested VM powers off (init.sh). Prints "demo-status: N" (mote's exit status).
cd /mote || exit 1
MOTE_RUN="build/mote run --mem 512M --initrd payload/initramfs.cpio.gz payload/vmlinuz"
echo "demo-linux: nested host up; running: mote run --mem 512M --initrd <guest kit initramfs> vmlinuz"
if [ "$1" = tty ]; then
	$MOTE_RUN
	rc=$?
	echo
	echo "demo-status: $rc"
	exit 0
fi

# script: mote reads the commands from a FIFO; its console goes to ours and to a file
# that is polled for the shell's prompt ("/ # " at the end of the output, perhaps followed by
# busybox's cursor-position query ESC [6n).
mkfifo /tmp/demo.in
build/mote run --mem 512M --initrd payload/initramfs.cpio.gz payload/vmlinuz \
	</tmp/demo.in >/tmp/demo.out 2>&1 &
MPID=$!
exec 3>/tmp/demo.in
tail -f /tmp/demo.out &
TPID=$!
size() { wc -c </tmp/demo.out; }
# prompt SECONDS SIZE: waits until the output is longer than SIZE bytes and ends with the
# shell's prompt (within its last 8 bytes); 1 if mote ended or it timed out.
prompt() {
	n=0
	while [ $n -lt "$1" ]; do
		kill -0 $MPID 2>/dev/null || return 1
		[ "$(size)" -gt "$2" ] && tail -c 8 /tmp/demo.out | grep -q '# ' && return 0
		sleep 1
		n=$((n + 1))
	done
	return 1
}
ok=1
if prompt 600 0; then
	for c in "uname -a" "cat /proc/cpuinfo | grep -c processor" "poweroff -f"; do
		s=$(size)
		echo "$c" >&3
		[ "$c" = "poweroff -f" ] && break
		prompt 120 "$((s + ${#c}))" || { ok=0; break; }
	done
else
	ok=0
fi
# poweroff -f ends mote; if it does not within a minute, stop it.
n=0
while kill -0 $MPID 2>/dev/null && [ $n -lt 60 ]; do sleep 1; n=$((n + 1)); done
kill -0 $MPID 2>/dev/null && kill -TERM $MPID
wait $MPID
rc=$?
sleep 1
kill $TPID 2>/dev/null
exec 3>&-
echo
[ $ok = 1 ] || echo "demo-linux: the guest's shell prompt did not come (or went away); see above"
echo "demo-status: $rc"
