# The Linux guest tests (tests/linux/*.sh: stock Debian kernel to userspace, SMP, poweroff,
# reboot, panic, virtio-blk/rng/console/net through the guest's own drivers), run one of two ways:
#   - directly, when this host has hardware virtualization (/dev/kvm is not PVM);
#   - otherwise through the nested test host (tests/nested/host.sh: a Debian kernel with
#     kvm-amd under QEMU's software SVM, mote and the tests inside). Timings there are
#     functional only.
# make check runs boot.sh, devices.sh, net.sh, api.sh and bad.sh (about 110 s per kernel through
# the nested host on a quiet 2-core machine, several times that when it is shared); MOTE_SLOW=1
# (make check-slow) runs all of tests/linux/ (rate limits, balloon, vsock, snapshot too).
# MOTE_LINUX_VIA=direct|nested forces one; MOTE_LINUX_TESTS="tests/linux/boot.sh ..." picks tests.
# Skips (one line) without QEMU or when the Debian packages cannot be fetched.
# Then the same tests again with mote's own kernel as the guest (guest/build-kernel.sh), their
# lines named own-kernel/NAME: when it is in the cache, or always with MOTE_SLOW=1, which builds
# it (about 16 minutes on two cores); otherwise one skip line says how to build it.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.." || exit 1

# shellcheck disable=SC2206 # a list of paths, split on purpose
if [ "${MOTE_SLOW:-0}" = 1 ]; then DEFAULT="tests/linux/*.sh"
else DEFAULT="tests/linux/boot.sh tests/linux/devices.sh tests/linux/net.sh tests/linux/api.sh tests/linux/bad.sh"; fi
# shellcheck disable=SC2206
TESTS=(${MOTE_LINUX_TESTS:-$DEFAULT})
TESTS=("${TESTS[@]/tests\/linux\/lib.sh/}")
via=${MOTE_LINUX_VIA:-}
if [ -z "$via" ]; then
	if [ -d /sys/module/kvm_pvm ] || [ ! -w /dev/kvm ]; then via=nested; else via=direct; fi
fi
# run_set debian|own: the tests with that guest kernel, one of the two ways.
run_set() {
	case $via in
	direct)
		echo "  linux tests ($1 kernel): directly on this host's /dev/kvm" >&2
		if [ "$1" = own ]; then
			eval "$(echo "$bout" | sed -n 's/^\(vmlinuz\|vmlinux\)=/own_\1=/p')"
			iout=$(sh guest/initramfs.sh 2>/dev/null) || { fail own-kernel "guest/initramfs.sh failed"; return; }
			eval "$iout"
			export MOTE_LINUX_VMLINUZ=$own_vmlinuz MOTE_LINUX_VMLINUX=$own_vmlinux MOTE_LINUX_INITRAMFS=$initramfs
		fi
		for t in "${TESTS[@]}"; do [ -n "$t" ] && bash "$t"; done
		;;
	nested)
		echo "  linux tests ($1 kernel): through the nested test host (tests/nested/host.sh)" >&2
		# All of tests/linux/ (balloon.sh and vsock.sh too) takes longer than the default 600 s
		# when the machine is loaded.
		[ "${MOTE_SLOW:-0}" = 1 ] && export MOTE_NESTED_TIMEOUT=${MOTE_NESTED_TIMEOUT:-1200}
		# shellcheck disable=SC2046
		MOTE_NESTED_KERNEL=$1 bash tests/nested/host.sh $(printf '%s ' "${TESTS[@]}")
		;;
	*) fail nested-linux "MOTE_LINUX_VIA must be direct or nested, not '$via'" ;;
	esac
}

run_set debian
if [ "${MOTE_SLOW:-0}" = 1 ]; then
	bout=$(sh guest/build-kernel.sh 2>"$TMP/build-kernel.err") ||
		{ fail own-kernel "guest/build-kernel.sh: $(tail -n 1 "$TMP/build-kernel.err")"; exit 0; }
elif ! bout=$(sh guest/build-kernel.sh --cached 2>/dev/null); then
	skip own-kernel "mote's own kernel is not built (sh guest/build-kernel.sh, about 16 minutes on two cores; make check-slow builds it)"
	exit 0
fi
run_set own | sed -u 's/^\(pass\|fail\|skip\) /\1 own-kernel\//'
exit 0
