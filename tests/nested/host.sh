#!/bin/bash
# The nested test host: a Linux VM under QEMU's software emulator (TCG, `-cpu max`: AMD SVM
# with nested paging), whose own KVM (Debian's kvm-amd) is hardware-style KVM. mote runs in
# it and boots real Linux guests to userspace, which this project's own /dev/kvm (PVM, see
# docs/linux.md) cannot do. Timings inside are functional only: everything is emulated.
#
#   bash tests/nested/host.sh [TEST...]      TEST: scripts under tests/ (default tests/linux/*.sh)
#
# Builds (cached in ${MOTE_CACHE:-~/.cache/mote}/nested, keyed by a hash of every input) an
# uncompressed initramfs for Debian's cloud kernel (guest/kernel.sh) holding busybox-static, the
# kernel's irqbypass/kvm/kvm-amd/tun modules, the freshly built $BUILD/mote with its shared
# libraries, bash, mkfs/debugfs, ip, curl, the test guests, tests/ and the payload (the same kernel as
# bzImage and vmlinux, the guest kit's busybox initramfs). Boots it with
#   qemu-system-x86_64 -accel tcg -cpu max -m 3072 -smp 2 -nographic -no-reboot ...
# Its /init (tests/nested/init.sh) loads KVM and runs the tests, whose stdout goes to the VM's
# second serial port (a file here) and is relayed: lines "pass NAME", "fail NAME: why",
# "skip NAME: why" (tests/run.sh's format). The VM's console goes to a log file, shown on failure.
#
# Prints "skip nested-host: why" when QEMU or the packages are missing; "fail nested-host: why"
# when the VM does not come up or runs past the time limit (it is killed by PID then).
# Environment: MOTE_SLOW=1 (make check-slow) is passed on to the tests; MOTE_NESTED_TIMEOUT (seconds for the whole VM, 600), MOTE_NESTED_SMP (2),
# MOTE_NESTED_MEM (3072, MiB), MOTE_NESTED_LOG (keep the VM's console log at this path),
# MOTE_CACHE, BUILD, QEMU (qemu-system-x86_64), MOTE_NESTED_DEMO (below), MOTE_NESTED_KERNEL
# (debian: the tests boot the outer Debian kernel, the default; own: mote's own kernel, below).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${MOTE_NESTED_TIMEOUT:-600}
CACHE=${MOTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mote}
NCACHE=$CACHE/nested
export LC_ALL=C

TMP=$(mktemp -d /tmp/mote-nested.XXXXXX)
QPID=""
cleanup() {
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill -TERM "$QPID" 2>/dev/null
		sleep 1
		kill -KILL "$QPID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

skip() { echo "skip nested-host: $1"; exit 0; }
fail() { echo "fail nested-host: $1"; exit 0; }
note() { echo "  nested: $*"; }

TESTS=("$@")
[ ${#TESTS[@]} -gt 0 ] || TESTS=(tests/linux/*.sh)
for t in "${TESTS[@]}"; do
	case $t in tests/*.sh) [ -f "$t" ] || fail "no test $t" ;; *) fail "test $t is not a tests/*.sh path" ;; esac
done

command -v "$QEMU" >/dev/null 2>&1 || skip "no $QEMU (apt-get install qemu-system-x86)"
[ -x "$BUILD/mote" ] || fail "no $BUILD/mote (run make)"
kout=$(sh guest/kernel.sh 2>"$TMP/kernel.err") ||
	skip "cannot fetch Debian's cloud kernel (guest/kernel.sh: $(tail -n 1 "$TMP/kernel.err"))"
eval "$kout"
# The payload, the kernel the tests boot under mote: by default the outer kernel itself;
# MOTE_NESTED_KERNEL=own takes mote's own kernel (guest/build-kernel.sh, built if not cached: about
# 20 minutes). The outer VM always runs Debian's kernel, whose KVM modules it needs.
p_vmlinuz=$vmlinuz p_vmlinux=$vmlinux p_release=$release
case ${MOTE_NESTED_KERNEL:-debian} in
debian) ;;
own)
	bout=$(sh guest/build-kernel.sh 2>"$TMP/bk.err") ||
		fail "cannot build mote's own kernel (guest/build-kernel.sh: $(tail -n 1 "$TMP/bk.err"))"
	eval "$(echo "$bout" | sed -n 's/^\(release\|vmlinuz\|vmlinux\)=/p_\1=/p')"
	;;
*) fail "MOTE_NESTED_KERNEL must be debian or own, not '$MOTE_NESTED_KERNEL'" ;;
esac
iout=$(sh guest/initramfs.sh 2>"$TMP/initramfs.err") ||
	skip "cannot build the guest initramfs (guest/initramfs.sh: $(tail -n 1 "$TMP/initramfs.err"))"
eval "$iout"
for tool in bash mke2fs debugfs ip sha256sum; do
	command -v "$tool" >/dev/null 2>&1 || skip "no $tool on this host (scripts/deps.sh installs it)"
done
BUSYBOX=""
for b in /bin/busybox /usr/bin/busybox "$CACHE/busybox-static/bin/busybox"; do
	if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then BUSYBOX=$b; break; fi
done
[ -n "$BUSYBOX" ] || skip "no static busybox (apt-get install busybox-static)"

. guest/cpio.sh
sha() { sha256sum | cut -c1-16; }

# The host binaries the VM runs, with their shared libraries (by the paths ldd gives).
TOOLS="bash mke2fs debugfs e2fsck ip curl"
BINS="$BUILD/mote"
for f in $TOOLS; do command -v $f >/dev/null 2>&1 && BINS="$BINS $(command -v $f)"; done
libs_of() {
	ldd "$@" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p' | sort -u
}
# mote's API mode dlopen()s libmicrohttpd (src/api/api.c): it and its own libraries too.
MHD=$(ldconfig -p 2>/dev/null | sed -n 's/^[[:space:]]*libmicrohttpd\.so\.12 (libc6,x86-64) => //p' | head -n 1)
# mote is static: its dlopen() looks for libc.so.6's own dependency, the loader, in the system
# directory (ldd names it by the /lib64 path of the interpreter).
LDSO=/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
LIBS=$( { libs_of $BINS; [ -n "$MHD" ] && echo "$MHD" && libs_of "$MHD"; [ -e "$LDSO" ] && echo "$LDSO"; } | sort -u)
GUESTS=$(ls "$BUILD"/guests/*.elf 2>/dev/null)
# Static helpers for the Linux tests (tests/linux/linux.mk), e.g. vsockt for tests/linux/vsock.sh.
LTOOLS=$(ls "$BUILD"/linux/* 2>/dev/null)
MODS="kernel/virt/lib/irqbypass.ko kernel/arch/x86/kvm/kvm.ko kernel/arch/x86/kvm/kvm-amd.ko kernel/drivers/net/tun.ko"
for m in $MODS; do [ -f "$modules/$m" ] || skip "$release has no $m"; done
# The scripts the tests use inside (tests/linux/lib.sh finds the payload by MOTE_LINUX_* there).
TREE=$(find tests/integration/lib.sh tests/linux tests/nested guest -type f -name '*.sh' | sort)

# dirs_of PATH...: a c_dir entry for every parent directory, parents first (the kernel's
# unpacker does not create them).
dirs_of() {
	for p in "$@"; do
		d=${p#/}
		while d=$(dirname "$d") && [ "$d" != . ]; do echo "$d"; done
	done | sort -u | while read -r d; do c_dir "$d"; done
}

# The two halves of the archive: "base" changes with the packages, "top" with every build.
base_key=$({
	echo "base 1 $release $package_version"
	cat tests/nested/host.sh tests/nested/init.sh guest/cpio.sh
	sha256sum "$BUSYBOX" "$vmlinuz" "$p_vmlinuz" "$p_vmlinux" "$initramfs"
	for m in $MODS; do sha256sum "$modules/$m"; done
} | sha)
top_key=$({
	echo "top 1"
	# shellcheck disable=SC2086
	sha256sum $BINS $LIBS $GUESTS $TREE $LTOOLS
} | sha)
mkdir -p "$NCACHE"
BASE=$NCACHE/base-$base_key.cpio
IMG=$NCACHE/initrd-$base_key-$top_key.cpio

build_base() {
	local t
	note "building $BASE"
	t=$(mktemp "$NCACHE/.base.XXXXXX")
	{
		for d in bin sbin dev proc sys tmp run root usr usr/bin usr/sbin lib lib/modules mote mote/payload; do
			c_dir "$d"
		done
		c_chr dev/console 0600 5 1
		c_chr dev/null 0666 1 3
		c_chr dev/ttyS0 0660 4 64
		c_chr dev/ttyS1 0660 4 65
		c_file bin/busybox 0755 "$BUSYBOX"
		c_link bin/sh busybox
		c_file init 0755 tests/nested/init.sh
		for m in $MODS; do c_file "lib/modules/$(basename "$m")" 0644 "$modules/$m"; done
		c_text lib/modules/load 0644 "$(for m in $MODS; do basename "$m"; done)"
		c_file mote/payload/vmlinuz 0644 "$p_vmlinuz"
		c_file mote/payload/vmlinux 0644 "$p_vmlinux"
		c_file mote/payload/initramfs.cpio.gz 0644 "$initramfs"
		c_text mote/payload/release 0644 "$p_release"
		c_trailer
	} >"$t" && mv "$t" "$BASE" || { rm -f "$t"; return 1; }
}

build_image() {
	local t f
	[ -s "$BASE" ] || build_base || return 1
	note "building $IMG"
	t=$(mktemp "$NCACHE/.img.XXXXXX")
	{
		cat "$BASE"
		# shellcheck disable=SC2086
		dirs_of $LIBS mote/build/guests/x $(for f in $TREE; do echo "mote/$f"; done)
		for f in $LIBS; do c_file "${f#/}" 0755 "$f"; done
		c_file mote/build/mote 0755 "$BUILD/mote"
		for f in $TOOLS; do command -v $f >/dev/null 2>&1 && c_file "bin/$f" 0755 "$(command -v $f)"; done
		c_link bin/mkfs.ext4 mke2fs
		c_dir etc
		[ -f /etc/mke2fs.conf ] && c_file etc/mke2fs.conf 0644 /etc/mke2fs.conf
		for f in $GUESTS; do c_file "mote/build/guests/$(basename "$f")" 0644 "$f"; done
		[ -n "$LTOOLS" ] && c_dir mote/build/linux
		for f in $LTOOLS; do c_file "mote/build/linux/$(basename "$f")" 0755 "$f"; done
		for f in $TREE; do c_file "mote/$f" 0755 "$f"; done
		c_trailer
	} >"$t" && mv "$t" "$IMG" || { rm -f "$t"; return 1; }
	# Keep the newest three images and the bases they use; older ones are only disk space.
	# Only files untouched for an hour go: another run (another worktree) may be about to boot one.
	ls -t "$NCACHE"/initrd-*.cpio 2>/dev/null | tail -n +4 | while read -r f; do
		[ -n "$(find "$f" -mmin +60 2>/dev/null)" ] && rm -f "$f"
	done
	for f in "$NCACHE"/base-*.cpio; do
		ls "$NCACHE"/initrd-"$(basename "$f" .cpio | sed 's/^base-//')"-*.cpio >/dev/null 2>&1 ||
			[ "$f" = "$BASE" ] || [ -z "$(find "$f" -mmin +60 2>/dev/null)" ] || rm -f "$f"
	done
	return 0
}
[ -s "$IMG" ] || build_image || fail "could not build the initramfs in $NCACHE"

# MOTE_NESTED_DEMO=tty|script (scripts/demo-linux.sh): no tests; init.sh runs tests/nested/demo.sh,
# a Linux guest under mote with its console on QEMU's stdio (tty: the user types, Ctrl-A x quits
# mote; script: it types a few commands). The VM powers off when mote ends. Exit status 0 when
# mote ended with 0 (or, tty, 12: Ctrl-A x), else 1.
case ${MOTE_NESTED_DEMO:-} in
"") ;;
tty | script)
	dmode=$MOTE_NESTED_DEMO
	note "booting $release under QEMU TCG (-cpu max); mote starts in it in a minute or so"
	DLOG=$TMP/demo.log
	# tty: no time limit (the user decides); script: the hard limit, as for tests.
	if [ "$dmode" = tty ]; then din=/dev/stdin lim=""; else din=/dev/null lim="timeout -s KILL $TIMEOUT"; fi
	$lim "$QEMU" -accel tcg -cpu max -m "${MOTE_NESTED_MEM:-3072}" -smp "${MOTE_NESTED_SMP:-2}" \
		-nographic -no-reboot -nodefaults -serial stdio -serial "file:$TMP/results.txt" \
		-kernel "$vmlinuz" -initrd "$IMG" \
		-append "console=ttyS0 panic=-1 quiet loglevel=1 mitigations=off mote.demo=$dmode" \
		<$din 2>&1 | tee "$DLOG"
	tr -d '\r' <"$DLOG" | grep -q '^demo-status: 0$' && exit 0
	# tty: Ctrl-A x ends mote with 12, a normal way out of an interactive demo.
	[ "$dmode" = tty ] && tr -d '\r' <"$DLOG" | grep -q '^demo-status: 12$' && exit 0
	exit 1
	;;
*) fail "MOTE_NESTED_DEMO must be tty or script, not '$MOTE_NESTED_DEMO'" ;;
esac

CONSOLE=${MOTE_NESTED_LOG:-$TMP/console.log}
RESULTS=$TMP/results.txt
: >"$RESULTS"
# The tests and the build directory travel on the kernel command line; init.sh reads them.
LIST=$(IFS=,; echo "${TESTS[*]}")
APPEND="console=ttyS0 panic=-1 quiet loglevel=4 mitigations=off mote.tests=$LIST mote.slow=${MOTE_SLOW:-0}"
note "booting $release under QEMU TCG (-cpu max, $((${MOTE_NESTED_SMP:-2})) vCPUs), payload $p_release; limit $TIMEOUT s"
t0=$(date +%s.%N)
"$QEMU" -accel tcg -cpu max -m "${MOTE_NESTED_MEM:-3072}" -smp "${MOTE_NESTED_SMP:-2}" \
	-nographic -no-reboot -nodefaults -serial "file:$CONSOLE" -serial "file:$RESULTS" \
	-kernel "$vmlinuz" -initrd "$IMG" -append "$APPEND" </dev/null >"$TMP/qemu.out" 2>&1 &
QPID=$!
deadline=$((SECONDS + TIMEOUT))
while kill -0 "$QPID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 1; done
timed_out=0
if kill -0 "$QPID" 2>/dev/null; then
	timed_out=1
	kill -TERM "$QPID" 2>/dev/null
	sleep 1
	kill -KILL "$QPID" 2>/dev/null
fi
wait "$QPID" 2>/dev/null
qrc=$?
QPID=""
t1=$(date +%s.%N)

tr -d '\r' <"$RESULTS" >"$TMP/results.clean"
grep -E '^(pass|fail|skip) ' "$TMP/results.clean"
sed -n 's/^nested-time: /  nested: /p' "$TMP/results.clean"
note "QEMU ran $(echo "$t1 $t0" | awk '{printf "%.1f", $1 - $2}') s (status $qrc)"
show_console() {
	echo "  --- the nested host's console (last 60 lines of $CONSOLE):"
	tr -d '\r' <"$CONSOLE" | tail -n 60 | sed 's/^/  | /'
}
if [ $timed_out = 1 ]; then
	show_console
	fail "QEMU still running after $TIMEOUT s (MOTE_NESTED_TIMEOUT): killed"
fi
if ! grep -q '^nested-done' "$TMP/results.clean"; then
	show_console
	fail "the nested host ended (QEMU status $qrc) before its tests finished: $(head -c 300 "$TMP/qemu.out")"
fi
exit 0
