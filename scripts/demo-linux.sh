#!/bin/sh
# `make demo-linux`: boots Debian's cloud kernel with the guest kit's busybox initramfs to a
# shell on the serial console (Ctrl-A x quits).
#   - On a host with hardware virtualization (VT-x/AMD-V): mote runs it directly.
#   - On a host whose KVM emulates guest ring 0 (PVM), where a stock kernel cannot boot: through
#     the nested test host (tests/nested/host.sh, QEMU's software SVM with a real KVM inside),
#     mote inside it, its console on this terminal. Slow (everything is emulated), but real.
# Without a terminal on stdin (`make demo-linux </dev/null`) it types `uname -a`,
# `cat /proc/cpuinfo | grep -c processor` and `poweroff -f` into the guest's shell itself.
# MOTE_DEMO_VIA=direct|nested forces one way.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MOTE=$BUILD/mote

via=${MOTE_DEMO_VIA:-}
if [ -z "$via" ]; then
	if [ -d /sys/module/kvm_pvm ] || [ ! -w /dev/kvm ]; then via=nested; else via=direct; fi
fi
case $via in direct | nested) ;; *)
	echo "demo-linux: MOTE_DEMO_VIA must be direct or nested, not '$via'" >&2
	exit 2
	;;
esac

if [ $via = nested ]; then
	if [ -t 0 ]; then mode="tty"; else mode="script"; fi
	cat <<MSG
demo-linux: this host's KVM cannot run a stock Linux kernel (PVM emulates guest ring 0 about
1000x slower, and not every instruction), so the demo runs inside the nested test host: a
Linux VM under QEMU's software emulator whose own KVM is hardware-style, with mote in it.
Expect a few minutes to the prompt (all emulated; no timings here). On a host with VT-x/AMD-V
the same mote command boots to the prompt in well under a second.
MSG
	[ $mode = tty ] && echo "demo-linux: at the guest's '/ #' prompt type commands; Ctrl-A x quits mote (or: poweroff -f)"
	MOTE_NESTED_DEMO=$mode bash tests/nested/host.sh
	rc=$?
	[ $rc = 0 ] && echo "demo-linux: done (mote ended inside the nested host; it powered off)"
	[ $rc = 0 ] || echo "demo-linux: the nested demo did not end cleanly (see above)" >&2
	exit $rc
fi

kout=$(sh guest/kernel.sh) || { echo "demo-linux: cannot fetch the Debian cloud kernel (see above)" >&2; exit 1; }
eval "$kout"
iout=$(sh guest/initramfs.sh) || { echo "demo-linux: cannot build the initramfs (see above)" >&2; exit 1; }
eval "$iout"
if [ -t 0 ]; then
	echo "demo-linux: booting $vmlinuz with a busybox initramfs; Ctrl-A x quits"
	exec "$MOTE" run --mem 512M --initrd "$initramfs" "$vmlinuz"
fi
# No terminal: the same commands as the nested demo, from the kernel command line.
echo "demo-linux: booting $vmlinuz with a busybox initramfs; running a few commands in it"
exec "$MOTE" run --mem 512M --initrd "$initramfs" \
	--cmdline 'mote.cmd="uname -a; grep -c processor /proc/cpuinfo"' "$vmlinuz"
