# The Linux guest tests (tests/linux/*.sh: stock Debian kernel to userspace, SMP, poweroff,
# reboot, panic, virtio-blk/rng/console/net through the guest's own drivers), run one of two ways:
#   - directly, when this host has hardware virtualization (/dev/kvm is not PVM);
#   - otherwise through the nested test host (tests/nested/host.sh: a Debian kernel with
#     kvm-amd under QEMU's software SVM, mote and the tests inside). Timings there are
#     functional only.
# make check runs boot.sh and devices.sh (about a minute through the nested host on a quiet
# 2-core machine, several times that when it is shared); MOTE_SLOW=1 (make check-slow) runs all
# of tests/linux/ (net, API, bad input, --cpus 4 too).
# MOTE_LINUX_VIA=direct|nested forces one; MOTE_LINUX_TESTS="tests/linux/boot.sh ..." picks tests.
# Skips (one line) without QEMU or when the Debian packages cannot be fetched.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.." || exit 1

# shellcheck disable=SC2206 # a list of paths, split on purpose
if [ "${MOTE_SLOW:-0}" = 1 ]; then DEFAULT="tests/linux/*.sh"; else DEFAULT="tests/linux/boot.sh tests/linux/devices.sh"; fi
# shellcheck disable=SC2206
TESTS=(${MOTE_LINUX_TESTS:-$DEFAULT})
TESTS=("${TESTS[@]/tests\/linux\/lib.sh/}")
via=${MOTE_LINUX_VIA:-}
if [ -z "$via" ]; then
	if [ -d /sys/module/kvm_pvm ] || [ ! -w /dev/kvm ]; then via=nested; else via=direct; fi
fi
case $via in
direct)
	echo "  linux tests: directly on this host's /dev/kvm" >&2
	for t in "${TESTS[@]}"; do [ -n "$t" ] && bash "$t"; done
	;;
nested)
	echo "  linux tests: through the nested test host (tests/nested/host.sh)" >&2
	# shellcheck disable=SC2046
	bash tests/nested/host.sh $(printf '%s ' "${TESTS[@]}")
	;;
*) fail nested-linux "MOTE_LINUX_VIA must be direct or nested, not '$via'" ;;
esac
exit 0
