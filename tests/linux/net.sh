# Linux virtio-net: the guest's virtio_net module (found through mote's DSDT) brings up eth0 on a
# tap inside a network namespace made here (mote-lnet-PID), then:
#   linux-net-boot       the boot with --net powers off (mote status 0)
#   linux-net-ping       the host pings the guest's address
#   linux-net-tcp-in     1 MiB host -> guest over TCP, same sha256 on both sides
#   linux-net-tcp-out    1 MiB guest -> host over TCP, same sha256 on both sides
#   linux-net-offloads   the driver negotiated checksum offload both ways, TSO4 and mergeable
#                        receive buffers (feature bits 0, 1, 11, 15 in /sys/bus/virtio/.../features)
# The guest serves both transfers (busybox nc -l -e cat/dd); the host connects with bash's /dev/tcp.
# Needs root and `ip netns`. Run directly on a host with hardware virtualization, or through
# tests/nested/host.sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

NS=mote-lnet-$$
TAP=mln$$
BG=""
linux_setup linux-net || exit 0
if [ "$(id -u)" != 0 ] || ! ip netns add "$NS" 2>/dev/null; then
	skip linux-net "needs root and network namespaces"
	exit 0
fi
cleanup() {
	[ -n "$BG" ] && kill "$BG" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add "$TAP" mode tap
ip -n "$NS" addr add 10.0.9.1/24 dev "$TAP"
ip -n "$NS" link set "$TAP" up

head -c 1048576 /dev/urandom >"$TMP/to-guest"
in_sha=$(sha256sum <"$TMP/to-guest" | cut -c1-64)

cmd='ip link set eth0 up; ip addr add 10.0.9.2/24 dev eth0
head -c 1048576 /dev/urandom >/tmp/out; echo OUT-SHA $(sha256sum </tmp/out | cut -c1-64)
for d in /sys/bus/virtio/devices/*; do [ $(cat $d/device) = 0x0001 ] && echo FEATURES $(cat $d/features); done
echo NET-$((1 + 1))-UP
nc -l -p 5001 -e cat /tmp/out
nc -l -p 5000 -e dd of=/tmp/in; echo IN-SHA $(sha256sum </tmp/in | cut -c1-64)
poweroff'
cmd=${cmd//$'\n'/; }
# (mote.cmd="..." cannot hold double quotes.)

N=linux-net-boot
T=$TMP/$N.txt
ip netns exec "$NS" timeout -s TERM "$LTIMEOUT" "$MOTE" -v run --mem 256M \
	--net "tap=$TAP,mac=02:00:00:00:09:02" --cmdline "mote.quiet=1 mote.cmd=\"$cmd\"" \
	--initrd "$initramfs" "$vmlinuz" </dev/null >"$TMP/$N.out" 2>"$TMP/$N.err" &
BG=$!
up=0
for _ in $(seq $((LTIMEOUT * 2))); do
	clean $N
	if grep -q '^NET-2-UP' "$T"; then up=1; break; fi
	kill -0 "$BG" 2>/dev/null || break
	sleep 0.5
done
if [ $up = 0 ]; then
	fail $N "eth0 did not come up: $(tail -n 5 "$T" | tr '\n' '|')"
	show $N >&2
	exit 0
fi

if ip netns exec "$NS" ping -c 3 -i 0.2 -W 5 10.0.9.2 >"$TMP/ping.out" 2>&1; then pass linux-net-ping
else fail linux-net-ping "no ping reply from the guest's eth0: $(tail -n 2 "$TMP/ping.out" | tr '\n' '|')"; fi

# connect PORT: bash's /dev/tcp, retried while the guest's nc is not listening yet.
tcp() { ip netns exec "$NS" bash -c "$1" 2>/dev/null; }
for _ in $(seq 50); do
	tcp "cat </dev/tcp/10.0.9.2/5001" >"$TMP/from-guest" && [ -s "$TMP/from-guest" ] && break
	sleep 0.2
done
for _ in $(seq 50); do
	tcp "cat <'$TMP/to-guest' >/dev/tcp/10.0.9.2/5000" && break
	sleep 0.2
done
wait "$BG"
rc=$?
BG=""
clean $N
[ "$rc" = 0 ] && pass $N || fail $N "mote ended with status $rc, expected 0: $(tail -n 2 "$TMP/$N.err" | tr '\n' '|')"

out_sha=$(sha256sum <"$TMP/from-guest" | cut -c1-64)
grep -q "^OUT-SHA $out_sha\$" "$T" && pass linux-net-tcp-out ||
	fail linux-net-tcp-out "got $(wc -c <"$TMP/from-guest") bytes, sha $out_sha; the guest sent $(grep -m1 '^OUT-SHA' "$T")"
grep -q "^IN-SHA $in_sha\$" "$T" && pass linux-net-tcp-in ||
	fail linux-net-tcp-in "the guest received $(grep -m1 '^IN-SHA' "$T" || echo nothing), the host sent $in_sha"
feat=$(sed -n 's/^FEATURES \([01]*\)$/\1/p' "$T" | head -n 1)
bit() { [ "${feat:$1:1}" = 1 ]; }
if [ -z "$feat" ]; then
	fail linux-net-offloads "no virtio-net device in /sys/bus/virtio/devices"
elif bit 0 && bit 1 && bit 11 && bit 15; then
	pass linux-net-offloads
	echo "  linux-net: negotiated features $feat" >&2
else
	fail linux-net-offloads "features $feat lack CSUM (0), GUEST_CSUM (1), HOST_TSO4 (11) or MRG_RXBUF (15)"
fi
exit 0
