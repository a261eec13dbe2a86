# virtio-net over tap: the net test guest (tests/guests/net.c) in a private network namespace
# (mote-net-$$, loopback-only taps), pinged and UDP-echoed from the namespace's side; MAC and
# MTU as configured; two interfaces; refusals (missing tap, someone else's tap, vhost=on
# without /dev/vhost-net); a hostile transmit guest; an idle interface's CPU cost; and the
# same guest binary under QEMU microvm on a tap.
. "$(dirname "$0")/lib.sh"

NS=mote-net-$$
T0=mn$$a T1=mn$$b T2=mn$$c T3=mn$$q
ALL="net-ping net-udp-echo net-mac-mtu net-default-mac net-two net-many-devices net-missing-tap \
net-other-user net-vhost-on net-vhost-auto net-hostile net-idle net-qemu"
need() { for n in $ALL; do skip "$n" "$1"; done; exit 0; }
[ "$(id -u)" = 0 ] || need "needs root (network namespaces, taps)"
[ -c /dev/net/tun ] || need "no /dev/net/tun"
command -v ip >/dev/null || need "no ip (iproute2)"
command -v ping >/dev/null || need "no ping (iputils-ping)"
command -v python3 >/dev/null || need "no python3"
ip netns add "$NS" 2>/dev/null || need "cannot create a network namespace"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
nsx() { ip netns exec "$NS" "$@"; }
mktap() { # mktap NAME ADDR [MTU] [ip tuntap options...]
	local name=$1 addr=$2 mtu=${3:-1500}
	shift 3 2>/dev/null || shift $#
	ip -n "$NS" tuntap add "$name" mode tap "$@" &&
		ip -n "$NS" link set "$name" mtu "$mtu" up &&
		ip -n "$NS" addr add "$addr" dev "$name"
}
ip -n "$NS" link set lo up
mktap "$T0" 10.0.0.1/24 || need "cannot create a tap in the namespace"
mktap "$T1" 10.0.1.1/24 1400

# start NAME ARGS...: mote in the namespace, in the background; waits for "net: ready".
start() {
	local name=$1
	shift
	nsx timeout 60 "$MOTE" "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
	BG=$!
	PIDS="$PIDS $BG"
	for _ in $(seq 100); do
		grep -q "net: ready\|net: idle" "$TMP/$name.out" 2>/dev/null && return 0
		kill -0 "$BG" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}
# finish: waits for the background mote; its status in $rc.
finish() { wait "$BG"; rc=$?; }

# udp IP PORT PAYLOAD-SPEC...: sends each payload and checks the echo byte for byte, then
# "quit". Spec: a size (random bytes). Prints "ok" or what differed.
udp() {
	nsx python3 - "$@" <<'EOF'
import os, socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for size in sys.argv[3:]:
    data = os.urandom(int(size))
    s.sendto(data, (ip, port))
    try:
        back, _ = s.recvfrom(65536)
    except socket.timeout:
        print("no echo for %s bytes" % size); sys.exit(1)
    if back != data:
        print("echo of %s bytes differs (got %d bytes)" % (size, len(back))); sys.exit(1)
s.sendto(b"quit", (ip, port))
try:
    back, _ = s.recvfrom(100)
except socket.timeout:
    print("no answer to quit"); sys.exit(1)
print("ok" if back == b"bye!" else "quit answered %r" % back)
EOF
}
quit() { nsx python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'quit', ('$1', 7))"; }

# ---- ping and UDP echo ----
if start net-ping run --net "tap=$T0" --cmdline "secs=40" "$G/net.elf"; then
	if out=$(nsx ping -c 3 -i 0.2 -W 2 10.0.0.2 2>&1); then pass net-ping
	else fail net-ping "no ping reply: $(echo "$out" | tail -2 | tr '\n' ' ')"; fi
	r=$(udp 10.0.0.2 7 1 18 100 1000 1472)
	finish
	if [ "$r" = ok ] && [ "$rc" = 1 ]; then pass net-udp-echo
	else fail net-udp-echo "$r, status $rc: $(tail -3 "$TMP/net-ping.out")"; fi
else
	fail net-ping "the guest did not come up: $(head -c 300 "$TMP/net-ping.err") $(head -c 300 "$TMP/net-ping.out")"
	skip net-udp-echo "the guest did not come up"
fi

# ---- MAC and MTU as configured; a stable default MAC ----
if start net-mac run --net "tap=$T1,mac=02:11:22:33:44:55" --cmdline "ip=10.0.1.2" "$G/net.elf"; then
	quit 10.0.1.2
	finish
	if has net-mac "net0: mac 02:11:22:33:44:55 mtu 1400 link up"; then pass net-mac-mtu
	else fail net-mac-mtu "$(head -1 "$TMP/net-mac.out")"; fi
else fail net-mac-mtu "the guest did not come up: $(head -c 300 "$TMP/net-mac.err")"; fi
macs=""
for i in 1 2; do
	if start net-dmac$i run --net "tap=$T0" "$G/net.elf"; then
		quit 10.0.0.2
		finish
		macs="$macs $(grep -o 'mac [0-9a-f:]*' "$TMP/net-dmac$i.out")"
	fi
done
set -- $macs
if [ $# = 4 ] && [ "$2" = "$4" ] && [ "$((0x${2%%:*} & 3))" = 2 ]; then pass net-default-mac
else fail net-default-mac "MACs '$macs' (want the same locally administered unicast MAC twice)"; fi

# ---- two interfaces at once ----
if start net-two run --net "tap=$T0" --net "tap=$T1" --cmdline "nif=2" "$G/net.elf"; then
	ok=1
	nsx ping -c 2 -i 0.2 -W 2 10.0.0.2 >/dev/null 2>&1 || ok=0
	nsx ping -c 2 -i 0.2 -W 2 10.0.1.2 >/dev/null 2>&1 || ok=0
	quit 10.0.1.2
	finish
	if [ $ok = 1 ] && has net-two "net1: mac" && [ "$rc" = 1 ]; then pass net-two
	else fail net-two "ping both: $ok, status $rc: $(head -3 "$TMP/net-two.out" | tr '\n' ' ')"; fi
else fail net-two "the guest did not come up: $(head -c 300 "$TMP/net-two.err")"; fi

# ---- 6 disks + 4 nets + rng + console: 12 virtio slots, the nets on GSIs 23, 5, 6, 7 ----
mktap "$T2" 10.0.2.1/24 1500 user 65534 && mktap "$T3" 10.0.3.1/24 || fail net-many-devices "taps"
disks=()
for i in 1 2 3 4 5 6; do truncate -s 1M "$TMP/d$i.img"; disks+=(--disk "$TMP/d$i.img"); done
if start net-many run "${disks[@]}" --rng --virtio-console --net "tap=$T0" --net "tap=$T1" \
	--net "tap=$T2" --net "tap=$T3" --cmdline "nif=2" "$G/net.elf"; then
	ok=1
	nsx ping -c 2 -i 0.2 -W 2 10.0.0.2 >/dev/null 2>&1 || ok=0
	nsx ping -c 2 -i 0.2 -W 2 10.0.1.2 >/dev/null 2>&1 || ok=0
	quit 10.0.0.2
	finish
	if [ $ok = 1 ] && [ "$rc" = 1 ]; then pass net-many-devices
	else fail net-many-devices "ping both: $ok, status $rc: $(head -c 300 "$TMP/net-many.out")"; fi
else fail net-many-devices "the guest did not come up: $(head -c 300 "$TMP/net-many.err") $(head -c 300 "$TMP/net-many.out")"; fi

# ---- refusals ----
refuse_ns() { # like refuse, for mote in the namespace (optionally behind a prefix command)
	local name=$1 want=$2 err=$3
	shift 3
	nsx timeout 20 "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"
	rc=$?
	if [ "$rc" != "$want" ]; then fail "$name" "status $rc, expected $want: $(head -c 300 "$TMP/$name.err")"
	elif ! has_err "$name" "$err"; then fail "$name" "stderr lacks '$err': $(cat "$TMP/$name.err")"
	elif ! one_line "$name"; then fail "$name" "expected one 'mote: ' line: $(cat "$TMP/$name.err")"
	else pass "$name"; fi
}
refuse_ns net-missing-tap 4 "no network interface 'mn-nope'" "$MOTE" run --net tap=mn-nope "$G/net.elf"
if ip netns exec "$NS" ip link show mn-nope >/dev/null 2>&1; then
	fail net-missing-tap "mote created the missing interface"
fi
if command -v setpriv >/dev/null; then
	# root without CAP_NET_ADMIN may not attach to a tap owned by uid 65534.
	refuse_ns net-other-user 4 "belongs to another user" setpriv --inh-caps=-net_admin \
		--bounding-set=-net_admin "$MOTE" run --net "tap=$T2" "$G/net.elf"
else skip net-other-user "no setpriv (util-linux)"; fi
if [ -e /dev/vhost-net ]; then
	skip net-vhost-on "this host has /dev/vhost-net (the refusal is for hosts without it)"
	skip net-vhost-auto "this host has /dev/vhost-net"
else
	refuse_ns net-vhost-on 6 "vhost=on" "$MOTE" run --net "tap=$T0,vhost=on" "$G/net.elf"
	nsx timeout 20 "$MOTE" -v run --net "tap=$T0" --cmdline "secs=1" "$G/net.elf" </dev/null \
		>"$TMP/vauto.out" 2>"$TMP/vauto.err"
	if grep -q "no /dev/vhost-net" "$TMP/vauto.err" && grep -q "net: ready" "$TMP/vauto.out"; then
		pass net-vhost-auto
	else fail net-vhost-auto "$(head -c 300 "$TMP/vauto.err")"; fi
fi

# ---- a hostile transmit guest leaves mote alive ----
nsx timeout 60 "$MOTE" run --net "tap=$T0" --cmdline "mode=hostile ip=10.0.0.2" "$G/net.elf" \
	</dev/null >"$TMP/hostile.out" 2>"$TMP/hostile.err"
rc=$?
if [ "$rc" = 1 ] && grep -q "nethostile: PASS" "$TMP/hostile.out" &&
	grep -q "guest error" "$TMP/hostile.err"; then pass net-hostile
else fail net-hostile "status $rc: $(tail -2 "$TMP/hostile.out" | tr '\n' ' ') $(head -c 200 "$TMP/hostile.err")"; fi

# ---- an idle interface costs the VMM no CPU ----
if start net-idle run --net "tap=$T0" --cmdline "ring0 mode=idle" "$G/net.elf"; then
	sleep 0.5
	pid=$(pgrep -P "$BG" -x mote || echo "$BG")
	ticks=$(cpu_ticks "$pid" 2)
	kill "$BG" 2>/dev/null
	wait "$BG" 2>/dev/null
	if [ "$ticks" -le 4 ]; then pass net-idle
	else fail net-idle "mote used $ticks clock ticks in 2 s while the guest was idle"; fi
else fail net-idle "the guest did not come up: $(head -c 300 "$TMP/net-idle.err")"; fi

# ---- the same guest under QEMU microvm, on a tap ----
if ! command -v qemu-system-x86_64 >/dev/null; then
	skip net-qemu "qemu-system-x86_64 is not installed"
else
	nsx timeout 60 qemu-system-x86_64 -M microvm,acpi=off -enable-kvm -cpu host,-arch-capabilities \
		-m 128M -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -global virtio-mmio.force-legacy=false \
		-netdev "tap,id=n0,ifname=$T3,script=no,downscript=no,vhost=off" \
		-device virtio-net-device,netdev=n0 -kernel "$G/net.elf" -append "secs=40 ip=10.0.3.2" \
		</dev/null >"$TMP/qemu.out" 2>"$TMP/qemu.err" &
	BG=$!
	PIDS="$PIDS $BG"
	for _ in $(seq 150); do grep -q "net: ready" "$TMP/qemu.out" && break; sleep 0.1; done
	ok=ping
	nsx ping -c 2 -i 0.2 -W 2 10.0.3.2 >/dev/null 2>&1 && ok=$(udp 10.0.3.2 7 1 100 1472)
	finish
	if [ "$ok" = ok ] && [ "$rc" = 1 ]; then pass net-qemu
	else fail net-qemu "$ok failed, status $rc: $(tr -d '\r' <"$TMP/qemu.out" | head -3 | tr '\n' ' ') $(head -c 200 "$TMP/qemu.err")"; fi
fi
