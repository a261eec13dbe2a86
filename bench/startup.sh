#!/bin/sh
# mote startup and port-exit benchmark, side by side with QEMU microvm and a raw-KVM floor.
# Run by `make bench` (which builds build/mote, the test guests and build/bench/*).
# Prints `name: value` lines; exits non-zero if any run fails. See docs/performance.md.
#
# Environment: BUILD (build), BENCH_RUNS (20), BENCH_EXIT_RUNS (4), BENCH_EXIT_COUNT (200000),
# BENCH_MEM (128M), BENCH_QEMU (qemu-system-x86_64), BENCH_MOTE ($BUILD/mote),
# BENCH_VERBOSE (0; 1 prints every sample to stderr).
set -eu
cd "$(dirname "$0")/.."
exec python3 bench/measure.py "$@"
