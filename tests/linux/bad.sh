# Bad input with a real Linux on the other side: the same one-line refusals as directly
# (tests/integration/bzimage.sh, cli.sh), here where a stock kernel actually boots.
#   linux-bad-not-a-kernel     random bytes as KERNEL: status 4, one line
#   linux-bad-truncated        the first MiB of the bzImage: status 4, "truncated bzImage"
#   linux-bad-initrd-too-big   a 100 MiB initrd for 128 MiB of RAM: status 4, "does not fit"
#   linux-bad-ram-too-small    the bzImage in 32 MiB (below its init_size): status 4
#   linux-bad-disk-not-ext4    a --disk of random bytes: the guest's mount -t ext4 fails, the
#                              guest powers off (status 0) and mote reports no guest error
# Run directly on a host with hardware virtualization, or through tests/nested/host.sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

linux_setup linux-bad || exit 0

head -c 1000000 /dev/urandom >"$TMP/random.bin"
refuse linux-bad-not-a-kernel 4 "not a bootable image" run "$TMP/random.bin"
head -c 1048576 "$vmlinuz" >"$TMP/trunc.bz"
refuse linux-bad-truncated 4 "truncated bzImage" run "$TMP/trunc.bz"
truncate -s 100M "$TMP/big.initrd"
refuse linux-bad-initrd-too-big 4 "does not fit in guest memory" run --mem 128M --initrd "$TMP/big.initrd" "$vmlinuz"
refuse linux-bad-ram-too-small 4 "give the VM more memory (--mem)" run --mem 32M "$vmlinuz"

N=linux-bad-disk-not-ext4
head -c 4194304 /dev/urandom >"$TMP/junk.img"
if lboot $N-boot 0 "$vmlinuz" 'mkdir -p /mnt; mount -t ext4 /dev/vda /mnt 2>/dev/null; echo MOUNT-STATUS $?; poweroff' \
	--disk "$TMP/junk.img"; then
	if ! grep -q '^MOUNT-STATUS [1-9]' "$TMP/$N-boot.txt"; then
		fail $N "mount -t ext4 of random bytes: $(grep -m1 '^MOUNT-STATUS' "$TMP/$N-boot.txt" || echo 'no MOUNT-STATUS line')"
	elif grep -q 'guest error' "$TMP/$N-boot.err"; then
		fail $N "mote reported guest errors: $(grep -m2 'guest error' "$TMP/$N-boot.err" | tr '\n' '|')"
	else
		pass $N
	fi
fi
exit 0
