#!/bin/sh
# Runs every test and prints one summary line: "N passed, N failed, N skipped".
# Each test program prints lines "pass NAME", "fail NAME: why" or "skip NAME: why";
# a program that exits non-zero without printing a fail line counts as one failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LOG=$BUILD/test-logs
mkdir -p "$LOG"
: >"$LOG/all.txt"

run() { # run NAME CMD...: runs one test program, collecting its result lines
	name=$1
	shift
	out="$LOG/$(echo "$name" | tr / _).out"
	"$@" >"$out" 2>&1
	rc=$?
	grep -E '^(pass|fail|skip) ' "$out" | sed "s|^\([a-z]*\) |\1 $name/|" >>"$LOG/all.txt"
	if [ $rc -ne 0 ] && ! grep -q '^fail ' "$out"; then
		echo "fail $name: exited with status $rc without reporting a failure (see $out)" >>"$LOG/all.txt"
	fi
	grep -E '^(fail|skip) ' "$out" | sed "s|^|  $name: |"
	echo "$name: $(grep -c '^pass ' "$out") passed, $(grep -c '^fail ' "$out") failed, $(grep -c '^skip ' "$out") skipped"
}

for t in "$BUILD"/unit/test_*; do [ -x "$t" ] && run "unit/$(basename "$t")" "$t"; done
for t in "$BUILD"/unit-asan/test_*; do
	[ -x "$t" ] && run "asan/$(basename "$t")" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$t"
done
run fuzz-smoke sh tests/fuzz/smoke.sh
for t in tests/integration/*.sh; do [ "$(basename "$t")" = lib.sh ] && continue; run "integration/$(basename "$t" .sh)" bash "$t"; done
if [ "${MOTE_SLOW:-0}" = 1 ]; then
	for t in tests/slow/*.sh; do [ -f "$t" ] && run "slow/$(basename "$t" .sh)" bash "$t"; done
fi

p=$(grep -c '^pass ' "$LOG/all.txt")
f=$(grep -c '^fail ' "$LOG/all.txt")
s=$(grep -c '^skip ' "$LOG/all.txt")
if [ "$f" -ne 0 ]; then
	echo "failures:"
	grep '^fail ' "$LOG/all.txt" | sed 's/^/  /'
fi
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
