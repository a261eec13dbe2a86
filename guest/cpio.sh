# The cpio "newc" writer of the guest kit, sourced by guest/initramfs.sh and tests/nested/host.sh
# (POSIX sh; no root, no mknod, no cpio tool). Functions write one archive entry to stdout:
#   c_dir NAME, c_file NAME MODE SOURCE, c_text NAME MODE TEXT, c_link NAME TARGET,
#   c_chr NAME MODE MAJOR MINOR, c_trailer (last). Names have no leading slash.
# The kernel accepts several archives one after the other (later entries replace earlier ones).
# Each entry: the 110-byte header ("070701" and 13 8-digit hex fields), the NUL-terminated name,
# padding to 4 bytes, the data, padding to 4 bytes. All entries are owned by root, dated 0.
INO=1
pad4() { # pad4 N: NUL bytes up to the next multiple of 4
	n=$((($1 + 3) / 4 * 4 - $1))
	[ $n -gt 0 ] && head -c $n /dev/zero
	return 0
}
hdr() { # hdr NAME MODE SIZE RDEVMAJOR RDEVMINOR NLINK
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		$INO "$2" 0 0 "$6" 0 "$3" 0 0 "$4" "$5" $((${#1} + 1)) 0
	printf '%s\0' "$1"
	pad4 $((110 + ${#1} + 1))
	INO=$((INO + 1))
}
c_dir() { hdr "$1" $((0040000 | 0755)) 0 0 0 2; }
c_file() { # c_file NAME MODE SOURCE
	s=$(wc -c <"$3")
	hdr "$1" $((0100000 | $2)) "$s" 0 0 1
	cat "$3"
	pad4 "$s"
}
c_text() { # c_text NAME MODE TEXT
	s=$(printf '%s\n' "$3" | wc -c)
	hdr "$1" $((0100000 | $2)) "$s" 0 0 1
	printf '%s\n' "$3"
	pad4 "$s"
}
c_link() { # c_link NAME TARGET
	hdr "$1" $((0120000 | 0777)) ${#2} 0 0 1
	printf '%s' "$2"
	pad4 ${#2}
}
c_chr() { hdr "$1" $((0020000 | $2)) 0 "$3" "$4" 1; } # c_chr NAME MODE MAJOR MINOR
c_trailer() {
	hdr "TRAILER!!!" 0 0 0 0 1
}
