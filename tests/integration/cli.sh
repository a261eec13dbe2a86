# Bad input on the command line and in files: one clear line on stderr, a documented status.
. "$(dirname "$0")/lib.sh"

check help 0 "Usage: mote [-v|-q] run [options] KERNEL" "" --help
check help-run 0 "--cpu-features" "" run --help
check version 0 "mote " "" --version

refuse no-args 2 "no command given"
refuse unknown-command 2 "unknown command 'boot'" boot x
refuse unknown-option 2 "unknown option '--frobnicate'" run --frobnicate "$G/hello.elf"
refuse no-kernel 2 "no KERNEL given" run
refuse two-kernels 2 "unexpected argument" run "$G/hello.elf" "$G/hello.elf"
refuse mem-missing-value 2 "option --mem needs a value" run "$G/hello.elf" --mem
refuse mem-garbage 2 "invalid size 'lots'" run --mem lots "$G/hello.elf"
refuse mem-suffix 2 "invalid size '12Q'" run --mem 12Q "$G/hello.elf"
refuse mem-negative 2 "invalid size '-5'" run --mem=-5 "$G/hello.elf"
refuse mem-too-small 2 "too small" run --mem 1M "$G/hello.elf"
refuse mem-zero 2 "too small" run --mem 0 "$G/hello.elf"
refuse mem-too-large 2 "too large" run --mem 300G "$G/hello.elf"
refuse mem-overflow 2 "too large" run --mem 99999999999999999999999 "$G/hello.elf"
refuse mem-unaligned 2 "4 KiB pages" run --mem 4097K "$G/hello.elf"
refuse cpus-zero 2 "--cpus '0'" run --cpus 0 "$G/hello.elf"
refuse cpus-many 2 "--cpus '65'" run --cpus 65 "$G/hello.elf"
refuse cpus-garbage 2 "--cpus 'two'" run --cpus two "$G/hello.elf"
long=$(head -c 4096 /dev/zero | tr '\0' 'a')
refuse cmdline-too-long 2 "--cmdline is too long: 4096 bytes" run --cmdline "$long" "$G/hello.elf"
refuse cpu-feature-unknown 2 "unknown CPU feature 'warp'" run --cpu-features -warp "$G/hello.elf"
refuse cpu-feature-syntax 2 "bad --cpu-features item 'xsave'" run --cpu-features xsave "$G/hello.elf"
refuse initrd-empty-name 2 "--initrd needs a file name" run --initrd= "$G/hello.elf"

refuse kernel-missing 4 "cannot open kernel '$TMP/nope.elf': No such file" run "$TMP/nope.elf"
refuse kernel-directory 4 "is not a regular file" run "$TMP"
: >"$TMP/empty"
refuse kernel-empty 4 "is empty" run "$TMP/empty"
echo "just some text, not a kernel" >"$TMP/text"
refuse kernel-text 4 "not a bootable image" run "$TMP/text"
head -c 100 "$G/hello.elf" >"$TMP/trunc.elf"
refuse kernel-truncated 4 "truncated" run "$TMP/trunc.elf"
python3 -c 'import sys; b = bytearray(4096); b[0x202:0x206] = b"HdrS"; open(sys.argv[1], "wb").write(b)' "$TMP/bz"
refuse bzimage-bad-boot-flag 4 "not a bzImage: boot_flag" run "$TMP/bz"
python3 -c 'import sys; b = bytearray(4096); b[0x202:0x206] = b"HdrS"; b[0x1fe:0x200] = b"\x55\xaa"; b[0x201] = 0x6a; b[0x206:0x208] = b"\x0a\x02"; open(sys.argv[1], "wb").write(b)' "$TMP/bz-old"
refuse bzimage-old-protocol 4 "Linux boot protocol 2.10 is too old" run "$TMP/bz-old"
cp "$G/hello.elf" "$TMP/noread.elf"
chmod 000 "$TMP/noread.elf"
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	chmod 755 "$TMP"
	name=kernel-unreadable
	timeout 20 setpriv --reuid=nobody --regid=nogroup --clear-groups "$MOTE" run "$TMP/noread.elf" \
		>"$TMP/$name.out" 2>"$TMP/$name.err"
	rc=$?
	if [ $rc = 4 ] && has_err $name "Permission denied" && one_line $name; then pass $name
	else fail $name "status $rc: $(cat "$TMP/$name.err")"; fi
	# The same unprivileged user cannot open /dev/kvm (0600 root): a clear host error.
	name=kvm-permission
	timeout 20 setpriv --reuid=nobody --regid=nogroup --clear-groups "$MOTE" run "$G/hello.elf" \
		>"$TMP/$name.out" 2>"$TMP/$name.err"
	rc=$?
	if [ "$(stat -c %a /dev/kvm)" != 600 ]; then skip $name "/dev/kvm is not mode 0600 on this host"
	elif [ $rc = 6 ] && has_err $name "no permission to open /dev/kvm" && one_line $name; then pass $name
	else fail $name "status $rc: $(cat "$TMP/$name.err")"; fi
else
	skip kernel-unreadable "needs root and setpriv to run as another user"
	skip kvm-permission "needs root and setpriv to run as another user"
fi
refuse initrd-missing 4 "cannot open initrd" run --initrd "$TMP/none.img" "$G/hello.elf"
head -c $((3 * 1024 * 1024)) /dev/zero >"$TMP/big.img"
refuse initrd-too-big 4 "does not fit" run --mem 2M --initrd "$TMP/big.img" "$G/meminfo.elf"

# A host without /dev/kvm: hide it in a private mount namespace.
name=no-kvm
if unshare -m true 2>/dev/null; then
	timeout 20 unshare -m sh -c 'mount -t tmpfs none /dev && exec "$0" run "$1"' "$MOTE" "$G/hello.elf" \
		>"$TMP/$name.out" 2>"$TMP/$name.err"
	rc=$?
	if [ $rc = 6 ] && has_err $name "/dev/kvm does not exist" && one_line $name; then pass $name
	else fail $name "status $rc: $(cat "$TMP/$name.err")"; fi
	# /dev/kvm that is not KVM at all (here /dev/null): the API check refuses it.
	name=fake-kvm
	timeout 20 unshare -m sh -c 'mount --bind /dev/null /dev/kvm && exec "$0" run "$1"' "$MOTE" "$G/hello.elf" \
		>"$TMP/$name.out" 2>"$TMP/$name.err"
	rc=$?
	if [ $rc = 6 ] && has_err $name "KVM API version" && one_line $name; then pass $name
	else fail $name "status $rc: $(cat "$TMP/$name.err")"; fi
else
	skip no-kvm "cannot create a mount namespace here (needs root)"
	skip fake-kvm "cannot create a mount namespace here (needs root)"
fi
