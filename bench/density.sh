#!/bin/sh
# Density benchmark (bench/density.py): idle microVMs started in parallel batches up to
# DENSITY_STEPS (default 20,100,250,500,1000), for mote, mote hvt, Solo5's solo5-hvt (when
# ../shared/peers/solo5-hvt-0.12.1 or DENSITY_SOLO5 exists) and QEMU microvm (steps up to
# DENSITY_QEMU_MAX, default 100). Prints `name: value` lines; writes the data and a plot,
# $BUILD/density.tsv and $BUILD/density.png (gnuplot, bench/density.gp), which
# docs/performance.md shows as docs/density.png. Needs root (/dev/kvm) and `make all`.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SOLO5=${DENSITY_SOLO5:-../shared/peers/solo5-hvt-0.12.1}
[ -x "$BUILD/mote" ] && [ -f "$BUILD/guests/idle.elf" ] && [ -f "$BUILD/guests/hvt/idle.hvt" ] ||
	{ echo "density: build first (make all)" >&2; exit 1; }
[ -x "$SOLO5" ] || echo "density: no Solo5 tender at $SOLO5: solo5-hvt is skipped" >&2
# One VM holds about 3 descriptors open in this process (its output file) and 3 threads.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
python3 bench/density.py --build "$BUILD" --steps "${DENSITY_STEPS:-20,100,250,500,1000}" \
	--batch "${DENSITY_BATCH:-50}" --qemu-max "${DENSITY_QEMU_MAX:-100}" --solo5 "$SOLO5" \
	--data "$BUILD/density.tsv"
if ! command -v gnuplot >/dev/null && [ "$(id -u)" = 0 ]; then
	echo "density: installing gnuplot-nox for the plot" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox \
		>/dev/null 2>&1 || true
fi
if command -v gnuplot >/dev/null; then
	gnuplot -e "data='$BUILD/density.tsv'; out='$BUILD/density.png'" bench/density.gp &&
		echo "density.plot: $BUILD/density.png"
else
	echo "density: no gnuplot: no plot (apt-get install gnuplot-nox)" >&2
fi
