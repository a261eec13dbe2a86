# The guest's own virtio drivers (Debian's modules, found through mote's ACPI DSDT), in one boot:
#   linux-devices-boot     bzImage with two --disk, --rng and --virtio-console powers off (0)
#   linux-ext4-read        virtio_blk mounts an ext4 --disk made on the host with mkfs.ext4 -d
#                          and prints the file the host put there
#   linux-ext4-write       the guest writes a file; after mote exits the host reads it (debugfs)
#   linux-ro-disk-pattern  a raw ",ro" disk with a known pattern: the guest reads it back
#                          (sha256 of /dev/vdb equals the host's)
#   linux-ro-disk-refused  the guest sees it read-only and its write fails; the image is unchanged
#   linux-hwrng            virtio-rng feeds /dev/hwrng (rng_current virtio_rng.*, 64 bytes read)
#   linux-hvc0             virtio-console is hvc0: what the guest writes there reaches mote's stdout
# Run directly on a host with hardware virtualization, or through tests/nested/host.sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

linux_setup linux-devices || exit 0
for tool in mkfs.ext4 debugfs sha256sum; do
	if ! command -v $tool >/dev/null 2>&1; then
		skip linux-devices "no $tool (e2fsprogs, coreutils)"
		exit 0
	fi
done

token=mote-ext4-$$-$RANDOM
mkdir -p "$TMP/rootfs"
echo "$token" >"$TMP/rootfs/hello.txt"
if ! mkfs.ext4 -q -F -d "$TMP/rootfs" "$TMP/ext4.img" 16M 2>"$TMP/mkfs.err"; then
	fail linux-devices "mkfs.ext4 -d failed: $(cat "$TMP/mkfs.err")"
	exit 0
fi
# 1 MiB: each 16-byte line names its own offset, so a misplaced sector changes the hash.
awk 'BEGIN { for (i = 0; i < 65536; i++) printf "mote-%010d\n", i * 16 }' >"$TMP/pattern.img"
pat_sha=$(sha256sum <"$TMP/pattern.img" | cut -c1-64)

# $((...)) is expanded by the guest's shell: the printed words differ from the command line,
# which the kernel also prints on the console.
cmd='mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && echo EXT4-READ $(cat /mnt/hello.txt)
echo GUEST-$((1000 + 23)) >/mnt/guest.txt; sync; umount /mnt && echo EXT4-UMOUNT-$((0))
echo RO-FLAG $(cat /sys/block/vdb/ro)
echo PATTERN $(sha256sum </dev/vdb | cut -c1-64)
dd if=/dev/zero of=/dev/vdb bs=512 count=1 conv=fsync 2>/dev/null; echo RO-WRITE-STATUS $?
echo RNG $(cat /sys/class/misc/hw_random/rng_current) $(head -c 64 /dev/hwrng | wc -c)
echo HVC-$((6 * 7)) >/dev/hvc0; echo HVC-WRITE-STATUS $?
poweroff'
cmd=${cmd//$'\n'/; }
N=linux-devices-boot
if lboot $N 0 "$vmlinuz" "$cmd" --disk "$TMP/ext4.img" --disk "$TMP/pattern.img,ro" --rng --virtio-console; then
	T=$TMP/$N.txt
	grep -q "^EXT4-READ $token\$" "$T" && pass linux-ext4-read ||
		fail linux-ext4-read "the guest did not print the host's file: $(grep -m1 'EXT4\|vda\|EXT4-fs' "$T")"
	got=$(debugfs -R "cat /guest.txt" "$TMP/ext4.img" 2>/dev/null)
	if grep -q '^EXT4-UMOUNT-0$' "$T" && [ "$got" = GUEST-1023 ]; then pass linux-ext4-write
	else fail linux-ext4-write "after exit the disk's /guest.txt holds '$got', expected GUEST-1023"; fi
	grep -q "^PATTERN $pat_sha\$" "$T" && pass linux-ro-disk-pattern ||
		fail linux-ro-disk-pattern "the guest read $(grep -m1 '^PATTERN' "$T"), the host wrote $pat_sha"
	now_sha=$(sha256sum <"$TMP/pattern.img" | cut -c1-64)
	if grep -q '^RO-FLAG 1$' "$T" && grep -q '^RO-WRITE-STATUS [1-9]' "$T" && [ "$now_sha" = "$pat_sha" ]; then
		pass linux-ro-disk-refused
	else
		fail linux-ro-disk-refused "$(grep -m1 '^RO-FLAG' "$T"), $(grep -m1 '^RO-WRITE' "$T"), image $([ "$now_sha" = "$pat_sha" ] && echo unchanged || echo CHANGED)"
	fi
	grep -Eq '^RNG virtio_rng\.[0-9]+ 64$' "$T" && pass linux-hwrng ||
		fail linux-hwrng "$(grep -m1 '^RNG' "$T" || echo 'no RNG line')"
	grep -q '^HVC-42$' "$T" && grep -q '^HVC-WRITE-STATUS 0$' "$T" && pass linux-hvc0 ||
		fail linux-hvc0 "no HVC-42 from /dev/hvc0 on mote's output ($(grep -m1 HVC-WRITE "$T"))"
fi
exit 0
