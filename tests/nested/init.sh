#!/bin/sh
# /init of the nested test host (tests/nested/host.sh builds the archive; busybox sh runs this).
# Loads KVM (irqbypass, kvm, kvm-amd) and tun, checks that mote runs a test guest on the new
# /dev/kvm, runs the tests named by mote.tests= (comma-separated tests/*.sh paths) with bash
# from /mote, and powers off. Result lines (the tests' stdout) go to the second serial port
# (/dev/ttyS1), everything else to the console (ttyS0). Lines "nested-time: ..." carry timings,
# "nested-done" says the run completed.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm /run/netns
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /run/netns
ln -s /proc/self/fd /dev/fd 2>/dev/null
hostname nested
ip link set lo up

R=/dev/ttyS1
stty -F $R raw -echo 2>/dev/null
out() { echo "$*" >$R; }
up() { cut -d' ' -f1 /proc/uptime; }
out "nested-time: outer kernel reached /init after $(up) s of guest time"

param() {
	sed -n "s/^\(.* \)\{0,1\}mote\.$1=\([^ ]*\).*/\2/p" /proc/cmdline
}

for m in $(cat /lib/modules/load); do
	insmod "/lib/modules/$m" 2>/tmp/insmod.err || out "fail nested-kvm: insmod $m: $(cat /tmp/insmod.err)"
done
cd /mote || exit 1
if [ ! -c /dev/kvm ]; then
	out "fail nested-kvm: no /dev/kvm after loading kvm-amd: $(dmesg | grep -i -m2 'kvm\|svm' | tr '\n' ' ')"
else
	out "nested-time: /dev/kvm ready after $(up) s ($(dmesg | grep -m1 -o 'Nested Paging enabled' || echo 'no nested paging line'))"
	t0=$(up)
	timeout 60 build/mote run build/guests/hello.elf </dev/null >/tmp/hello.out 2>/tmp/hello.err
	rc=$?
	if [ $rc = 1 ] && grep -q 'Hello from a mote guest' /tmp/hello.out; then
		out "pass nested-kvm"
		out "nested-time: mote run hello.elf took $(echo "$(up) $t0" | awk '{printf "%.2f", $1 - $2}') s"
	else
		out "fail nested-kvm: mote run hello.elf: status $rc, $(head -c 300 /tmp/hello.out /tmp/hello.err | tr '\n' ' ')"
	fi

	export BUILD=build MOTE=build/mote
	export MOTE_LINUX_VMLINUZ=/mote/payload/vmlinuz MOTE_LINUX_VMLINUX=/mote/payload/vmlinux
	export MOTE_LINUX_INITRAMFS=/mote/payload/initramfs.cpio.gz MOTE_LINUX_NESTED=1
	export MOTE_LINUX_RELEASE="$(cat /mote/payload/release)"
	[ "$(param slow)" = 1 ] && export MOTE_SLOW=1
	for t in $(param tests | tr , ' '); do
		t0=$(up)
		echo "nested: running $t"
		bash "$t" >/tmp/test.out 2>/tmp/test.err
		rc=$?
		cat /tmp/test.out >$R
		sed -n 's/^  \([a-z0-9-]*: mote status .*\)/nested-time: \1/p' /tmp/test.err >$R
		if [ $rc != 0 ] && ! grep -q '^fail ' /tmp/test.out; then
			out "fail nested-$(basename "$t" .sh): $t exited with status $rc: $(tail -n 3 /tmp/test.err | tr '\n' ' ')"
		fi
		echo "nested: $t done (status $rc); its stderr:"
		sed 's/^/  /' /tmp/test.err
		out "nested-time: $t took $(echo "$(up) $t0" | awk '{printf "%.1f", $1 - $2}') s"
	done
fi
out "nested-done"
sync
poweroff -f
