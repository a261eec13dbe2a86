#!/bin/sh
# `make demo-linux`: boots Debian's cloud kernel with the guest kit's busybox initramfs to a
# shell on the serial console (Ctrl-A x quits). On a host that emulates guest ring 0 (nested or
# PVM KVM) a stock kernel cannot get that far: say so, and show how far it does get.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MOTE=$BUILD/mote

kout=$(sh guest/kernel.sh) || { echo "demo-linux: cannot fetch the Debian cloud kernel (see above)" >&2; exit 1; }
eval "$kout"
iout=$(sh guest/initramfs.sh) || { echo "demo-linux: cannot build the initramfs (see above)" >&2; exit 1; }
eval "$iout"

if [ -d /sys/module/kvm_pvm ]; then
	cat <<MSG
demo-linux: this host's KVM is PVM: guest kernel (ring 0) code is emulated about 1000x slower
and some instructions cannot be emulated at all, so a stock Linux kernel cannot boot to a shell
here. On a host with VT-x/AMD-V the same command boots to a busybox shell in well under a second:

  $MOTE run --mem 512M --initrd $initramfs $vmlinuz

What follows is how far it gets here: the early console (banner, mote's command line, e820 map,
ACPI tables) in about 15 seconds, then mote reports the instruction the host could not emulate.

MSG
	"$MOTE" run --mem 512M --cpu-features -xsave,-cx16 --cmdline earlyprintk=ttyS0 \
		--initrd "$initramfs" "$vmlinux" </dev/null
	rc=$?
	if [ $rc = 8 ]; then
		echo "demo-linux: as expected on this host, mote stopped the guest with status 8 (above)."
		exit 0
	fi
	echo "demo-linux: mote ended with status $rc" >&2
	exit $rc
fi
echo "demo-linux: booting $vmlinuz with a busybox initramfs; Ctrl-A x quits"
exec "$MOTE" run --mem 512M --initrd "$initramfs" "$vmlinuz"
