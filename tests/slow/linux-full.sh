# Full Linux boot (opt-in: `make check-slow`): Debian's cloud kernel with the guest kit's
# initramfs, as a bzImage and as a vmlinux, runs /init to `MOTE-INIT-OK`, and `mote.cmd=poweroff`
# (ACPI S5) ends mote with status 0; `mote.cmd=reboot` (i8042 reset, reboot=k) too; and the
# guest's virtio_blk driver finds a --disk through ACPI and mounts its ext4 file system
# (built on the host with mkfs.ext4 -d), printing a file the host put there.
# Needs hardware virtualization: on a host that emulates guest ring 0 (PVM: /sys/module/kvm_pvm,
# or mote ending with status 8, "could not emulate") every check is skipped.
#
# Environment: MOTE_LINUX_FULL_TIMEOUT (seconds per boot, 300).
. "$(dirname "$0")/../integration/lib.sh"

TIMEOUT=${MOTE_LINUX_FULL_TIMEOUT:-300}
NOHW="this host cannot run a stock kernel to init (no hardware virtualization)"

if [ ! -x "$MOTE" ]; then
	fail linux-full "no $MOTE (run make)"
	exit 0
fi
if [ -d /sys/module/kvm_pvm ]; then
	skip linux-full "$NOHW"
	exit 0
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	skip linux-full "no usable /dev/kvm"
	exit 0
fi
if ! kout=$(sh guest/kernel.sh 2>"$TMP/kernel.err"); then
	skip linux-full "cannot fetch Debian's cloud kernel (guest/kernel.sh: $(tail -n 1 "$TMP/kernel.err"))"
	exit 0
fi
eval "$kout"
if ! iout=$(sh guest/initramfs.sh 2>"$TMP/initramfs.err"); then
	fail linux-full "guest/initramfs.sh failed: $(tail -n 3 "$TMP/initramfs.err")"
	exit 0
fi
eval "$iout"

# boot NAME KERNEL COMMAND [MOTE OPTIONS...]: one boot to init that should end mote with status 0.
boot() {
	local name=$1 kernel=$2 cmd=$3
	shift 3
	timeout -s TERM "$TIMEOUT" "$MOTE" -v run --mem 512M --cmdline "mote.cmd=\"$cmd\"" \
		--initrd "$initramfs" "$@" "$kernel" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"
	rc=$?
	if [ "$rc" = 8 ] && grep -q 'could not emulate' "$TMP/$name.err"; then
		skip linux-full "$NOHW"
		return
	fi
	if [ "$rc" = 124 ]; then
		fail "$name" "no end after $TIMEOUT s; output: $(tr -d '\r' <"$TMP/$name.out" | tail -n 5 | tr '\n' '|')"
	elif ! grep -q '^MOTE-INIT-OK' <(tr -d '\r' <"$TMP/$name.out"); then
		fail "$name" "status $rc and no MOTE-INIT-OK line; output: $(tr -d '\r' <"$TMP/$name.out" | tail -n 5 | tr '\n' '|')"
	elif [ "$rc" != 0 ]; then
		fail "$name" "init ran but mote ended with status $rc, expected 0: $(tail -n 2 "$TMP/$name.err" | tr '\n' '|')"
	else
		pass "$name"
		return
	fi
	echo "  --- $name stderr:"
	sed 's/^/  | /' "$TMP/$name.err" | head -n 40
	echo "  --- $name stdout (last 60 lines):"
	tr -d '\r' <"$TMP/$name.out" | tail -n 60 | sed 's/^/  | /'
}

boot linux-full-bzimage-poweroff "$vmlinuz" poweroff
# A host that cannot do it shows that on the first boot: one skip line is enough.
grep -q 'could not emulate' "$TMP/linux-full-bzimage-poweroff.err" && exit 0
boot linux-full-vmlinux-poweroff "$vmlinux" poweroff
boot linux-full-bzimage-reboot "$vmlinuz" reboot

# An ext4 disk: the Debian kernel's virtio_blk module finds it through mote's DSDT.
token=mote-ext4-$$-$(date +%s)
mkdir -p "$TMP/rootfs"
echo "$token" >"$TMP/rootfs/hello.txt"
if mkfs.ext4 -q -F -d "$TMP/rootfs" "$TMP/ext4.img" 32M 2>"$TMP/mkfs.err"; then
	boot linux-full-ext4 "$vmlinux" "mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && cat /mnt/hello.txt" \
		--disk "$TMP/ext4.img"
	if grep -q "$token" "$TMP/linux-full-ext4.out"; then pass linux-full-ext4-file
	else fail linux-full-ext4-file "the guest did not print the file the host put on the disk"; fi
else
	fail linux-full-ext4 "mkfs.ext4 -d failed: $(cat "$TMP/mkfs.err")"
fi
exit 0
