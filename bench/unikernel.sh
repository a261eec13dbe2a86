#!/bin/sh
# Solo5 hvt unikernel benchmark: start-to-exit wall time and peak RSS of the hello unikernel
# (tests/guests/hvt/hello.c) under `mote hvt` with BENCH_MEM and with 16 MiB of guest memory,
# side by side with Solo5 0.12.1's own tender (solo5-hvt) on the same unikernel when its binary
# is there (SOLO5_HVT, or ../shared/peers/solo5-hvt-0.12.1; skipped with a message otherwise),
# interleaved with mote's own PVH hello guest and the raw-KVM floor (bench/rawkvm.c running
# that PVH guest) as in-run references, and the block read rate of the blk unikernel (bench=N:
# reads a disk image N times in 64 KiB hypercalls) under both tenders. Medians over BENCH_RUNS
# interleaved runs, and mote / solo5-hvt ratios (the targets: wall <= 0.8, peak RSS <= 1.0).
# Needs `make all bench-bins`. Prints `name: value` lines; see docs/performance.md.
#
# Environment: BUILD (build), BENCH_RUNS (20), BENCH_BLK_MIB (64), BENCH_BLK_PASSES (4),
# BENCH_MEM (512, MiB, the solo5-hvt default), SOLO5_HVT (the peer binary), BENCH_RT=1 (run
# every measured command under `chrt -f 20`: on a machine other work keeps busy, the runs then
# preempt it instead of waiting for it; needs root).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-20}
MIB=${BENCH_BLK_MIB:-64}
PASSES=${BENCH_BLK_PASSES:-4}
MEM=${BENCH_MEM:-512}
MOTE=$BUILD/mote
RUNONE=$BUILD/bench/runone
H=$BUILD/guests/hvt
RAW=$BUILD/bench/rawkvm
for f in "$MOTE" "$RUNONE" "$RAW" "$H/hello.hvt" "$H/blk.hvt" "$BUILD/guests/hello.elf"; do
	[ -e "$f" ] || { echo "missing $f: run make all bench-bins" >&2; exit 1; }
done
PEER=${SOLO5_HVT:-}
for p in ../shared/peers/solo5-hvt-0.12.1 ../../shared/peers/solo5-hvt-0.12.1; do
	[ -z "$PEER" ] && [ -x "$p" ] && PEER=$p
done
if [ -n "$PEER" ] && [ ! -x "$PEER" ]; then
	echo "SOLO5_HVT=$PEER is not an executable" >&2
	exit 1
fi
[ -n "$PEER" ] || echo "solo5-hvt 0.12.1 not found (set SOLO5_HVT): running mote alone, no ratios" >&2
tmp=$(mktemp -d /tmp/mote-bench-hvt.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dd if=/dev/urandom of="$tmp/disk.img" bs=1M count="$MIB" status=none

# one NAME EXPECTED_STATUS CMD...: appends "wall_ns maxrss_kib" to $tmp/NAME.
RT=
[ "${BENCH_RT:-0}" = 1 ] && RT="chrt -f 20"
one() {
	name=$1 want=$2
	shift 2
	line=$($RT "$RUNONE" "$tmp/$name.out" "$@")
	case "$line" in *"status=$want"*) ;; *) echo "$name: unexpected result: $line" >&2; cat "$tmp/$name.out" >&2; exit 1 ;; esac
	echo "$line" | sed 's/wall_ns=\([0-9]*\) maxrss_kib=\([0-9]*\).*/\1 \2/' >>"$tmp/$name"
}
for f in hvt hvt16 pvh raw blk peer peer16 peerblk; do : >"$tmp/$f"; done
i=0
while [ $i -lt "$RUNS" ]; do
	one hvt 0 "$MOTE" hvt --mem="$MEM" "$H/hello.hvt"
	[ -n "$PEER" ] && one peer 0 "$PEER" --mem="$MEM" "$H/hello.hvt"
	one hvt16 0 "$MOTE" hvt --mem=16 "$H/hello.hvt"
	[ -n "$PEER" ] && one peer16 0 "$PEER" --mem=16 "$H/hello.hvt"
	one pvh 1 "$MOTE" run --no-pit --mem "${MEM}M" "$BUILD/guests/hello.elf"
	one raw 1 "$RAW" "$BUILD/guests/hello.elf"
	"$MOTE" hvt --mem=64 --block:storage="$tmp/disk.img" "$H/blk.hvt" bench="$PASSES" |
		sed -n 's/.*: \([0-9]*\) MiB\/s/\1/p' >>"$tmp/blk"
	[ -n "$PEER" ] && "$PEER" --mem=64 --block:storage="$tmp/disk.img" "$H/blk.hvt" bench="$PASSES" |
		sed -n 's/.*: \([0-9]*\) MiB\/s/\1/p' >>"$tmp/peerblk"
	i=$((i + 1))
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ms() { cut -d' ' -f1 "$tmp/$1" | median | awk '{ printf "%.2f", $1 / 1e6 }'; }
kib() { cut -d' ' -f2 "$tmp/$1" | median | awk '{ printf "%.0f", $1 }'; }
echo "runs: $RUNS (interleaved)${RT:+, under $RT}"
echo "hvt hello ($MEM MiB) start-to-exit median: $(ms hvt) ms"
echo "hvt hello ($MEM MiB) peak RSS median: $(kib hvt) KiB"
echo "hvt hello (16 MiB) start-to-exit median: $(ms hvt16) ms"
echo "hvt hello (16 MiB) peak RSS median: $(kib hvt16) KiB"
echo "pvh hello (mote run, $MEM MiB) start-to-exit median: $(ms pvh) ms, peak RSS $(kib pvh) KiB"
echo "raw-KVM floor (rawkvm, pvh hello) start-to-exit median: $(ms raw) ms, peak RSS $(kib raw) KiB"
echo "hvt ($MEM MiB) / floor start-to-exit ratio: $(echo "$(ms hvt) $(ms raw)" | awk '{ printf "%.2f", $1 / $2 }')"
echo "hvt block read ($MIB MiB x $PASSES passes, 64 KiB requests) median: $(median <"$tmp/blk") MiB/s"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$PEER" ] || exit 0
ratio() { echo "$1 $2" | awk '{ printf "%.2f", $1 / $2 }'; }
echo "solo5-hvt 0.12.1 hello ($MEM MiB) start-to-exit median: $(ms peer) ms"
echo "solo5-hvt 0.12.1 hello ($MEM MiB) peak RSS median: $(kib peer) KiB"
echo "solo5-hvt 0.12.1 hello (16 MiB) start-to-exit median: $(ms peer16) ms, peak RSS $(kib peer16) KiB"
echo "solo5-hvt 0.12.1 block read median: $(median <"$tmp/peerblk") MiB/s"
echo "mote/solo5-hvt wall ratio ($MEM MiB): $(ratio "$(ms hvt)" "$(ms peer)") (target <= 0.80)"
echo "mote/solo5-hvt peak RSS ratio ($MEM MiB): $(ratio "$(kib hvt)" "$(kib peer)") (target <= 1.00)"
echo "mote/solo5-hvt wall ratio (16 MiB): $(ratio "$(ms hvt16)" "$(ms peer16)")"
echo "mote/solo5-hvt peak RSS ratio (16 MiB): $(ratio "$(kib hvt16)" "$(kib peer16)")"
echo "mote/solo5-hvt block read ratio: $(ratio "$(median <"$tmp/blk")" "$(median <"$tmp/peerblk")")"
