# Linux boots to userspace and ends mote as documented (docs/linux.md, "How Linux ends mote"):
#   linux-bzimage-poweroff   Debian's bzImage reaches /init; `poweroff` (ACPI S5) ends mote with 0
#   linux-bzimage-cmdline    /proc/cmdline in the guest is exactly the line mote printed (-v)
#   linux-quiet-probes       no "guest error" lines from mote during a whole boot (the 8250
#                            driver probing the absent COM2-COM4 is normal, not an error)
#   linux-vmlinux-cpus2      the vmlinux (PVH entry) with --cpus 2: the guest sees 2 CPUs, and
#                            mote prints no guest error (the SMP boot's CMOS writes are normal)
#   linux-bzimage-reboot     `reboot` (i8042 reset, reboot=k) ends mote with 0
#   linux-panic              a kernel panic (sysrq c; panic=-1 reboots at once) ends mote with 0
# Run directly on a host with hardware virtualization, or through tests/nested/host.sh.
#   linux-vmlinux-cpus4      the same with --cpus 4 (8-30 s under the nested host, whose VM has
#                            2 vCPUs); MOTE_LINUX_CPUS4=0 leaves it out of a direct run
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

linux_setup linux-boot || exit 0

A=linux-bzimage-poweroff
if lboot $A 0 "$vmlinuz" "echo CMDLINE-START; cat /proc/cmdline; echo CMDLINE-END; poweroff"; then
	want=$(sed -n 's/^.*kernel command line: //p' "$TMP/$A.err" | head -n 1)
	got=$(between $A CMDLINE-START CMDLINE-END)
	if [ -z "$want" ]; then
		fail linux-bzimage-cmdline "mote -v printed no 'kernel command line:' line"
	elif [ "$got" != "$want" ]; then
		fail linux-bzimage-cmdline "the guest's /proc/cmdline is '$got', mote built '$want'"
	else
		pass linux-bzimage-cmdline
	fi
	if grep -q 'guest error' "$TMP/$A.err"; then
		fail linux-quiet-probes "mote reported guest errors: $(grep 'guest error' "$TMP/$A.err" | head -n 5 | tr '\n' '|')"
	else
		pass linux-quiet-probes
	fi
fi

if [ -n "$vmlinux" ]; then
	B=linux-vmlinux-cpus2
	if lboot $B 0 "$vmlinux" "echo CPUS \$(grep -c ^processor /proc/cpuinfo) ONLINE \$(cat /sys/devices/system/cpu/online)" --cpus 2; then
		if ! grep -q '^CPUS 2 ONLINE 0-1$' "$TMP/$B.txt"; then
			fail $B-seen "the guest did not see 2 CPUs online: $(grep '^CPUS' "$TMP/$B.txt")"
		else
			pass $B-seen
		fi
		# SMP boot writes the CMOS warm-reset code for each secondary vCPU: quiet too.
		if grep -q 'guest error' "$TMP/$B.err"; then
			fail $B-quiet "mote reported guest errors: $(grep 'guest error' "$TMP/$B.err" | head -n 5 | tr '\n' '|')"
		else
			pass $B-quiet
		fi
	fi
	if [ "${MOTE_LINUX_CPUS4:-1}" = 1 ]; then
		C=linux-vmlinux-cpus4
		if lboot $C 0 "$vmlinux" "echo CPUS \$(grep -c ^processor /proc/cpuinfo) ONLINE \$(cat /sys/devices/system/cpu/online)" --cpus 4; then
			grep -q '^CPUS 4 ONLINE 0-3$' "$TMP/$C.txt" && pass $C-seen ||
				fail $C-seen "the guest did not see 4 CPUs online: $(grep '^CPUS' "$TMP/$C.txt")"
		fi
	fi
else
	skip linux-vmlinux-cpus2 "no vmlinux"
fi

lboot linux-bzimage-reboot 0 "$vmlinuz" reboot
lboot linux-panic 0 "$vmlinuz" "echo c >/proc/sysrq-trigger"
exit 0
