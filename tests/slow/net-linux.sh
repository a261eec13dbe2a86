# Linux virtio-net (opt-in: `make check-slow`): Debian's cloud kernel with the guest kit's
# initramfs finds mote's virtio-net device through the DSDT, its virtio_net module brings up
# eth0 with an address, and the host pings it through the tap (in a private network namespace
# mote-net-linux-PID). Needs hardware virtualization: on a host that emulates guest ring 0
# (PVM: /sys/module/kvm_pvm, or mote ending with status 8, "could not emulate") it is skipped.
#
# Environment: MOTE_LINUX_FULL_TIMEOUT (seconds for the boot, 300).
. "$(dirname "$0")/../integration/lib.sh"

TIMEOUT=${MOTE_LINUX_FULL_TIMEOUT:-300}
NOHW="this host cannot run a stock kernel to init (no hardware virtualization)"
NS=mote-net-linux-$$
TAP=mnl$$

if [ -d /sys/module/kvm_pvm ]; then skip net-linux "$NOHW"; exit 0; fi
if [ ! -x "$MOTE" ]; then fail net-linux "no $MOTE (run make)"; exit 0; fi
if [ "$(id -u)" != 0 ] || ! ip netns add "$NS" 2>/dev/null; then
	skip net-linux "needs root and network namespaces"
	exit 0
fi
trap 'kill $BG 2>/dev/null; ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
ip -n "$NS" tuntap add "$TAP" mode tap
ip -n "$NS" addr add 10.0.9.1/24 dev "$TAP"
ip -n "$NS" link set "$TAP" up
if ! kout=$(sh guest/kernel.sh 2>"$TMP/kernel.err"); then
	skip net-linux "cannot fetch Debian's cloud kernel (guest/kernel.sh: $(tail -n 1 "$TMP/kernel.err"))"
	exit 0
fi
eval "$kout"
if ! iout=$(sh guest/initramfs.sh 2>"$TMP/initramfs.err"); then
	fail net-linux "guest/initramfs.sh failed: $(tail -n 3 "$TMP/initramfs.err")"
	exit 0
fi
eval "$iout"

cmd="ip link set eth0 up && ip addr add 10.0.9.2/24 dev eth0 && echo NET-UP && sleep 60; poweroff"
ip netns exec "$NS" timeout -s TERM "$TIMEOUT" "$MOTE" -v run --mem 512M \
	--net "tap=$TAP,mac=02:00:00:00:09:02" --cmdline "mote.cmd=\"$cmd\"" --initrd "$initramfs" \
	"$vmlinux" </dev/null >"$TMP/linux.out" 2>"$TMP/linux.err" &
BG=$!
up=0
for _ in $(seq "$TIMEOUT"); do
	if grep -q NET-UP "$TMP/linux.out"; then up=1; break; fi
	kill -0 "$BG" 2>/dev/null || break
	sleep 1
done
if grep -q 'could not emulate' "$TMP/linux.err"; then skip net-linux "$NOHW"; exit 0; fi
if [ $up = 0 ]; then
	fail net-linux "eth0 did not come up: $(tr -d '\r' <"$TMP/linux.out" | tail -n 5 | tr '\n' '|')"
	exit 0
fi
if ip netns exec "$NS" ping -c 3 -W 5 10.0.9.2 >/dev/null 2>&1; then pass net-linux
else fail net-linux "no ping reply from the guest's eth0"; fi
exit 0
