#!/bin/sh
# Short libFuzzer runs of every target, seeded from the test guests (no binary corpus in git).
# FUZZ_SMOKE_SECONDS (default 15) per target; `make fuzz-long` runs longer.
set -u
BUILD=${BUILD:-build}
secs=${FUZZ_SMOKE_SECONDS:-15}
python3 "$(dirname "$0")/make_seeds.py" "$BUILD/fuzz-corpus"
for f in "$BUILD"/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	corpus="$BUILD/fuzz-corpus/$name"
	mkdir -p "$corpus"
	case "$name" in fuzz_elf) cp "$BUILD"/guests/*.elf "$corpus"/ 2>/dev/null ;; esac
	case "$name" in fuzz_hvt_mft) cp "$BUILD"/guests/hvt/*.hvt "$corpus"/ 2>/dev/null ;; esac
	if "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 "$corpus" \
		>"$BUILD/fuzz-corpus/$name.log" 2>&1; then
		echo "pass $name: $(grep -o 'Done [0-9]* runs' "$BUILD/fuzz-corpus/$name.log" | tail -1) in ${secs}s"
	else
		echo "fail $name: the fuzzer found a crash (see $BUILD/fuzz-corpus/$name.log)"
		tail -30 "$BUILD/fuzz-corpus/$name.log"
	fi
done
