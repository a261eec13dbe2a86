#!/bin/bash
# mote virtio-net benchmark, side by side with QEMU microvm (userspace virtio-net: vhost=off),
# both running the same guest binary (build/guests/net.elf) on a tap in a private network
# namespace (mote-netbench-$$; removed at exit). See docs/performance.md ("Network").
#
# Per round (BENCH_RUNS, default 3; the order mote/QEMU alternates):
#   echo    bench/netpeer sends BENCH_NET_RT (2000) 64-byte UDP datagrams one at a time to
#           the guest's echo port and waits for each echo: round trips/s and mean latency.
#   stream  the guest sends BENCH_NET_FRAMES (100000) UDP datagrams of 64 bytes (frames/s)
#           and of 1400 bytes (Mbit/s) to bench/netpeer's sink: rates as the host received
#           them (first to last datagram), plus the guest's own send time.
# Then once per VMM: idle  the guest sets the device up with every receive buffer posted and
#           halts its vCPU (`ring0 mode=idle`); the VMM process's CPU time over
#           BENCH_NET_IDLE_S (3) seconds, as a percentage of one CPU.
# Last, rate-limited rows (mote only: achieved / configured transmit rate, `limited_rows`;
# BENCH_LIMITED_ONLY=1 runs only them).
# Output: `name: value` lines on stdout (medians over the rounds), progress on stderr.
# Needs root, `make all bench-bins`, qemu-system-x86_64, ip, /dev/net/tun.
set -eu
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-3}
RT=${BENCH_NET_RT:-2000}
FRAMES=${BENCH_NET_FRAMES:-100000}
IDLE_S=${BENCH_NET_IDLE_S:-3}
MOTE=${BENCH_MOTE:-$BUILD/mote}
QEMU=${BENCH_QEMU:-qemu-system-x86_64}
GUEST=$BUILD/guests/net.elf
PEER=$(pwd)/$BUILD/bench/netpeer
NS=mote-netbench-$$
TM=mnb$$m TQ=mnb$$q
TMP=$(mktemp -d /tmp/mote-netbench.XXXXXX)

say() { echo "net.sh: $*" >&2; }
die() { echo "net.sh: FAILED: $*" >&2; exit 1; }
emit() { printf '%s: %s\n' "$1" "$2"; }

[ "$(id -u)" = 0 ] || die "needs root (network namespace, taps)"
for f in "$MOTE" "$GUEST" "$PEER"; do [ -x "$f" ] || [ -f "$f" ] || die "missing $f: run make all bench-bins"; done
command -v "$QEMU" >/dev/null || die "no $QEMU"

BG=""
cleanup() {
	[ -n "$BG" ] && kill "$BG" 2>/dev/null
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$NS"
nsx() { ip netns exec "$NS" "$@"; }
ip -n "$NS" link set lo up
for t in "$TM:10.0.0" "$TQ:10.0.1"; do
	ip -n "$NS" tuntap add "${t%%:*}" mode tap
	ip -n "$NS" link set "${t%%:*}" up
	ip -n "$NS" addr add "${t#*:}.1/24" dev "${t%%:*}"
done

# vm KIND CMDLINE: starts the guest under mote or QEMU in the background (pid in BG, console
# in $TMP/vm.out) and waits for "net: ready" / "net: idle".
vm() {
	local kind=$1 cl=$2
	: >"$TMP/vm.out"
	if [ "$kind" = mote ]; then
		nsx "$MOTE" run --net "tap=$TM" --cmdline "$cl ip=10.0.0.2 dst=10.0.0.1" "$GUEST" \
			</dev/null >"$TMP/vm.out" 2>"$TMP/vm.err" &
	else
		nsx "$QEMU" -M microvm,acpi=off -enable-kvm -cpu host,-arch-capabilities -m 128M \
			-nodefaults -no-user-config -nographic -serial stdio -no-reboot \
			-device isa-debug-exit,iobase=0xf4,iosize=4 -global virtio-mmio.force-legacy=false \
			-netdev "tap,id=n0,ifname=$TQ,script=no,downscript=no,vhost=off" \
			-device virtio-net-device,netdev=n0 -kernel "$GUEST" \
			-append "$cl ip=10.0.1.2 dst=10.0.1.1" </dev/null >"$TMP/vm.out" 2>"$TMP/vm.err" &
	fi
	BG=$!
	for _ in $(seq 300); do
		grep -q "net: ready\|net: idle" "$TMP/vm.out" && return 0
		kill -0 "$BG" 2>/dev/null || break
		sleep 0.05
	done
	die "$kind did not come up: $(head -c 300 "$TMP/vm.err") $(head -c 300 "$TMP/vm.out")"
}
ip_of() { [ "$1" = mote ] && echo 10.0.0.2 || echo 10.0.1.2; }
stop_vm() {
	nsx "$PEER" quit "$(ip_of "$1")" 7 || true
	for _ in $(seq 100); do kill -0 "$BG" 2>/dev/null || break; sleep 0.05; done
	kill "$BG" 2>/dev/null || true
	wait "$BG" 2>/dev/null || true
	BG=""
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" | head -1; }

# ---- rate-limited rows (issue 17): achieved / configured transmit rates, the guest's clock ----
# tx_bw=8M (1400-byte datagrams: 1442-byte frames, 2 s) and tx_ops=5000 (64-byte datagrams,
# 2 s; unlimited, the test host sends ~18000 frames/s), the guest's send time until the
# device took every frame (drain=1). achieved = (frames - the initial bucket) / time
# (docs/api.md: RATE/8 per 125 ms, RATE/10 per 100 ms).
# BENCH_LIMITED_ONLY=1 runs only these rows.
limited_rows() {
	local tsc out us n
	tsc=$(awk '/^cpu MHz/ { printf "%d", $4 + 0.5; exit }' /proc/cpuinfo)
	n=$(( (8 << 21) / 1442 ))
	out=$(nsx "$MOTE" run --net "tap=$TM,tx_bw=8M" --cmdline "tsc_mhz=$tsc mode=burst count=$n size=1400 drain=1 secs=1 ip=10.0.0.2 dst=10.0.0.1" \
		"$GUEST" </dev/null 2>&1 | tr -d '\r')
	us=$(echo "$out" | sed -n 's/.*netburst: frames=.* us=\([0-9]*\).*/\1/p')
	[ -n "$us" ] || die "tx_bw=8M: $(echo "$out" | tail -2)"
	emit net_limited_tx_bw_8mibs_achieved_mibs "$(awk -v b=$((n * 1442 - (8 << 20) / 8)) -v u="$us" 'BEGIN { printf "%.2f", b / u * 1e6 / 1048576 }')"
	emit net_limited_tx_bw_8mibs_ratio_achieved_configured "$(awk -v b=$((n * 1442 - (8 << 20) / 8)) -v u="$us" 'BEGIN { printf "%.3f", b / u * 1e6 / (8 * 1048576) }')"
	out=$(nsx "$MOTE" run --net "tap=$TM,tx_ops=5000" --cmdline "tsc_mhz=$tsc mode=burst count=10000 size=64 drain=1 secs=1 ip=10.0.0.2 dst=10.0.0.1" \
		"$GUEST" </dev/null 2>&1 | tr -d '\r')
	us=$(echo "$out" | sed -n 's/.*netburst: frames=.* us=\([0-9]*\).*/\1/p')
	[ -n "$us" ] || die "tx_ops=5000: $(echo "$out" | tail -2)"
	emit net_limited_tx_ops_5000_achieved "$(awk -v u="$us" 'BEGIN { printf "%.0f", (10000 - 500) / u * 1e6 }')"
	emit net_limited_tx_ops_5000_ratio_achieved_configured "$(awk -v u="$us" 'BEGIN { printf "%.3f", (10000 - 500) / u * 1e6 / 5000 }')"
}
if [ "${BENCH_LIMITED_ONLY:-0}" = 1 ]; then
	limited_rows
	exit 0
fi

echo_run() { # KIND -> rt_per_s mean_us
	vm "$1" "mode=echo secs=120"
	local out
	out=$(nsx "$PEER" echo "$(ip_of "$1")" 7 "$RT" 64) || die "$1 echo: $out"
	stop_vm "$1"
	echo "$(echo "$out" | field rt_per_s) $(echo "$out" | field mean_us)"
}

stream_run() { # KIND SIZE -> frames_per_s mbit_per_s guest_us
	nsx "$PEER" sink 9000 1000 60 >"$TMP/sink.out" &
	local sp=$!
	for _ in $(seq 100); do grep -q listening "$TMP/sink.out" && break; sleep 0.05; done
	vm "$1" "mode=burst count=$FRAMES size=$2 dport=9000 secs=120"
	for _ in $(seq 1200); do grep -q "netburst:" "$TMP/vm.out" && break; sleep 0.05; done
	wait "$sp" || die "$1 stream $2: $(cat "$TMP/sink.out")"
	stop_vm "$1"
	local s g
	s=$(grep "sink: frames" "$TMP/sink.out")
	g=$(grep "netburst:" "$TMP/vm.out" | tr -d '\r')
	[ -n "$g" ] || die "$1 stream: the guest did not finish: $(tail -2 "$TMP/vm.out")"
	echo "$(echo "$s" | field frames_per_s) $(echo "$s" | field mbit_per_s) $(echo "$g" | field us) $(echo "$s" | field frames)"
}

idle_run() { # KIND -> cpu percent of one CPU over IDLE_S
	vm "$1" "ring0 mode=idle"
	sleep 1
	local pid=$BG t0 t1 hz
	hz=$(getconf CLK_TCK)
	t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	sleep "$IDLE_S"
	t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	kill "$BG" 2>/dev/null || true
	wait "$BG" 2>/dev/null || true
	BG=""
	awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$IDLE_S" 'BEGIN { printf "%.1f\n", 100 * d / hz / s }'
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

for r in $(seq "$RUNS"); do
	order="mote qemu"
	[ $((r % 2)) = 0 ] && order="qemu mote"
	for k in $order; do
		say "round $r: $k echo"
		set -- $(echo_run "$k")
		echo "$1" >>"$TMP/$k.rtps"
		echo "$2" >>"$TMP/$k.lat"
		say "round $r: $k stream 64 B"
		set -- $(stream_run "$k" 64)
		echo "$1" >>"$TMP/$k.fps"
		echo "$4" >>"$TMP/$k.frames64"
		say "round $r: $k stream 1400 B"
		set -- $(stream_run "$k" 1400)
		echo "$2" >>"$TMP/$k.mbps"
	done
done
for k in mote qemu; do
	say "$k idle"
	idle_run "$k" >"$TMP/$k.idle"
done
say "rate-limited rows"
limited_rows

for k in mote qemu; do
	emit "net_${k}_echo_rt_per_s" "$(median <"$TMP/$k.rtps")"
	emit "net_${k}_echo_mean_us" "$(median <"$TMP/$k.lat")"
	emit "net_${k}_stream64_frames_per_s" "$(median <"$TMP/$k.fps")"
	emit "net_${k}_stream64_frames_received" "$(median <"$TMP/$k.frames64") of $FRAMES"
	emit "net_${k}_stream1400_mbit_per_s" "$(median <"$TMP/$k.mbps")"
	emit "net_${k}_idle_cpu_pct" "$(cat "$TMP/$k.idle")"
done
ratio() { awk -v a="$(median <"$TMP/mote.$1")" -v b="$(median <"$TMP/qemu.$1")" 'BEGIN { printf "%.2f\n", (b > 0 ? a / b : 0) }'; }
emit net_ratio_echo_rt_mote_over_qemu "$(ratio rtps)"
emit net_ratio_latency_mote_over_qemu "$(ratio lat)"
emit net_ratio_stream64_mote_over_qemu "$(ratio fps)"
emit net_ratio_stream1400_mote_over_qemu "$(ratio mbps)"
emit net_runs "$RUNS"
