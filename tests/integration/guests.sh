# Boots every test guest with mote and checks its output and exit status.
. "$(dirname "$0")/lib.sh"

check hello 1 "Hello from a mote guest" "" run "$G/hello.elf"
if [ "$(cat "$TMP/hello.out")" = "Hello from a mote guest" ] || [ "$(tr -d '\r' <"$TMP/hello.out")" = "Hello from a mote guest" ]; then
	pass hello-exact-output
else
	fail hello-exact-output "output was: $(od -c "$TMP/hello.out" | head -5)"
fi
[ -s "$TMP/hello.err" ] && fail hello-quiet "unexpected stderr: $(cat "$TMP/hello.err")" || pass hello-quiet
check hello-ring0 1 "Hello from a mote guest" "" run --cmdline ring0 "$G/hello.elf"
check hello-2cpus 1 "Hello from a mote guest" "" run --cpus 4 "$G/hello.elf"
check hello-mem-above-4g 1 "Hello from a mote guest" "" run --mem 4G "$G/hello.elf"
check hello-small-mem 1 "Hello from a mote guest" "" run --mem 2M "$G/hello.elf"
check hello-no-pit 1 "Hello from a mote guest" "" run --no-pit "$G/hello.elf"
check hello-pit 1 "Hello from a mote guest" "PIT: on (--pit)" -v run --pit "$G/hello.elf"
check hello-pit-acpi-off 1 "Hello from a mote guest" "PIT: on (acpi=off)" -v run --cmdline "x acpi=off" "$G/hello.elf"
if expect hello-pit-default 1 -v run --cmdline "acpi=offx xacpi=off" "$G/hello.elf"; then
	has_err hello-pit-default "PIT: on" && fail hello-pit-default "a PIT without --pit or acpi=off" ||
		pass hello-pit-default
fi
check hello-cpu-features 1 "Hello from a mote guest" "" run --cpu-features -xsave,-avx2 "$G/hello.elf"

check cmdline-echo 1 "cmdline: hello world  two spaces" "" run --cmdline "hello world  two spaces" "$G/cmdline.elf"
check cmdline-exit-code 11 "cmdline: exit=5" "" run --cmdline exit=5 "$G/cmdline.elf"
long=$(head -c 4095 /dev/zero | tr '\0' 'a')
check cmdline-max-length 1 "cmdline: aaaa" "" run --cmdline "$long" "$G/cmdline.elf"
if [ "$(tr -d '\r\n' <"$TMP/cmdline-max-length.out" | wc -c)" = $((4095 + 9)) ]; then
	pass cmdline-max-length-intact
else
	fail cmdline-max-length-intact "guest saw $(wc -c <"$TMP/cmdline-max-length.out") bytes"
fi
check cmdline-empty 1 "cmdline: " "" run "$G/cmdline.elf"
# An ELF32 PVH kernel (the same code in an ELFCLASS32 EM_386 file): loaded with the ELF64
# checks, entered at its 32-bit PVH entry.
if [ "$(od -An -tx1 -j4 -N1 "$G/cmdline32.elf" | tr -d ' ')" = 01 ]; then
	check elf32-pvh 7 "cmdline: exit=3 from an ELF32 file" "" run --cmdline "exit=3 from an ELF32 file" "$G/cmdline32.elf"
else
	fail elf32-pvh "$G/cmdline32.elf is not ELFCLASS32"
fi
head -c 200 "$G/cmdline32.elf" >"$TMP/trunc32.elf"
refuse elf32-truncated 4 "truncated ELF file" run "$TMP/trunc32.elf"

check debug-exit-127 255 "" "" run --cmdline exit=127 "$G/cmdline.elf"

check bad-mmio 1 "badmmio: read 0xffffffff" "unhandled MMIO read at 0xd8000000" run "$G/badmmio.elf"
has bad-mmio "badmmio: survived" && pass bad-mmio-survives || fail bad-mmio-survives "no 'survived' line"
has bad-mmio "read8 0xff" && pass bad-mmio-byte || fail bad-mmio-byte "8-bit read not all ones"
check bad-mmio-above-ram 1 "badmmio: read 0xffffffff" "unhandled MMIO read at 0x8000000" run --mem 128M --cmdline addr=0x8000000 "$G/badmmio.elf"
check bad-port 1 "badport: inb 0xff inl 0xffffffff" "unhandled port read at 0x500" run "$G/badport.elf"
has bad-port "badport: survived" && pass bad-port-survives || fail bad-port-survives "no 'survived' line"
check bad-port-quiet 1 "badport: survived" "" run -q "$G/badport.elf"
[ -s "$TMP/bad-port-quiet.err" ] && fail bad-port-quiet-silent "-q still printed: $(cat "$TMP/bad-port-quiet.err")" || pass bad-port-quiet-silent
# The absent COM2-COM4 (Linux's 8250 driver probes them on every boot) read as all ones and say
# nothing, even with -v; the first and last register of each. So does the absent CMOS/RTC
# (0x70-0x77), where Linux writes its warm-reset code before starting each secondary vCPU, and
# the ISA DMA page registers (0x81-0x8f), where a kernel with ISA DMA support looks for an 8237.
for p in 0x2f8 0x2fc 0x3e8 0x3ec 0x2e8 0x2ec 0x70 0x74 0x81 0x87; do
	check "absent-com-$p" 1 "badport: inb 0xff inl 0xffffffff" "" -v run --cmdline "port=$p" "$G/badport.elf"
	if grep -q 'guest error\|unhandled' "$TMP/absent-com-$p.err"; then
		fail "absent-com-$p-quiet" "probing port $p printed: $(grep 'guest error' "$TMP/absent-com-$p.err" | head -n 2)"
	else
		pass "absent-com-$p-quiet"
	fi
done
check absent-com-next-port-reported 1 "badport: survived" "unhandled port read at 0x2f0" run --cmdline port=0x2f0 "$G/badport.elf"

check reset 0 "reset: asking the i8042" "" run "$G/reset.elf"
has reset "still alive" && fail reset-stops "guest ran on after the reset" || pass reset-stops

check triple-fault 8 "triple: faulting now" "triple fault" run "$G/triple.elf"
has_err triple-fault "rip " && has_err triple-fault "cr3 " && pass triple-fault-regdump || fail triple-fault-regdump "no register dump: $(cat "$TMP/triple-fault.err")"
has triple-fault "still alive" && fail triple-fault-stops "guest continued" || pass triple-fault-stops

check portloop 1 "portloop: done 1000" "" run --cmdline count=1000 "$G/portloop.elf"

printf 'hello mote\nquit\n' >"$TMP/echo.in"
VM_STDIN=$TMP/echo.in check echo-stdin 1 "echo: bye" "" run "$G/echo.elf"
has echo-stdin "hello mote" && pass echo-roundtrip || fail echo-roundtrip "input not echoed: $(cat "$TMP/echo-stdin.out")"
# More input than the UART FIFO holds at once: back-pressure must not drop bytes.
{ head -c 3000 /dev/zero | tr '\0' 'x'; printf '\nquit\n'; } >"$TMP/echo-big.in"
VM_STDIN=$TMP/echo-big.in check echo-backpressure 1 "echo: bye" "" run "$G/echo.elf"
n=$(tr -cd 'x' <"$TMP/echo-backpressure.out" | wc -c)
[ "$n" = 3000 ] && pass echo-backpressure-intact || fail echo-backpressure-intact "guest echoed $n of 3000 bytes"

check meminfo 1 "memmap: addr=0x0 size=0x9fc00 type=1" "" run --mem 128M "$G/meminfo.elf"
has meminfo "memmap: addr=0x100000 size=0x7f00000 type=1" && pass meminfo-himem || fail meminfo-himem "$(cat "$TMP/meminfo.out")"
has meminfo "initrd: none" && pass meminfo-no-initrd || fail meminfo-no-initrd "$(cat "$TMP/meminfo.out")"
check meminfo-4g 1 "memmap: addr=0x100000000 size=0x40000000 type=1" "" run --mem 4G "$G/meminfo.elf"
has meminfo-4g "memmap: addr=0x100000 size=0xbff00000 type=1" && pass meminfo-4g-low || fail meminfo-4g-low "$(cat "$TMP/meminfo-4g.out")"

head -c 1234567 /dev/urandom >"$TMP/initrd.img"
want=$(python3 -c '
import sys
h = 0x811c9dc5
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 0x01000193) & 0xffffffff
print("size=%d fnv1a=0x%08x" % (1234567, h))' "$TMP/initrd.img")
check initrd 1 "$want" "" run --initrd "$TMP/initrd.img" "$G/meminfo.elf"
