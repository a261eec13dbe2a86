# Helpers for the Linux guest tests (tests/linux/*.sh), sourced by bash after
# tests/integration/lib.sh. These tests boot a stock Linux kernel to userspace, which needs
# hardware virtualization (VT-x/AMD-V). They run two ways (docs/linux.md):
#   - directly, on a host with hardware virtualization: `bash tests/linux/boot.sh`; the kernel
#     and initramfs come from the guest kit (guest/kernel.sh, guest/initramfs.sh);
#   - through the nested test host (tests/nested/host.sh, run by tests/integration/nested_linux.sh),
#     which sets MOTE_LINUX_VMLINUZ, MOTE_LINUX_VMLINUX, MOTE_LINUX_INITRAMFS and MOTE_LINUX_NESTED=1.
# The guest's /init is guest/initramfs.sh's: it prints MOTE-INIT-OK, runs mote.cmd=... and
# powers off.
#
# Environment: MOTE_LINUX_FULL_TIMEOUT (seconds per boot, 300).
LTIMEOUT=${MOTE_LINUX_FULL_TIMEOUT:-300}
NOHW="this host cannot run a stock kernel to init (no hardware virtualization; the nested host runs these tests: tests/integration/nested_linux.sh)"

# linux_setup TESTNAME: sets vmlinuz, vmlinux and initramfs, or prints one skip/fail line for
# TESTNAME and returns 1.
linux_setup() {
	local name=$1 kout iout
	if [ ! -x "$MOTE" ]; then
		fail "$name" "no $MOTE (run make)"
		return 1
	fi
	if [ "${MOTE_LINUX_NESTED:-0}" != 1 ] && [ -d /sys/module/kvm_pvm ]; then
		skip "$name" "$NOHW"
		return 1
	fi
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		skip "$name" "no usable /dev/kvm"
		return 1
	fi
	if [ -n "${MOTE_LINUX_VMLINUZ:-}" ]; then
		vmlinuz=$MOTE_LINUX_VMLINUZ
		vmlinux=${MOTE_LINUX_VMLINUX:-}
		initramfs=$MOTE_LINUX_INITRAMFS
		return 0
	fi
	if ! kout=$(sh guest/kernel.sh 2>"$TMP/kernel.err"); then
		skip "$name" "cannot fetch Debian's cloud kernel (guest/kernel.sh: $(tail -n 1 "$TMP/kernel.err"))"
		return 1
	fi
	eval "$kout"
	if ! iout=$(sh guest/initramfs.sh 2>"$TMP/initramfs.err"); then
		fail "$name" "guest/initramfs.sh failed: $(tail -n 3 "$TMP/initramfs.err")"
		return 1
	fi
	eval "$iout"
}

# clean NAME: the guest's console output without carriage returns, in $TMP/NAME.txt.
clean() { tr -d '\r' <"$TMP/$1.out" >"$TMP/$1.txt"; }

# show NAME: mote's stderr and the end of the console, for a failure.
show() {
	echo "  --- $1: mote stderr:"
	sed 's/^/  | /' "$TMP/$1.err" | head -n 40
	echo "  --- $1: console (last 40 lines):"
	tr -d '\r' <"$TMP/$1.out" | tail -n 40 | sed 's/^/  | /'
}

# lboot NAME STATUS KERNEL CMD [MOTE RUN OPTIONS...]: boots KERNEL with the guest kit's
# initramfs and mote.cmd="CMD", expects /init (MOTE-INIT-OK) and mote's exit STATUS.
# Prints "pass NAME" or "fail NAME: why"; returns 1 on failure. Sets $rc and $secs.
lboot() {
	local name=$1 want=$2 kernel=$3 cmd=$4 t0
	shift 4
	t0=$(cut -d' ' -f1 /proc/uptime)
	timeout -s TERM "$LTIMEOUT" "$MOTE" -v run --mem 256M --cmdline "mote.quiet=1 mote.cmd=\"$cmd\"" \
		--initrd "$initramfs" "$@" "$kernel" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"
	rc=$?
	secs=$(awk -v t0="$t0" '{ printf "%.1f", $1 - t0 }' /proc/uptime)
	echo "  $name: mote status $rc after $secs s" >&2
	clean "$name"
	if [ "$rc" = 124 ]; then
		fail "$name" "no end after $LTIMEOUT s; console: $(tail -n 5 "$TMP/$name.txt" | tr '\n' '|')"
	elif [ "$rc" = 8 ] && grep -q 'could not emulate' "$TMP/$name.err"; then
		skip "$name" "$NOHW"
		return 1
	elif ! grep -q '^MOTE-INIT-OK' "$TMP/$name.txt"; then
		fail "$name" "status $rc and no MOTE-INIT-OK line; console: $(tail -n 5 "$TMP/$name.txt" | tr '\n' '|')"
	elif [ "$rc" != "$want" ]; then
		fail "$name" "init ran but mote ended with status $rc, expected $want: $(tail -n 2 "$TMP/$name.err" | tr '\n' '|')"
	else
		pass "$name"
		return 0
	fi
	show "$name" >&2
	return 1
}

# between NAME START END: the console lines strictly between the lines START and END.
between() { sed -n "/^$2\$/,/^$3\$/p" "$TMP/$1.txt" | sed '1d;$d'; }
