# Boots the bzImage test guest (tests/guests/bzimage/) through mote's Linux 64-bit boot path
# and checks what the guest found in the zero page against what mote says it wrote.
. "$(dirname "$0")/lib.sh"

B=$G/bzimage.bin
if [ ! -f "$B" ]; then
	fail bzimage "$B is missing: run make guests"
	exit 0
fi

out() { tr -d '\r' <"$TMP/$1.out"; }
# field NAME LINE KEY: the value after "KEY=" on the guest's line starting "bzimage: LINE".
field() { out "$1" | grep "^bzimage: $2" | head -1 | grep -o " $3=[^ ]*" | cut -d= -f2; }
# fnv HOSTFILE: FNV-1a 32 over the first 64 KiB, as the guest computes it.
fnv() {
	python3 -c '
import sys
h = 0x811c9dc5
for b in open(sys.argv[1], "rb").read()[:65536]:
    h = ((h ^ b) * 0x01000193) & 0xffffffff
print("0x%08x" % h)' "$1"
}

# The main run: -v for the "kernel command line:" line on stderr.
check bzimage 1 "bzimage: cs=0x" "kernel command line: " -v run --mem 64M --cmdline "hello bz" "$B"

has bzimage "bzimage: entry rsi=0x7000 rsp=0x8ff0 if=0" && pass bzimage-entry-state ||
	fail bzimage-entry-state "$(out bzimage | grep 'entry ')"
has bzimage "bzimage: loader=0xff" && pass bzimage-loader ||
	fail bzimage-loader "$(out bzimage | grep 'loader=')"

final=$(sed -n 's/^.*kernel command line: //p' "$TMP/bzimage.err" | head -1)
seen=$(out bzimage | sed -n 's/^bzimage: cmdline: //p')
if [ -z "$final" ]; then
	fail bzimage-cmdline "no 'kernel command line:' line with -v: $(cat "$TMP/bzimage.err")"
elif [ "$seen" != "$final" ]; then
	fail bzimage-cmdline "guest saw '$seen', mote wrote '$final'"
elif [ "$final" = "hello bz" ] || [ "${final% hello bz}" = "$final" ]; then
	fail bzimage-cmdline "'$final' is not mote's Linux fragments + ' hello bz'"
else
	pass bzimage-cmdline
fi

want_e820='bzimage: e820 addr=0x0 size=0x9fc00 type=1
bzimage: e820 addr=0x9fc00 size=0x60400 type=2
bzimage: e820 addr=0x100000 size=0x3f00000 type=1'
got_e820=$(out bzimage | grep '^bzimage: e820 ')
[ "$got_e820" = "$want_e820" ] && pass bzimage-e820 || fail bzimage-e820 "got: $got_e820"

has bzimage "bzimage: initrd none" && pass bzimage-initrd-none ||
	fail bzimage-initrd-none "$(out bzimage | grep 'initrd')"
has bzimage 'bzimage: rsdp=0xe0000 sig="RSD PTR "' && pass bzimage-rsdp ||
	fail bzimage-rsdp "$(out bzimage | grep 'rsdp')"

rip=$(field bzimage "rip=" rip)
if [ -n "$rip" ] && (( rip >= 0x1000000 && rip < 0x1000000 + 0x200000 )); then
	pass bzimage-rip
else
	fail bzimage-rip "rip '$rip' is not inside [0x1000000, 0x1200000)"
fi
has bzimage "bzimage: cs=0x10" && pass bzimage-cs || fail bzimage-cs "$(out bzimage | grep 'cs=')"

# Initrds: one larger than the guest's 64 KiB hash window, one smaller.
for n in 100000 1000; do
	name=bzimage-initrd-$n
	head -c $n /dev/urandom >"$TMP/initrd-$n.img"
	check $name 1 "bzimage: initrd addr=" "" run --mem 64M --cmdline "hello bz" \
		--initrd "$TMP/initrd-$n.img" "$B" || continue
	addr=$(field $name initrd addr) size=$(field $name initrd size) h=$(field $name initrd fnv1a64k)
	want=$(fnv "$TMP/initrd-$n.img")
	if [ "$size" != $n ]; then
		fail $name-size "guest saw size '$size', expected $n"
	elif (( addr % 4096 != 0 )); then
		fail $name-aligned "initrd at $addr is not page aligned"
	elif (( addr < 0x1200000 || addr + n > 0x4000000 )); then
		fail $name-placed "initrd at $addr is not between the kernel's init_size range and the end of RAM"
	elif [ "$h" != "$want" ]; then
		fail $name-fnv1a "guest hashed $h, host $want"
	else
		pass $name-contents
	fi
done

# The kernel's whole init_size range (0x1000000-0x1200000) must be RAM.
refuse bzimage-mem-16m 4 "--mem" run --mem 16M "$B"
refuse bzimage-mem-17m 4 "--mem" run --mem 17M "$B"
check bzimage-mem-18m 1 "bzimage: cs=0x10" "" run --mem 18M "$B"
