#!/bin/sh
# API benchmark: exec -> API socket accepting (wall and CPU ms), VMM RSS before boot, and
# InstanceStart -> first guest output; medians over BENCH_RUNS (20) runs. Needs build/mote and
# the test guests (make). See docs/performance.md, "API".
set -eu
cd "$(dirname "$0")/.."
exec python3 bench/api.py "$@"
