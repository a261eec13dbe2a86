#!/bin/sh
# Fetches Debian's cloud kernel (linux-image-*-cloud-amd64) and unpacks it into the cache:
#
#   ${MOTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mote}/linux/<release>/
#       vmlinuz   the bzImage (boot it with `mote run ... vmlinuz`)
#       vmlinux   the decompressed kernel, an ELF with a PVH entry note (`mote run ... vmlinux`)
#       modules/  the kernel's /lib/modules/<release> (modules.dep, kernel/...)
#       config    the kernel's build configuration
#
# Prints `key=value` lines on stdout (values shell-quoted only when they need it), so that
#   eval "$(sh guest/kernel.sh)"
# sets $release, $package_version, $dir, $vmlinuz, $vmlinux, $modules and $config.
# Progress and errors go to stderr. Idempotent: a complete cache entry is only printed.
#
# Environment:
#   MOTE_CACHE            cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/mote)
#   MOTE_KERNEL_RELEASE   use this release (e.g. 6.1.0-56-cloud-amd64) instead of asking apt
#                         which one linux-image-cloud-amd64 depends on now
#
# Exit status: 0 on success; 1 on any failure (e.g. no network, no such package), with one
# line on stderr starting with "kernel.sh: ".
set -eu
export LC_ALL=C

CACHE=${MOTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mote}
LINUX=$CACHE/linux

die() {
	echo "kernel.sh: $*" >&2
	exit 1
}
say() { echo "kernel.sh: $*" >&2; }

# kv KEY VALUE: one output line, the value single-quoted if it holds anything unusual.
kv() {
	case $2 in
	*[!A-Za-z0-9_./:+=@%,-]* | "") printf "%s='%s'\n" "$1" "$(printf %s "$2" | sed "s/'/'\\\\''/g")" ;;
	*) printf '%s=%s\n' "$1" "$2" ;;
	esac
}

# is_complete DIR: the cache entry has everything (the marker is written last).
is_complete() {
	[ -f "$1/.complete" ] && [ -s "$1/vmlinuz" ] && [ -s "$1/vmlinux" ] && [ -s "$1/config" ] &&
		[ -f "$1/modules/modules.dep" ]
}

print_entry() {
	kv release "$(basename "$1")"
	kv package_version "$(cat "$1/package-version" 2>/dev/null || echo unknown)"
	kv dir "$1"
	kv vmlinuz "$1/vmlinuz"
	kv vmlinux "$1/vmlinux"
	kv modules "$1/modules"
	kv config "$1/config"
}

# The release the metapackage points at now, e.g. 6.1.0-56-cloud-amd64 (empty if apt has no
# lists or no such package).
current_release() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*-cloud-amd64\)\( .*\)*$/\1/p' | head -n 1
}

# The newest complete cache entry, for when apt cannot tell (no lists, offline).
newest_cached() {
	[ -d "$LINUX" ] || return 0
	for d in "$LINUX"/*-cloud-amd64; do
		is_complete "$d" && basename "$d"
	done | sort -V | tail -n 1
}

# u8 FILE OFFSET / u32 FILE OFFSET: little-endian integers from a file, whatever the host's order.
u8() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }
u32() {
	# shellcheck disable=SC2046 # four numbers, split on purpose
	set -- $(od -An -tu1 -j "$2" -N4 "$1")
	[ $# = 4 ] || return 1
	echo $(($1 | ($2 << 8) | ($3 << 16) | ($4 << 24)))
}

# extract_vmlinux BZIMAGE OUT: writes the decompressed kernel. The boot protocol header gives
# the compressed payload: it starts payload_offset (0x248) bytes into the protected-mode code,
# which begins after the (setup_sects + 1) 512-byte setup sectors, and is payload_length
# (0x24c) bytes long. The payload's first bytes tell the format.
extract_vmlinux() {
	bz=$1
	out=$2
	[ "$(od -An -c -j 514 -N4 "$bz" | tr -d ' ')" = HdrS ] || die "$bz is not a bzImage (no HdrS)"
	setup_sects=$(u8 "$bz" 497)
	[ "$setup_sects" = 0 ] && setup_sects=4
	poff=$(u32 "$bz" 584)
	plen=$(u32 "$bz" 588)
	start=$(((setup_sects + 1) * 512 + poff))
	size=$(wc -c <"$bz")
	[ "$plen" -gt 0 ] && [ $((start + plen)) -le "$size" ] ||
		die "$bz: payload ($start + $plen) lies outside the file ($size bytes)"
	magic=$(od -An -tx1 -j "$start" -N4 "$bz" | tr -d ' ')
	# The build appends the decompressed size (4 bytes, little-endian) to the payload: drop it,
	# since the decompressors below reject trailing bytes they do not understand.
	payload() { tail -c +$((start + 1)) "$bz" | head -c $((plen - 4)); }
	case $magic in
	02214c18)
		need_tool lz4 lz4
		payload | lz4 -dc >"$out" ;;
	1f8b*)
		payload | gzip -dc >"$out" ;;
	fd377a58)
		need_tool xz xz-utils
		payload | xz -dc >"$out" ;;
	28b52ffd)
		need_tool zstd zstd
		payload | zstd -dcq >"$out" ;;
	*)
		die "$bz: unknown payload format (first bytes $magic)" ;;
	esac
	want=$(u32 "$bz" $((start + plen - 4)))
	got=$(wc -c <"$out")
	[ "$got" = "$want" ] || die "decompressed kernel is $got bytes, the bzImage says $want"
	[ "$(od -An -c -N4 "$out" | tr -d ' ')" = 177ELF ] || die "decompressed kernel is not an ELF file"
}

# need_tool COMMAND PACKAGE: installs the Debian package when the command is missing.
need_tool() {
	command -v "$1" >/dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || die "needs '$1': install the Debian package $2 (apt-get install $2)"
	say "installing $2 (for $1)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1; } ||
		die "could not install $2"
	command -v "$1" >/dev/null 2>&1 || die "$2 is installed but '$1' is still missing"
}

release=${MOTE_KERNEL_RELEASE:-}
if [ -z "$release" ]; then
	release=$(current_release)
	if [ -z "$release" ]; then
		cached=$(newest_cached)
		if [ -n "$cached" ]; then
			print_entry "$LINUX/$cached"
			exit 0
		fi
		if [ "$(id -u)" = 0 ]; then
			say "apt does not know linux-image-cloud-amd64; running apt-get update"
			apt-get update -qq >/dev/null 2>&1 || die "apt-get update failed (no network?)"
			release=$(current_release)
		fi
		[ -n "$release" ] || die "apt does not know linux-image-cloud-amd64 (run apt-get update)"
	fi
fi
case $release in
*/* | .* | "") die "bad release name '$release'" ;;
esac

DEST=$LINUX/$release
if is_complete "$DEST"; then
	print_entry "$DEST"
	exit 0
fi

command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1 || die "needs apt-get and dpkg (Debian)"
mkdir -p "$LINUX"
TMPD=$(mktemp -d "$LINUX/.tmp.XXXXXX")
trap 'rm -rf "$TMPD"' EXIT
trap 'exit 1' INT TERM HUP

download() { # download PACKAGE: into $TMPD, the log in $TMPD/apt.log
	say "downloading $1"
	(cd "$TMPD" && apt-get download -q "$1" >"$TMPD/apt.log" 2>&1)
}
# apt-get download drops root to _apt for the download when it can; let it write here.
chmod 755 "$TMPD"
if ! download "linux-image-$release"; then
	# Stale lists name a release the mirror no longer has: update them once and ask again.
	[ "$(id -u)" = 0 ] || die "apt-get download linux-image-$release failed: $(tail -n 1 "$TMPD/apt.log")"
	say "apt-get download failed; running apt-get update"
	apt-get update -qq >/dev/null 2>&1 || die "apt-get update failed (no network?)"
	if [ -z "${MOTE_KERNEL_RELEASE:-}" ]; then
		release=$(current_release)
		[ -n "$release" ] || die "apt does not know linux-image-cloud-amd64"
		DEST=$LINUX/$release
		if is_complete "$DEST"; then
			print_entry "$DEST"
			exit 0
		fi
	fi
	download "linux-image-$release" ||
		die "apt-get download linux-image-$release failed: $(tail -n 1 "$TMPD/apt.log")"
fi
pkg=linux-image-$release
deb=$(ls "$TMPD"/*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || die "apt-get download $pkg left no .deb"
say "unpacking $(basename "$deb")"
mkdir "$TMPD/root" "$TMPD/out"
dpkg -x "$deb" "$TMPD/root"
dpkg-deb -f "$deb" Version >"$TMPD/out/package-version"

[ -f "$TMPD/root/boot/vmlinuz-$release" ] || die "$pkg has no boot/vmlinuz-$release"
mv "$TMPD/root/boot/vmlinuz-$release" "$TMPD/out/vmlinuz"
mv "$TMPD/root/boot/config-$release" "$TMPD/out/config"
# Debian keeps modules in /lib or (newer) /usr/lib.
for m in "$TMPD/root/lib/modules/$release" "$TMPD/root/usr/lib/modules/$release"; do
	[ -d "$m" ] && mv "$m" "$TMPD/out/modules" && break
done
[ -d "$TMPD/out/modules" ] || die "$pkg has no modules directory"
# The package ships no modules.dep (the postinst runs depmod); make one if depmod exists.
if [ ! -f "$TMPD/out/modules/modules.dep" ]; then
	need_tool depmod kmod
	mkdir -p "$TMPD/depmod/lib/modules"
	ln -s "$TMPD/out/modules" "$TMPD/depmod/lib/modules/$release"
	depmod -b "$TMPD/depmod" "$release" || die "depmod failed"
	rm -rf "$TMPD/depmod"
fi

say "extracting vmlinux"
extract_vmlinux "$TMPD/out/vmlinuz" "$TMPD/out/vmlinux"
: >"$TMPD/out/.complete"

# Another run may have finished first; its entry is as good as ours.
if ! is_complete "$DEST"; then
	rm -rf "$DEST"
	mv "$TMPD/out" "$DEST" || is_complete "$DEST" || die "could not create $DEST"
fi
print_entry "$DEST"
