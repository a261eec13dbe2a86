# The VM generation ID through real KVM (docs/snapshot-devices.md): the genid test guest reads
# the page at 0xdf000 that mote fills at boot.
#   vmgenid-boot      a random, non-zero 128-bit ID and restore counter 0
#   vmgenid-per-boot  two boots of the same guest see different IDs
#   vmgenid-ring0     the same page read at ring 0 (the ID is plain reserved RAM)
. "$(dirname "$0")/lib.sh"

if [ ! -x "$MOTE" ] || [ ! -f "$G/genid.elf" ]; then
	fail vmgenid "no $MOTE or $G/genid.elf (run make)"
	exit 0
fi

# id NAME: the ID the guest printed in run NAME (empty when the line is missing or malformed).
id() { tr -d '\r' <"$TMP/$1.out" | sed -n 's/^genid \([0-9a-f]\{32\}\) counter 0$/\1/p' | head -n 1; }

if expect vmgenid-boot 1 run "$G/genid.elf"; then
	a=$(id vmgenid-boot)
	if [ -z "$a" ]; then
		fail vmgenid-boot "no 'genid <32 hex> counter 0' line: $(head -c 200 "$TMP/vmgenid-boot.out")"
	elif [ "$a" = 00000000000000000000000000000000 ]; then
		fail vmgenid-boot "the ID is all zeroes"
	else
		pass vmgenid-boot
	fi
	if expect vmgenid-per-boot 1 run "$G/genid.elf"; then
		b=$(id vmgenid-per-boot)
		if [ -z "$b" ] || [ "$b" = "$a" ]; then
			fail vmgenid-per-boot "second boot's ID '$b', first '$a'"
		else
			pass vmgenid-per-boot
		fi
	fi
fi
if expect vmgenid-ring0 1 run --cmdline ring0 "$G/genid.elf"; then
	[ -n "$(id vmgenid-ring0)" ] && pass vmgenid-ring0 ||
		fail vmgenid-ring0 "no ID line: $(head -c 200 "$TMP/vmgenid-ring0.out")"
fi
exit 0
