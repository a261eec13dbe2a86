#!/bin/bash
# mote virtio-vsock benchmark (docs/vsock.md, docs/performance.md "vsock"): the vsock test guest
# (build/guests/vsock.elf) against bench/vsockpeer over mote's hybrid vsock, side by side with
# the physical limits measured in the same run:
#   rtt       1-byte round trips host -> guest echo -> host (BENCH_VSOCK_RT, 5000), median and
#             mean; next to a host socketpair's and to the raw KVM exit floor (rawkvm running
#             the portloop guest: one port exit's round trip, guest -> KVM -> VMM -> guest).
#   stream    guest -> host and host -> guest, BENCH_VSOCK_MIB (512) MiB each (`nohash`: the
#             transport only), MiB/s; next to a host socketpair's MiB/s.
# Per round (BENCH_RUNS, default 3) every measurement once; medians printed as `name: value`
# lines with the targets' ratios (throughput >= 0.5x the pair, RTT <= 3x the exit floor), and
# the load average (the machine is shared: numbers are noisy, see docs/performance.md).
# BENCH_RT=1: every measured command (mote, vsockpeer, rawkvm) under `chrt -f 20`, so that the
# other work on a loaded machine does not decide the numbers (the guest polls: its vCPU keeps
# one core busy while a stream runs). Needs `make all bench-bins` (and root for BENCH_RT).
set -eu
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-3}
NRT=${BENCH_VSOCK_RT:-5000}
MIB=${BENCH_VSOCK_MIB:-512}
EXITS=${BENCH_VSOCK_EXITS:-100000}
MOTE=${BENCH_MOTE:-$BUILD/mote}
GUEST=$BUILD/guests/vsock.elf
PEER=$BUILD/bench/vsockpeer
RAW=$BUILD/bench/rawkvm
LOOP=$BUILD/guests/portloop.elf
RT=""
[ "${BENCH_RT:-0}" = 1 ] && RT="chrt -f 20"
TMP=$(mktemp -d /tmp/mote-vsockbench.XXXXXX)
S=$TMP/v.sock

say() { echo "vsock.sh: $*" >&2; }
die() { echo "vsock.sh: FAILED: $*" >&2; exit 1; }
emit() { printf '%s: %s\n' "$1" "$2"; }
for f in "$MOTE" "$GUEST" "$PEER" "$RAW" "$LOOP"; do [ -x "$f" ] || [ -f "$f" ] || die "missing $f: run make all bench-bins"; done

BG=""
cleanup() {
	[ -n "$BG" ] && kill "$BG" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# guest CMDLINE: mote with the vsock guest in the background; waits for "vsock: ready".
guest() {
	rm -f "$S"
	$RT "$MOTE" run --vsock "cid=3,uds=$S" --cmdline "$1" "$GUEST" </dev/null >"$TMP/vm.out" 2>"$TMP/vm.err" &
	BG=$!
	for _ in $(seq 200); do
		grep -q "vsock: ready" "$TMP/vm.out" 2>/dev/null && [ -S "$S" ] && return 0
		sleep 0.05
	done
	die "the guest did not come up: $(head -c 300 "$TMP/vm.err")"
}
finish() { wait "$BG" 2>/dev/null || true; BG=""; }
val() { sed -n "s/^$1: //p" "$2" | tail -1; }
med() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
secs() { date +%s.%N; }

: >"$TMP/rtt" >"$TMP/rttmean" >"$TMP/prtt" >"$TMP/pmib" >"$TMP/g2h" >"$TMP/h2g" >"$TMP/exit"
for r in $(seq "$RUNS"); do
	say "round $r of $RUNS"
	# raw KVM exit floor: portloop with EXITS exits minus with none, per exit
	t0=$(secs); $RT "$RAW" "$LOOP" "count=$EXITS" >/dev/null || true; t1=$(secs)
	$RT "$RAW" "$LOOP" "count=0" >/dev/null || true; t2=$(secs)
	echo "$t0 $t1 $t2 $EXITS" | awk '{printf "%.2f\n", (($2 - $1) - ($3 - $2)) * 1e6 / $4}' >>"$TMP/exit"
	# the host socketpair: round trips and a stream
	$RT "$PEER" pair "$NRT" "$MIB" >"$TMP/pair"
	val pair_rtt_us_median "$TMP/pair" >>"$TMP/prtt"
	val pair_mib_s "$TMP/pair" >>"$TMP/pmib"
	# round trips through the guest's echo port
	guest "mode=echo secs=120"
	$RT "$PEER" rtt "$S" 1234 "$NRT" >"$TMP/r"
	val rtt_us_median "$TMP/r" >>"$TMP/rtt"
	val rtt_us_mean "$TMP/r" >>"$TMP/rttmean"
	"$PEER" rtt "$S" 9999 1 >/dev/null 2>&1 || true # the guest's quit port
	finish
	# guest -> host
	rm -f "${S}_5000"
	$RT "$PEER" sink "${S}_5000" >"$TMP/sink" &
	SP=$!
	for _ in $(seq 100); do grep -q listening "$TMP/sink" && break; sleep 0.02; done
	rc=0
	$RT "$MOTE" run --vsock "cid=3,uds=$S" --cmdline "mode=send nohash mib=$MIB step=0" "$GUEST" \
		</dev/null >"$TMP/vm.out" 2>"$TMP/vm.err" || rc=$?
	[ "$rc" = 1 ] || die "send: status $rc: $(tail -2 "$TMP/vm.out")"
	wait "$SP"
	val mib_s "$TMP/sink" >>"$TMP/g2h"
	# host -> guest
	guest "mode=recv nohash"
	$RT "$PEER" source "$S" 1234 "$MIB" >"$TMP/src"
	finish
	val mib_s "$TMP/src" >>"$TMP/h2g"
done

exit_us=$(med <"$TMP/exit")
rtt=$(med <"$TMP/rtt")
prtt=$(med <"$TMP/prtt")
pmib=$(med <"$TMP/pmib")
g2h=$(med <"$TMP/g2h")
h2g=$(med <"$TMP/h2g")
emit vsock_rtt_us_median "$rtt"
emit vsock_rtt_us_mean "$(med <"$TMP/rttmean")"
emit uds_pair_rtt_us_median "$prtt"
emit raw_kvm_exit_us "$exit_us"
emit vsock_rtt_over_exit_floor "$(echo "$rtt $exit_us" | awk '{printf "%.2f", $1 / $2}')"
emit vsock_guest_to_host_mib_s "$g2h"
emit vsock_host_to_guest_mib_s "$h2g"
emit uds_pair_mib_s "$pmib"
emit vsock_guest_to_host_over_pair "$(echo "$g2h $pmib" | awk '{printf "%.2f", $1 / $2}')"
emit vsock_host_to_guest_over_pair "$(echo "$h2g $pmib" | awk '{printf "%.2f", $1 / $2}')"
emit rounds "$RUNS"
emit loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
emit realtime "${BENCH_RT:-0}"
