#!/bin/sh
# `make demo`: boots the demo guests with mote and explains what happened.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MOTE=$BUILD/mote
G=$BUILD/guests

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "Boot the hello guest (a PVH ELF built from tests/guests/hello.c)" \
	"$MOTE run $G/hello.elf"
start=$(date +%s%N)
"$MOTE" run "$G/hello.elf" </dev/null
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "-> exit status $rc: the guest wrote 0 to the debug-exit port ((0 << 1) | 1 = 1); exec to exit took ${ms} ms"
[ $rc = 1 ] || { echo "demo failed: expected status 1" >&2; exit 1; }

step "Pass a command line; the guest echoes it and exits with the code it names" \
	"$MOTE run --mem 64M --cmdline 'exit=3 hello from the host' $G/cmdline.elf"
"$MOTE" run --mem 64M --cmdline 'exit=3 hello from the host' "$G/cmdline.elf" </dev/null
echo "-> exit status $? ((3 << 1) | 1 = 7)"

step "Type into the guest's serial console (stdin -> 8250 UART -> guest -> UART -> stdout)" \
	"printf 'typed by the host\\nquit\\n' | $MOTE run $G/echo.elf"
printf 'typed by the host\nquit\n' | "$MOTE" run "$G/echo.elf"
echo "-> exit status $?"

step "A guest that triple-faults: mote reports it with the registers and exits 8" \
	"$MOTE run $G/triple.elf"
"$MOTE" run "$G/triple.elf" </dev/null
echo "-> exit status $? (8 = guest crashed)"

step "A virtio-blk disk: the guest writes, flushes and reads back a raw image through io_uring" \
	"$MOTE run --disk IMG,serial=DEMO $G/blk.elf"
img=$(mktemp /tmp/mote-demo-disk.XXXXXX)
truncate -s 16M "$img"
"$MOTE" run --disk "$img,serial=DEMO" "$G/blk.elf" </dev/null >"$img.out"
rc=$?
grep -E "serial|flush|read back|blk: ok" "$img.out"
echo "-> exit status $rc (the guest's 0); the host image now holds what it wrote: sha256 $(sha256sum "$img" | cut -c1-16)..."
rm -f "$img" "$img.out"

step "A Solo5 hvt unikernel, started through the solo5-hvt link (mote hvt)" \
	"$BUILD/solo5-hvt $G/hvt/hello.hvt hello from the demo"
"$BUILD/solo5-hvt" "$G/hvt/hello.hvt" hello from the demo </dev/null
echo "-> exit status $? (the unikernel's own halt status)"

printf '\nInteractive: %s run %s  (type, then "quit"; Ctrl-A x leaves at any time)\n' "$MOTE" "$G/echo.elf"
