#!/bin/sh
# Snapshot benchmark: cold boot vs restore to first guest output (128 MiB and 2 GiB guests),
# snapshot create time, clones started per second and PSS per clone (BENCH_CLONES, 50).
# Needs build/mote and the test guests (make). See docs/snapshot.md, "Measured".
set -eu
cd "$(dirname "$0")/.."
exec python3 bench/snapshot.py "$@"
