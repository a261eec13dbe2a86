# Boots Debian's cloud kernel (fetched by guest/kernel.sh) with mote, as a bzImage and as a
# vmlinux (ELF, PVH entry), one after the other, and checks the early console: the "Linux version"
# banner, the command line mote built echoed back, the e820 map mote built and mote's ACPI
# tables (OEM id MOTE). Each boot is stopped with SIGTERM (mote exits 12) as soon as all of that
# has appeared. On a host without hardware virtualization (PVM: see /work/shared/MACHINE.md) the
# kernel later dies on an instruction KVM cannot emulate (mote: status 8, "could not emulate"):
# that fails a check only when it comes before the lines above.
#
# Takes about 16 s for the vmlinux and 100 s for the bzImage on the PVM machines (its LZ4
# decompressor runs in emulated ring 0), one after the other.
#
# Environment: MOTE_LINUX_TIMEOUT (seconds per boot, 240), MOTE_LINUX_BOOTS (default "vmlinux";
# "vmlinux bzimage" under make check-slow: a stock bzImage spends ~80 s in its decompressor on
# hosts that emulate guest ring 0; tests/integration/bzimage.sh covers the bzImage entry path).
. "$(dirname "$0")/lib.sh"

TIMEOUT=${MOTE_LINUX_TIMEOUT:-240}
if [ "${MOTE_SLOW:-0}" = 1 ]; then BOOTS=${MOTE_LINUX_BOOTS:-vmlinux bzimage}
else BOOTS=${MOTE_LINUX_BOOTS:-vmlinux}; fi
MEM=512M
# earlyprintk=ttyS0: the kernel's early console on COM1 from the first printk (console=ttyS0,
# which mote adds, only starts once the serial driver is up, long after the lines checked here).
USER_CMDLINE="earlyprintk=ttyS0"
# Hidden so that on hosts that emulate ring 0 (PVM) the kernel gets further; harmless elsewhere.
FEATURES=-xsave,-cx16
# The e820 map mote builds for --mem 512M (docs/guest-abi.md, "Memory map"), as the kernel prints it.
E820_WANT='[mem 0x0000000000000000-0x000000000009fbff] usable
[mem 0x000000000009fc00-0x00000000000fffff] reserved
[mem 0x0000000000100000-0x000000001fffffff] usable'
ACPI_TABLES="RSDP XSDT FACP APIC DSDT"

declare -A PID RC STOPPED
cleanup() {
	for n in "${!PID[@]}"; do
		kill -0 "${PID[$n]}" 2>/dev/null && kill -KILL "${PID[$n]}" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

if [ ! -x "$MOTE" ]; then
	fail linux "no $MOTE (run make)"
	exit 0
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	skip linux "no usable /dev/kvm"
	exit 0
fi
if ! kout=$(sh guest/kernel.sh 2>"$TMP/kernel.err"); then
	skip linux "cannot fetch Debian's cloud kernel (guest/kernel.sh: $(tail -n 1 "$TMP/kernel.err"))"
	exit 0
fi
eval "$kout"

# Debian's vmlinux carries the PVH entry note (name "Xen", type 0x12, XEN_ELFNOTE_PHYS32_ENTRY).
if ! command -v readelf >/dev/null 2>&1; then
	skip linux-vmlinux-pvh-note "no readelf"
elif entry=$(readelf -n "$vmlinux" 2>/dev/null | awk '
	/^ *Xen / && /\(0x00000012\)/ { hit = 1; next }
	hit && /description data:/ { sub(/.*description data: */, ""); n = split($0, b, " ")
		for (i = n; i >= 1; i--) s = s b[i]; print "0x" s; exit }') && [ -n "$entry" ]; then
	pass linux-vmlinux-pvh-note
	echo "  vmlinux PVH entry: $entry" >&2
else
	fail linux-vmlinux-pvh-note "no Xen note of type 0x12 in $vmlinux"
fi

kernel_of() { case $1 in bzimage) echo "$vmlinuz" ;; vmlinux) echo "$vmlinux" ;; esac; }

# ready NAME: every line checked below has appeared (the ACPI table lines come last).
ready() {
	local t
	for t in $ACPI_TABLES; do
		grep -q "ACPI: $t 0x" "$TMP/$1.out" || return 1
	done
}

# boot NAME: boots one kernel, watching its output as it streams, and stops it (SIGTERM) once
# every line checked below is there. Sets RC[NAME] and STOPPED[NAME].
boot() {
	local n=$1 k pid t0=$SECONDS
	k=$(kernel_of "$n")
	"$MOTE" -v run --mem "$MEM" --cmdline "$USER_CMDLINE" --cpu-features "$FEATURES" "$k" \
		</dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	pid=$!
	PID[$n]=$pid
	STOPPED[$n]=""
	while :; do
		if ready "$n"; then
			STOPPED[$n]="ready after $((SECONDS - t0)) s"
			kill -TERM "$pid" 2>/dev/null
		elif ! kill -0 "$pid" 2>/dev/null; then
			:
		elif [ $((SECONDS - t0)) -ge "$TIMEOUT" ]; then
			STOPPED[$n]="timeout"
			kill -TERM "$pid" 2>/dev/null
		else
			sleep 0.5
			continue
		fi
		wait "$pid"
		RC[$n]=$?
		return
	done
}

# show NAME: the output so far, indented, for a failure.
show() {
	echo "  --- linux-$1: mote exit status ${RC[$1]}, ${STOPPED[$1]:-ended by itself}; stderr:"
	sed 's/^/  | /' "$TMP/$1.err" | head -n 40
	echo "  --- stdout (last 40 lines):"
	tr -d '\r' <"$TMP/$1.out" | tail -n 40 | sed 's/^/  | /'
}

# evaluate NAME: the result lines of one boot.
evaluate() {
	local n=$1 name out why failed missing want got e820 t
	name=linux-$n
	out=$TMP/$n.clean
	tr -d '\r' <"$TMP/$n.out" >"$out"
	why=""
	case ${STOPPED[$n]} in
	ready*) ;;
	timeout) why=" (no ACPI table lines after ${TIMEOUT} s)" ;;
	*) why=" (mote ended by itself with status ${RC[$n]}: $(grep -m1 -o 'could not emulate.*\|triple fault.*' "$TMP/$n.err" || tail -n 1 "$TMP/$n.err"))" ;;
	esac
	failed=0
	bad() { fail "$1" "$2$why"; failed=1; }

	if grep -q 'Linux version [0-9]' "$out"; then pass "$name-banner"; else bad "$name-banner" "no 'Linux version' banner"; fi

	want=$(sed -n 's/^.*kernel command line: //p' "$TMP/$n.err" | head -n 1 | tr -d '\r')
	got=$(sed -n 's/^\(\[ *[0-9.]*\] \)\{0,1\}Command line: //p' "$out" | head -n 1)
	if [ -z "$want" ]; then
		bad "$name-cmdline" "mote -v printed no 'kernel command line:' line"
	elif [ "${want%"$USER_CMDLINE"}" = "$want" ]; then
		bad "$name-cmdline" "mote's command line '$want' does not end with ours ('$USER_CMDLINE')"
	elif [ "$got" != "$want" ]; then
		bad "$name-cmdline" "kernel saw '$got', mote built '$want'"
	else
		pass "$name-cmdline"
	fi

	e820=$(sed -n 's/^.*BIOS-e820: //p' "$out")
	if [ -z "$e820" ]; then
		bad "$name-e820" "no BIOS-e820 lines"
	elif [ "$e820" != "$E820_WANT" ]; then
		bad "$name-e820" "map differs: got [$(echo "$e820" | tr '\n' ';')], want [$(echo "$E820_WANT" | tr '\n' ';')]"
	else
		pass "$name-e820"
	fi

	missing=""
	for t in $ACPI_TABLES; do
		grep -Eq "ACPI: $t 0x[0-9A-Fa-f]+ [0-9A-Fa-f]+ \(v[0-9]+ MOTE " "$out" || missing="$missing $t"
	done
	if [ -z "$missing" ]; then
		pass "$name-acpi"
	else
		bad "$name-acpi" "no 'ACPI: <table> ... (vNN MOTE' line for:$missing"
	fi

	case ${STOPPED[$n]} in
	ready*)
		if [ "${RC[$n]}" = 12 ]; then
			pass "$name-stop"
		else
			bad "$name-stop" "status ${RC[$n]} after SIGTERM, expected 12"
		fi
		;;
	timeout) bad "$name-stop" "stopped at the timeout" ;;
	*) bad "$name-stop" "ended before the checked lines appeared" ;;
	esac
	echo "  $name: ${STOPPED[$n]:-ended by itself}, mote status ${RC[$n]}" >&2
	[ $failed = 0 ] || show "$n"
}

# One at a time (on the PVM machines two boots at once take as long as one after the other),
# each checked as soon as it has ended.
for n in $BOOTS; do
	case $n in
	bzimage | vmlinux) boot "$n" && evaluate "$n" ;;
	*) fail "linux-$n" "unknown boot '$n' in MOTE_LINUX_BOOTS" ;;
	esac
done
exit 0
