#!/bin/sh
# Builds mote's own guest kernel: Debian's linux-source-6.1 configured by guest/kernel.fragment
# (on top of allnoconfig; every driver built in, no modules), reproducibly, into the cache:
#
#   ${MOTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mote}/kernel/<key>/
#       vmlinuz        the bzImage            vmlinux      the ELF (PVH entry note)
#       config         the full .config       release      e.g. 6.1.192-mote
#       inputs         what the key hashes    SHA256SUMS   of vmlinuz, vmlinux, config
#       build-seconds  how long the build took
#       reproducible   after --verify: "yes" or "no: <what differed>"
#
# <key> is the first 16 hex digits of the sha256 of `inputs`: this recipe's number, the source
# tarball's sha256 and package version, the compiler's and linker's versions, lz4's version, the
# timestamp (SOURCE_DATE_EPOCH, from the source package's changelog) and the fragment. Same inputs,
# same key, same bytes: the build fixes everything else a kernel build stamps into the image
# (KBUILD_BUILD_TIMESTAMP/USER/HOST/VERSION, LC_ALL, TZ, an in-tree build in a directory whose
# name does not matter because the kernel's Makefile maps source paths to relative ones).
#
# Prints `key=value` lines on stdout, as guest/kernel.sh does, so that
#   eval "$(sh guest/build-kernel.sh)"
# sets $release, $dir, $vmlinuz, $vmlinux and $config. Progress goes to stderr.
#
# Usage: sh guest/build-kernel.sh [--verify | --cached]
#   --verify   also build a second time in another directory and compare the two bit for bit;
#              the result goes to <key>/reproducible (exit status 1 if they differ)
#   --cached   build nothing and install nothing: print the entry if it is in the cache, else
#              exit with status 3 (tests use it to run the own-kernel tests only when built)
# Environment: MOTE_CACHE; MOTE_KERNEL_JOBS (make -j, default: the number of CPUs).
# Needs (installed when missing, as root): linux-source-6.1 bc bison flex libelf-dev libssl-dev
# lz4 gcc make. About 20 minutes on two cores; the build tree (1.5 GB) is removed afterwards.
# Exit status: 0 on success; 1 on failure, with one line on stderr starting "build-kernel.sh: ";
# 3 with --cached when the kernel is not built.
set -eu
export LC_ALL=C TZ=UTC

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MOTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mote}
FRAGMENT=$HERE/kernel.fragment
RECIPE=1
SRCPKG=linux-source-6.1
TARBALL=/usr/src/$SRCPKG.tar.xz
JOBS=${MOTE_KERNEL_JOBS:-$(nproc)}

die() {
	echo "build-kernel.sh: $*" >&2
	exit 1
}
say() { echo "build-kernel.sh: $*" >&2; }
kv() { printf '%s=%s\n' "$1" "$2"; }

verify=0 cached=0
case ${1:-} in
"") ;;
--verify) verify=1 ;;
--cached) cached=1 ;;
*) die "unknown argument '$1' (usage: build-kernel.sh [--verify | --cached])" ;;
esac
not_built() {
	echo "build-kernel.sh: mote's kernel is not built (sh guest/build-kernel.sh)" >&2
	exit 3
}
[ -f "$FRAGMENT" ] || die "no $FRAGMENT"

# --- the tools and the source ------------------------------------------------------------------
PKGS="$SRCPKG bc bison flex libelf-dev libssl-dev lz4 gcc make"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] || [ "$cached" = 0 ] || not_built
if [ -n "$missing" ]; then
	[ "$(id -u)" = 0 ] || die "missing packages:$missing (install them as root: apt-get install$missing)"
	say "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086 # a list of package names
	apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; } ||
		die "could not install$missing"
fi
[ -f "$TARBALL" ] || die "$SRCPKG is installed but $TARBALL is missing"

srcver=$(dpkg-query -W -f='${Version}' "$SRCPKG")
# The build's timestamp: the date of the source package's newest changelog entry.
changelog=/usr/share/doc/$SRCPKG/changelog.Debian.gz
stamp=$(zcat "$changelog" 2>/dev/null | sed -n 's/^ -- .*>  \(.*\)$/\1/p' | head -n 1)
[ -n "$stamp" ] || die "no date in $changelog"
epoch=$(date -d "$stamp" +%s) || die "cannot read the date '$stamp' in $changelog"

# --- the key -------------------------------------------------------------------------------------
inputs() {
	echo "recipe $RECIPE"
	echo "source $SRCPKG $srcver $(sha256sum "$TARBALL" | cut -d' ' -f1)"
	echo "gcc $(gcc --version | head -n 1)"
	echo "ld $(ld --version | head -n 1)"
	echo "lz4 $(lz4 --version 2>&1 | head -n 1)"
	echo "time $epoch"
	cat "$FRAGMENT"
}
mkdir -p "$CACHE/kernel"
tmp_inputs=$(mktemp "$CACHE/kernel/.inputs.XXXXXX")
trap 'rm -f "$tmp_inputs"' EXIT
inputs >"$tmp_inputs"
chmod 644 "$tmp_inputs"
key=$(sha256sum "$tmp_inputs" | cut -c1-16)
OUT=$CACHE/kernel/$key

print_entry() {
	kv release "$(cat "$OUT/release")"
	kv dir "$OUT"
	kv vmlinuz "$OUT/vmlinuz"
	kv vmlinux "$OUT/vmlinux"
	kv config "$OUT/config"
}

# build DIR: unpacks, configures, checks the fragment and builds in DIR (made empty first).
build() {
	rm -rf "$1" && mkdir -p "$1"
	say "unpacking $TARBALL into $1"
	tar -xJf "$TARBALL" -C "$1" --strip-components=1 || die "cannot unpack $TARBALL"
	(
		cd "$1"
		KCONFIG_ALLCONFIG=$FRAGMENT make -s allnoconfig >/dev/null 2>"$1.log" &&
			make -s olddefconfig >/dev/null 2>>"$1.log"
	) || die "configuring failed (see $1.log)"
	# Every fragment line must hold after olddefconfig.
	bad=$(grep -E '^(CONFIG_|# CONFIG_)' "$FRAGMENT" | while IFS= read -r l; do
		case $l in
		"# CONFIG_"*)
			s=${l#\# }
			s=${s%% *}
			! grep -q "^$s=" "$1/.config" || printf ' %s' "$s=n"
			;;
		*) grep -qxF "$l" "$1/.config" || printf ' %s' "$l" ;;
		esac
	done)
	[ -z "$bad" ] || die "the configuration does not hold:$bad (a missing dependency or a renamed symbol in $FRAGMENT)"
	say "building with $JOBS jobs (about 20 minutes on two cores; log: $1.log)"
	(
		cd "$1"
		export KBUILD_BUILD_TIMESTAMP="@$epoch" KBUILD_BUILD_USER=mote KBUILD_BUILD_HOST=mote \
			KBUILD_BUILD_VERSION=1 SOURCE_DATE_EPOCH=$epoch LOCALVERSION=
		make -j"$JOBS" bzImage >>"$1.log" 2>&1
	) || die "the kernel build failed (see $1.log)"
}

# sums DIR: the sha256 of the three outputs of a build tree, in the order they are installed.
sums() {
	(cd "$1" && sha256sum arch/x86/boot/bzImage vmlinux .config) |
		sed 's| arch/x86/boot/bzImage$| vmlinuz|; s| \.config$| config|'
}

[ -f "$OUT/.complete" ] || [ "$cached" = 0 ] || not_built
# One build of a key at a time (a second caller waits, then finds it complete).
exec 9>"$CACHE/kernel/.lock-$key"
flock 9 || die "cannot lock $CACHE/kernel/.lock-$key"
if [ ! -f "$OUT/.complete" ]; then
	B=$CACHE/kernel/.build-$key
	t0=$(date +%s)
	build "$B"
	t1=$(date +%s)
	rm -rf "$OUT.new" && mkdir -p "$OUT.new"
	cp "$B/arch/x86/boot/bzImage" "$OUT.new/vmlinuz"
	cp "$B/vmlinux" "$OUT.new/vmlinux"
	cp "$B/.config" "$OUT.new/config"
	(cd "$B" && make -s kernelrelease LOCALVERSION=) >"$OUT.new/release"
	cp "$tmp_inputs" "$OUT.new/inputs"
	sums "$B" >"$OUT.new/SHA256SUMS"
	echo $((t1 - t0)) >"$OUT.new/build-seconds"
	rm -rf "$OUT" && mv "$OUT.new" "$OUT" && touch "$OUT/.complete"
	rm -rf "$B" "$B.log"
	say "built $(cat "$OUT/release") in $((t1 - t0)) s: $OUT"
fi

if [ "$verify" = 1 ]; then
	V=$CACHE/kernel/.verify-$key-tree
	build "$V"
	if sums "$V" | cmp -s - "$OUT/SHA256SUMS"; then
		echo yes >"$OUT/reproducible"
		say "reproducible: a second build in another directory gave the same vmlinuz, vmlinux and config"
	else
		d=$(sums "$V" | diff "$OUT/SHA256SUMS" - | sed -n 's/^> [0-9a-f]*  //p' | tr '\n' ' ')
		echo "no: $d differ" >"$OUT/reproducible"
		rm -rf "$V" "$V.log"
		die "not reproducible: $d differ between two builds"
	fi
	rm -rf "$V" "$V.log"
fi
print_entry
