#!/bin/sh
# A/B of two mote binaries on the same machine, interleaved: start-to-exit wall time and peak
# RSS (bench/runone) of `mote run --mem 128M hello.elf` and `mote hvt --mem=512 hello.hvt`, with
# the raw-KVM floor (bench/rawkvm hello.elf) in the same run. Medians (and min-max) over
# BENCH_RUNS runs. Needs `make all bench-bins`; BEFORE defaults to $BUILD/mote as well.
#
# usage: bench/ab.sh [BEFORE [AFTER]]    Environment: BUILD (build), BENCH_RUNS (20), BENCH_RT=1
# (every run under `chrt -f 20`, as bench/unikernel.sh: on a busy machine the runs preempt the
# other work instead of waiting for it; needs root)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-20}
A=${1:-$BUILD/mote}
B=${2:-$BUILD/mote}
RUNONE=$BUILD/bench/runone
G=$BUILD/guests
for f in "$A" "$B" "$RUNONE" "$BUILD/bench/rawkvm" "$G/hello.elf" "$G/hvt/hello.hvt"; do
	[ -e "$f" ] || { echo "missing $f: run make all bench-bins" >&2; exit 1; }
done
RT=
[ "${BENCH_RT:-0}" = 1 ] && RT="chrt -f 20"
tmp=$(mktemp -d /tmp/mote-bench-ab.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# one NAME STATUS CMD...: a run, its wall_ns and maxrss_kib appended to $tmp/NAME
one() {
	name=$1 want=$2
	shift 2
	line=$($RT "$RUNONE" "$tmp/out" "$@")
	case "$line" in *"status=$want "*) ;; *) echo "$name: $line ($(head -c 200 "$tmp/out"))" >&2; exit 1 ;; esac
	echo "$line" >>"$tmp/$name"
}
i=0
while [ $i -lt "$RUNS" ]; do
	one raw 1 "$BUILD/bench/rawkvm" "$G/hello.elf"
	one run_before 1 "$A" run --mem 128M "$G/hello.elf"
	one run_after 1 "$B" run --mem 128M "$G/hello.elf"
	one hvt_before 0 "$A" hvt --mem=512 "$G/hvt/hello.hvt"
	one hvt_after 0 "$B" hvt --mem=512 "$G/hvt/hello.hvt"
	i=$((i + 1))
done
for name in raw run_before run_after hvt_before hvt_after; do
	python3 - "$tmp/$name" "$name" <<'PY'
import re, statistics, sys
rows = [dict(re.findall(r"(\w+)=(\d+)", l)) for l in open(sys.argv[1])]
w = sorted(int(r["wall_ns"]) / 1e6 for r in rows)
m = sorted(int(r["maxrss_kib"]) for r in rows)
print(f"{sys.argv[2]}: wall_ms median {statistics.median(w):.2f} ({w[0]:.2f}-{w[-1]:.2f}), "
      f"peak_rss_kib median {statistics.median(m):.0f} ({m[0]}-{m[-1]})")
PY
done
