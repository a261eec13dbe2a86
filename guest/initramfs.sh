#!/bin/sh
# Builds a small initramfs for Debian's cloud kernel (see guest/kernel.sh):
#
#   /bin/busybox (static, from Debian's busybox-static) and /bin/sh -> busybox
#   /dev/console, /dev/null, /dev/ttyS0 (device nodes written straight into the archive:
#                 no root or mknod needed to build it)
#   /lib/modules/*.ko  the virtio drivers and their dependencies (from modules.dep), and
#   /lib/modules/load  the order to insmod them in (dependencies first)
#   /init        mounts /proc, /sys, /dev (devtmpfs), loads the modules, prints MOTE-INIT-OK,
#                then runs the kernel command line's mote.cmd=... or else a shell on the console
#
# The archive is cpio "newc", gzip-compressed (the Debian kernel has CONFIG_RD_GZIP=y), written by
# this script itself. It is cached by a hash of everything that goes into it:
#
#   ${MOTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mote}/initramfs/<hash>.cpio.gz
#
# Prints `initramfs=PATH` (and `release=...`) on stdout; progress goes to stderr.
# Usage: sh guest/initramfs.sh
# Environment:
#   MOTE_CACHE              cache root
#   MOTE_KERNEL_RELEASE     passed on to guest/kernel.sh
#   MOTE_INITRAMFS_MODULES  module names to include (default below; dependencies are added)
#   MOTE_BUSYBOX            a static busybox binary to use instead of Debian's busybox-static
#
# /init understands on the kernel command line:
#   mote.cmd=CMD            run CMD with busybox sh (quote it: mote.cmd="echo hi; poweroff"),
#                           then print `MOTE-CMD-EXIT <status>` and power off. `poweroff`, `reboot`
#                           and `halt` in CMD act at once (-f), without an init system.
#   mote.quiet=1            do not print the module loading lines
set -eu
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MOTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mote}
MODULES_WANTED=${MOTE_INITRAMFS_MODULES:-"virtio_mmio virtio_pci virtio_blk virtio_net virtio_console virtio_rng virtio_balloon vmw_vsock_virtio_transport"}

die() {
	echo "initramfs.sh: $*" >&2
	exit 1
}
say() { echo "initramfs.sh: $*" >&2; }

# --- the kernel --------------------------------------------------------------------------------
kout=$(sh "$HERE/kernel.sh") || die "guest/kernel.sh failed"
eval "$kout"
[ -n "${modules:-}" ] && [ -f "$modules/modules.dep" ] || die "no modules.dep from guest/kernel.sh"

# --- busybox ------------------------------------------------------------------------------------
# is_static FILE: an ELF executable with no program interpreter.
is_static() {
	[ -f "$1" ] && [ "$(od -An -c -N4 "$1" | tr -d ' ')" = 177ELF ] || return 1
	if command -v readelf >/dev/null 2>&1; then
		! readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
	else
		! grep -q 'ld-linux' "$1"
	fi
}

find_busybox() {
	if [ -n "${MOTE_BUSYBOX:-}" ]; then
		is_static "$MOTE_BUSYBOX" || die "MOTE_BUSYBOX=$MOTE_BUSYBOX is not a static ELF executable"
		echo "$MOTE_BUSYBOX"
		return
	fi
	for b in /bin/busybox /usr/bin/busybox; do
		is_static "$b" && { echo "$b"; return; }
	done
	# Not installed (or only the dynamic `busybox` package): install busybox-static as root,
	# unless the dynamic one is installed (the two conflict); otherwise unpack it into the cache.
	dyn=$(dpkg-query -W -f='${Status}' busybox 2>/dev/null || true)
	if [ "$(id -u)" = 0 ] && case $dyn in *"ok installed"*) false ;; *) true ;; esac; then
		say "installing busybox-static"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq --no-install-recommends busybox-static >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 &&
				apt-get install -y -qq --no-install-recommends busybox-static >/dev/null 2>&1; } ||
			die "could not install busybox-static"
		for b in /bin/busybox /usr/bin/busybox; do
			is_static "$b" && { echo "$b"; return; }
		done
		die "busybox-static is installed but no static busybox found"
	fi
	bb=$CACHE/busybox-static/bin/busybox
	if ! is_static "$bb"; then
		say "unpacking busybox-static into $CACHE/busybox-static"
		t=$(mktemp -d "$CACHE/.bb.XXXXXX")
		chmod 755 "$t"
		(cd "$t" && apt-get download -q busybox-static >/dev/null 2>&1) || { rm -rf "$t"; die "apt-get download busybox-static failed"; }
		dpkg -x "$t"/busybox-static_*.deb "$t/root"
		mkdir -p "$CACHE/busybox-static/bin"
		mv "$t/root/bin/busybox" "$bb.new" && mv "$bb.new" "$bb"
		rm -rf "$t"
	fi
	echo "$bb"
}
mkdir -p "$CACHE"
BUSYBOX=$(find_busybox)

# --- modules, dependencies first ----------------------------------------------------------------
# modules.dep lines: "kernel/a/b.ko: kernel/c.ko kernel/d.ko" with the full dependency closure,
# ordered so that each module comes before those it depends on; loading goes the other way.
dep_line() { # dep_line NAME: the modules.dep line of module NAME ('-' and '_' are the same)
	n=$(echo "$1" | tr - _)
	awk -v n="$n" -F: '{ b = $1; sub(/.*\//, "", b); sub(/\.ko(\.[a-z]+)?$/, "", b); gsub(/-/, "_", b)
		if (b == n) { print; exit } }' "$modules/modules.dep"
}
ORDER=""
add_module() { # add_module PATH: appends PATH to ORDER unless it is already there
	case " $ORDER " in *" $1 "*) ;; *) ORDER="$ORDER $1" ;; esac
}
for m in $MODULES_WANTED; do
	line=$(dep_line "$m")
	if [ -z "$line" ]; then
		if grep -q "/$(echo "$m" | tr - _)\.ko\$\|/$(echo "$m" | tr _ -)\.ko\$" "$modules/modules.builtin" 2>/dev/null; then
			say "$m is built into the kernel"
		else
			say "no module $m in $release (skipped)"
		fi
		continue
	fi
	self=${line%%:*}
	deps=${line#*:}
	# The closure in reverse (deepest first), then the module itself.
	rev=""
	for d in $deps; do rev="$d $rev"; done
	for d in $rev; do add_module "$d"; done
	add_module "$self"
done
[ -n "$ORDER" ] || die "none of the modules ($MODULES_WANTED) exists in $release"
# A dependency listed later in one closure can come before its own dependency from another:
# sort the list so that every module follows all of its dependencies.
sorted=""
remaining=$ORDER
while [ -n "$remaining" ]; do
	progress=0
	next=""
	for p in $remaining; do
		line=$(grep -m1 "^$p:" "$modules/modules.dep")
		ok=1
		for d in ${line#*:}; do
			case " $sorted " in *" $d "*) ;; *) ok=0 ;; esac
		done
		if [ $ok = 1 ]; then
			sorted="$sorted $p"
			progress=1
		else
			next="$next $p"
		fi
	done
	[ $progress = 1 ] || die "circular module dependencies among:$next"
	remaining=$next
done
ORDER=$sorted

# --- /init ------------------------------------------------------------------------------------
INIT=$(
	cat <<'EOF'
#!/bin/sh
# mote's initramfs init (guest/initramfs.sh)
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null ||
	/bin/busybox mount -t tmpfs -o mode=0755 tmpfs /dev
/bin/busybox --install -s
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

# mote.NAME=VALUE from /proc/cmdline (VALUE may be "double quoted", holding spaces).
param() {
	sed -n "s/^\(.* \)\{0,1\}mote\.$1=\(\"[^\"]*\"\|[^ ]*\).*/\2/p" /proc/cmdline | sed 's/^"\(.*\)"$/\1/'
}

quiet=$(param quiet)
# A kernel without module support (mote's own, guest/build-kernel.sh) has its drivers built in.
if [ -e /proc/modules ]; then
	while read -r m; do
		[ -n "$m" ] || continue
		if insmod "/lib/modules/$m" 2>/tmp/insmod.err; then
			[ "$quiet" = 1 ] || echo "mote-init: loaded ${m%.ko}"
		else
			echo "mote-init: insmod $m failed: $(cat /tmp/insmod.err)"
		fi
	done </lib/modules/load
fi

echo MOTE-INIT-OK

poweroff() { sync; /bin/busybox poweroff -f; }
reboot() { sync; /bin/busybox reboot -f; }
halt() { sync; /bin/busybox halt -f; }

cmd=$(param cmd)
if [ -n "$cmd" ]; then
	eval "$cmd"
	echo "MOTE-CMD-EXIT $?"
	poweroff
fi
# No command: a shell on the console, again whenever it exits (init must not exit).
while :; do
	if [ -e /bin/cttyhack ]; then
		setsid cttyhack sh -l
	else
		sh -l
	fi
	echo "mote-init: shell exited; starting another (run poweroff to stop)"
	sleep 1
done
EOF
)

# --- cache key --------------------------------------------------------------------------------
sha() { sha256sum | cut -c1-64; }
key=$({
	echo "format 1"
	echo "release $release"
	cat "$HERE/initramfs.sh" "$HERE/cpio.sh"
	printf '%s\n' "$INIT"
	echo "busybox $(sha <"$BUSYBOX")"
	for p in $ORDER; do echo "module $p $(sha <"$modules/$p")"; done
} | sha | cut -c1-16)
OUTDIR=$CACHE/initramfs
OUT=$OUTDIR/$release-$key.cpio.gz
if [ -s "$OUT" ]; then
	echo "release=$release"
	echo "initramfs=$OUT"
	exit 0
fi

# --- the cpio "newc" writer (guest/cpio.sh) ------------------------------------------------------
. "$HERE/cpio.sh"

say "building initramfs for $release with busybox $BUSYBOX and modules:$(for p in $ORDER; do printf ' %s' "$(basename "$p" .ko)"; done)"
mkdir -p "$OUTDIR"
TMPF=$(mktemp "$OUTDIR/.tmp.XXXXXX")
trap 'rm -f "$TMPF"' EXIT
trap 'exit 1' INT TERM HUP
LOAD=$(for p in $ORDER; do basename "$p"; done)
{
	for d in bin dev lib lib/modules proc sys tmp run sbin usr usr/bin usr/sbin root; do c_dir "$d"; done
	c_chr dev/console 0600 5 1
	c_chr dev/null 0666 1 3
	c_chr dev/ttyS0 0660 4 64
	c_file bin/busybox 0755 "$BUSYBOX"
	c_link bin/sh busybox
	c_text init 0755 "$INIT"
	for p in $ORDER; do c_file "lib/modules/$(basename "$p")" 0644 "$modules/$p"; done
	c_text lib/modules/load 0644 "$LOAD"
	c_trailer
} | gzip -n -9 >"$TMPF"
chmod 0644 "$TMPF"
mv "$TMPF" "$OUT"
trap - EXIT
echo "release=$release"
echo "initramfs=$OUT"
